"""Strict parsing of rubric-generator and judge output (algorithms.md 1.1, 1.7).

A rubric item is one numbered line `N. The response ... [Hard Rule|Principle]`. Anything else the
generator writes is dropped and counted by reason, never accepted silently: a step summary shows how
much of the generator's output was unusable.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

ITEM = re.compile(r"^\s*\d+[.)]\s*(The response\b.*?)\s*\[(Hard Rule|Principle)\]\s*\.?\s*$")
NUMBERED = re.compile(r"^\s*\d+[.)]?\s+\S")  # a numbered line, well formed or not
PROPER_NOUN = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
RESPONSE_INDEX = re.compile(r"\b(response|reply|answer)\s+(a|b|1|2)\b|\b(chosen|rejected)\b", re.I)
MAX_WORDS = 50
WINNER = re.compile(r"winner\s*[:\-]\s*\**\s*(?:response\s*)?([AB])\b", re.I)
SCORE = re.compile(r"score\s*[:=]\s*\**\s*(10|[1-9])(?:\s*/\s*10)?\b", re.I)


@dataclass
class ParsedRubric:
    hard_rules: list[str] = field(default_factory=list)
    principles: list[str] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    @property
    def empty(self) -> bool:
        return not self.hard_rules and not self.principles


def parse_rubric(text: str, max_items: int | None = None) -> ParsedRubric:
    """Items that follow the format; numbered lines that do not, and principles that break the abstraction
    rule (digits, names, response indices), are dropped with a reason. Unnumbered lines are prose, not items."""
    out = ParsedRubric()
    seen: set[str] = set()
    for line in (text or "").splitlines():
        if not NUMBERED.match(line):
            continue
        match = ITEM.match(line)
        if not match:
            out.dropped["malformed"] += 1
            continue
        sentence, kind = match.group(1).strip(), match.group(2)
        reason = _invalid(sentence, kind)
        key = re.sub(r"\W+", " ", sentence.lower()).strip()
        if reason is None and key in seen:
            reason = "duplicate"
        if reason is None and max_items is not None and len(out.hard_rules) + len(out.principles) >= max_items:
            reason = "over_limit"
        if reason:
            out.dropped[reason] += 1
            continue
        seen.add(key)
        (out.hard_rules if kind == "Hard Rule" else out.principles).append(sentence)
    return out


def _invalid(sentence: str, kind: str) -> str | None:
    if len(sentence.split()) > MAX_WORDS:
        return "too_long"
    if len(sentence.split()) < 4:
        return "too_short"
    if RESPONSE_INDEX.search(sentence):
        return "mentions_example"
    if kind == "Principle" and (re.search(r"\d", sentence) or PROPER_NOUN.search(sentence)):
        return "not_abstract"
    return None


def format_rubric(hard_rules: list[str], principles: list[str]) -> str:
    """The numbered-list form judges read (and `parse_rubric` reads back)."""
    items = [f"{h} [Hard Rule]" for h in hard_rules] + [f"{p} [Principle]" for p in principles]
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def parse_winner(text: str) -> str | None:
    """'A' or 'B' from the last `Winner:` line; None when the judge named no winner (counted by callers)."""
    found = WINNER.findall(text or "")
    return found[-1].upper() if found else None


def parse_score(text: str) -> float | None:
    """`Score: N` (1..10) -> (N - 1) / 9 in [0, 1]; None when absent."""
    found = SCORE.findall(text or "")
    return (int(found[-1]) - 1) / 9 if found else None
