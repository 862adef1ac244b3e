"""Verdicts from token probabilities instead of parsed text (G-Eval): what the judge would write after an answer
prefix, read as a distribution over the verdict's labels.

A small judge rarely writes a parsable verdict, and when it does, greedy decoding collapses every reply onto
the same mode (the cpu profile's Gemma 3 270M tied on every pair). The probabilities of the label tokens after
the answer prefix keep the judge's preference even when its most likely token is the same for both replies.
Two verdicts:
- SCORE (pointwise): sum_k p(k) * k over "1".."10" after "Score:", normalised like a parsed "Score: N":
  (E - 1) / 9 in [0, 1];
- WINNER (pairwise): P("A") / (P("A") + P("B")) after "Winner: Response", the probability that the first
  response is the better one.
Each verdict's `method` names it and this module's source; it goes into every cache key and judge version, so
values from text parsing, or from an older reading, are never mixed with these.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

from components.rubrics.parsing import parse_score, parse_winner
from paretoflow.hashing import text_sha

_SOURCE = text_sha(inspect.getsource(sys.modules[__name__]), length=12)
LABELS = tuple(str(k) for k in range(1, 11))


def normalised(probabilities: dict[str, float], labels: tuple[str, ...] = LABELS) -> float | None:
    """(E[k] - first) / (last - first) over the numeric labels' probabilities (renormalised to sum 1), so in [0, 1]:
    (E - 1) / 9 for the scores 1..10; None without any mass. Other scales (the seeker's 1..9) pass their labels."""
    mass = sum(probabilities.get(label, 0.0) for label in labels)
    if mass <= 0.0:
        return None
    expected = sum(probabilities.get(label, 0.0) * int(label) for label in labels) / mass
    low, high = int(labels[0]), int(labels[-1])
    return (expected - low) / (high - low)


def first_better(probabilities: dict[str, float]) -> float | None:
    """P("A") renormalised over "A" and "B"; None without any mass on either."""
    a, b = probabilities.get("A", 0.0), probabilities.get("B", 0.0)
    return a / (a + b) if a + b > 0.0 else None


def _winner_text(text: str) -> float | None:
    return {"A": 1.0, "B": 0.0}.get(parse_winner(text))


@dataclass(frozen=True)
class Verdict:
    name: str
    prefix: str  # what the judge template asks the judge to write before the label
    labels: tuple[str, ...]
    reduce: Callable[[dict[str, float]], float | None]  # label probabilities -> value in [0, 1]
    parse: Callable[[str], float | None]  # the same value from a written verdict (servers without logprobs)
    before: re.Pattern  # text the generated verdict has right before its label
    max_tokens: int  # room for the written verdict

    @property
    def method(self) -> str:
        return f"{self.name}/{_SOURCE}"


SCORE = Verdict(
    "expected-score", "Score:", LABELS, normalised, parse_score, re.compile(r"score\s*[:=]?\s*\**\s*$", re.I), 8
)
WINNER = Verdict(
    "winner-probability",
    "Winner: Response",
    ("A", "B"),
    first_better,
    _winner_text,
    re.compile(r"winner\s*[:\-]?\s*\**\s*(?:response\s*)?$", re.I),
    256,  # a written verdict may reason before its last line
)
METHOD = SCORE.method  # the pointwise scoring method, named by clients as `scoring`


def split_ten(probabilities: dict[str, float], p_zero_after_one: float) -> dict[str, float]:
    """Tokenizers that write "10" as "1" then "0" put both scores' mass on "1": split it by p("0" | "1")."""
    out = dict(probabilities)
    one = out.get("1", 0.0)
    out["1"] = one * (1.0 - p_zero_after_one)
    out["10"] = out.get("10", 0.0) + one * p_zero_after_one
    return out


def from_openai_logprobs(content: list[dict] | None, verdict: Verdict = SCORE) -> float | None:
    """The verdict's value from an OpenAI `choices[0].logprobs.content` list, read at the first token that
    starts a label right after the verdict's prefix in the generated text; None when there is no such token
    or no label among its `top_logprobs` (the caller then parses the text)."""
    text = ""
    starts = {label[0] for label in verdict.labels}
    for i, entry in enumerate(content or []):
        token = entry["token"]
        space = token[: len(token) - len(token.lstrip())]
        if token.strip()[:1] in starts and verdict.before.search(text + space):
            probabilities = _label_probabilities(entry, verdict.labels)
            if "10" in verdict.labels and token.strip() == "1" and i + 1 < len(content):
                probabilities = split_ten(probabilities, _label_probabilities(content[i + 1], ("0",)).get("0", 0.0))
            return verdict.reduce(probabilities)
        text += token
    return None


def _label_probabilities(entry: dict, labels: tuple[str, ...]) -> dict[str, float]:
    """Probabilities of the labels among a position's alternatives (the chosen token alone if none listed)."""
    out: dict[str, float] = {}
    for alt in entry.get("top_logprobs") or [entry]:
        label = alt["token"].strip()
        if label in labels and alt.get("logprob") is not None:
            out[label] = out.get(label, 0.0) + math.exp(alt["logprob"])
    return out
