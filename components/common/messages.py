"""Chat messages as TRL hands them to reward functions: a prompt as messages, a completion as its text."""

from __future__ import annotations


def reply_text(completion) -> str:
    """The assistant's text from a TRL completion (a string or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role", "assistant") == "assistant")


def as_messages(prompt) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
