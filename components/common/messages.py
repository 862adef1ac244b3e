"""Chat messages as TRL hands them to reward functions: a prompt as messages, a completion as its text."""

from __future__ import annotations


def reply_text(completion) -> str:
    """The assistant's text from a TRL completion (a string or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role", "assistant") == "assistant")


def as_messages(prompt) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def latest_turns(prompt: list[dict], tokenizer, max_tokens: int) -> list[dict] | None:
    """The dialogue's latest turns that fit `max_tokens` once templated, starting with the seeker; None when
    even the last seeker turn alone does not fit."""
    for start in range(len(prompt)):
        if prompt[start]["role"] != "user":
            continue
        tail = prompt[start:]
        # return_dict: a BatchEncoding is no dict, and its len() counts its keys, not the tokens
        ids = tokenizer.apply_chat_template(tail, add_generation_prompt=True, tokenize=True, return_dict=True)
        if len(ids["input_ids"]) <= max_tokens:
            return tail
    return None
