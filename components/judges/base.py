"""One chat interface for every judge backend, chosen by `params.rubrics.judge.kind` (components.judges.backends).

A `ChatClient` answers a batch of conversations (lists of `{role, content}` messages) with one text
each, in input order, and reads a verdict (a 1-10 score, an A/B winner) from its token probabilities.
The dispatcher (`backends.make_chat_client`) wraps every LLM backend in the content-addressed cache, so callers
never pay twice for the same question; `offline` means no LLM, hence no client.
"""

from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable

from components.judges.expected_score import Verdict

Conversation = list[dict]


class JudgeError(RuntimeError):
    """A judge backend gave up: the message names the endpoint or model, what happened and what to do."""


def report_progress(client: str, before: int, done: int, total: int) -> None:
    """A line on stderr each time a large batch passes a tenth (stdout stays clean for commands printing JSON)."""
    step = max(1, total // 10)
    if total >= 20 and (done // step > before // step or done == total):
        print(f"[judge {client}] {done}/{total} replies", file=sys.stderr, flush=True)


@runtime_checkable
class ChatClient(Protocol):
    backend: str  # "openai" | "hf" (the cache wrapper keeps its inner client's)
    model: str

    def chat(self, conversations: list[Conversation], *, max_tokens: int, temperature: float = 0.0) -> list[str]:
        """One reply per conversation, in input order."""
        ...

    def verdicts(self, conversations: list[Conversation], verdict: Verdict) -> list[float | None]:
        """The verdict's value in [0, 1] per conversation, None where the judge put no mass on its labels."""
        ...
