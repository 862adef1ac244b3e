"""Brevity counted in sentences or characters: an independent check on the word-count concision reward.

A policy can satisfy a word budget without being brief (few but very long tokens, run-on text without
spaces); counting sentences or characters measures the same intent another way, so gains on the training
reward that these do not confirm show up as a gap in evaluation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from components.common.messages import reply_text

if TYPE_CHECKING:
    from paretoflow.schema import Params

SENTENCE_END = re.compile(r"[.!?。！？]+(?:\s|$)")
UNITS = ("sentences", "chars")


def parse(spec: str) -> tuple[str, int]:
    """`sentences=2` or `chars=80` -> (unit, budget)."""
    unit, sep, budget = spec.partition("=")
    if unit not in UNITS or not sep or not budget.strip().isdigit() or int(budget) < 1:
        raise ValueError(f"brevity scorer {spec!r} must look like sentences=N or chars=N with N >= 1")
    return unit, int(budget)


def sentences(text: str) -> int:
    """Sentence count: terminal punctuation runs, plus a trailing unterminated fragment."""
    text = text.strip()
    if not text:
        return 0
    ends = SENTENCE_END.findall(text)
    return len(ends) + (0 if SENTENCE_END.search(text[-1] + " ") else 1)


class Brevity:
    """`brevity:sentences=N|chars=N`: 1 within the budget, budget/size beyond it, 0 for an empty reply."""

    def __init__(self, spec: str):
        unit, self.budget = parse(spec)
        self.size = sentences if unit == "sentences" else (lambda t: len(t.strip()))

    def __call__(self, prompts, replies, **kwargs) -> list[float]:
        sizes = [self.size(reply_text(r)) for r in replies]
        return [0.0 if n == 0 else min(1.0, self.budget / n) for n in sizes]

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        return self(prompts, replies)


def from_spec(argument: str, params: Params) -> Brevity:
    return Brevity(argument)
