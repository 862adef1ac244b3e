"""The seeker's emotion score (RLVER, algorithms.md 2.2): 0-100 from a fixed start, moved each turn by the change the
seeker reports on a 1-9 scale, read as an expected value over the label tokens (as the rubric judges read a
score: components.judges.expected_score), so a small model's preference counts even when its likeliest label
is the same for every reply.

    value  = (E[k] - 1) / 8 over k in 1..9 after "Change:"         (0.5: no change)
    delta  = (2 * value - 1) * max_change
    emo   <- clip(emo + delta, 0, 100)

RLVER's bands pick the seeker's style: S >= 100 (says goodbye, satisfied), A >= 70, B >= 40, C >= 10, F < 10
(gives up). Its conversations end on a goodbye, on emo <= 0, or at the turn limit; here emo >= 100 ends one too.
"""

from __future__ import annotations

import inspect
import re
import sys

from components.judges.expected_score import Verdict, normalised
from paretoflow.hashing import text_sha

LABELS = tuple(str(k) for k in range(1, 10))
NO_CHANGE = 0.5
_SOURCE = text_sha(inspect.getsource(sys.modules[__name__]), length=12)
_WRITTEN = re.compile(r"change\s*[:=]?\s*\**\s*([1-9])\b", re.I)


def scaled(probabilities: dict[str, float]) -> float | None:
    """(E[k] - 1) / 8 over the labels' renormalised probabilities, read as the judges read a score; None without
    any mass on them."""
    return normalised(probabilities, LABELS)


def parse_change(text: str) -> float | None:
    """The same value from a written "Change: N" (endpoints without log-probabilities); the last one counts."""
    found = _WRITTEN.findall(text or "")
    return (int(found[-1]) - 1) / 8.0 if found else None


CHANGE = Verdict(
    f"emotion-change-{_SOURCE}",
    "Change:",
    LABELS,
    scaled,
    parse_change,
    re.compile(r"change\s*[:=]?\s*\**\s*$", re.I),
    16,
)

BANDS = (  # lower bound, name, how the seeker writes (RLVER's replier bands)
    (100.0, "S", "You feel much better now: thank the Supporter warmly and say goodbye."),
    (70.0, "A", "You feel better and more open; you can say what helped."),
    (40.0, "B", "You are still troubled but willing to keep talking."),
    (10.0, "C", "You feel bad and a little guarded; your answers are short."),
    (float("-inf"), "F", "You feel this chat is not helping at all: say you are giving up and say goodbye."),
)


def band(emotion: float) -> tuple[str, str]:
    """(band letter, style instruction) for an emotion score."""
    for low, name, style in BANDS:
        if emotion >= low:
            return name, style
    raise AssertionError("unreachable: the last band has no lower bound")


def updated(emotion: float, value: float, max_change: float) -> tuple[float, float]:
    """(new emotion, delta) after a change read as `value` in [0, 1]."""
    delta = (2.0 * value - 1.0) * max_change
    return float(min(100.0, max(0.0, emotion + delta))), float(delta)
