"""Expected judge score from token probabilities (G-Eval): sum_k p(k) * k over the labels "1".."10".

A small judge rarely writes a parsable verdict, and when it does, greedy decoding collapses every reply onto
the same mode (the cpu profile's Gemma 3 270M tied on every pair). The probabilities of the score tokens after
the answer prefix keep the judge's preference even when its most likely token is the same for both replies.
The result is normalised like a parsed "Score: N": (E - 1) / 9 in [0, 1]. METHOD names this scoring in every
cache key and rubric-judge version, so scores from text parsing are never mixed with these.
"""

from __future__ import annotations

import inspect
import math
import re
import sys

from paretoflow.hashing import text_sha

ANSWER_PREFIX = "Score:"  # what the pointwise template asks the judge to write before N
LABELS = tuple(str(k) for k in range(1, 11))
METHOD = "expected-score/" + text_sha(inspect.getsource(sys.modules[__name__]), length=12)
_BEFORE_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*$", re.I)


def normalised(probabilities: dict[str, float]) -> float | None:
    """(E[k] - 1) / 9 over the labels' probabilities (renormalised to sum 1); None without any mass."""
    mass = sum(probabilities.get(label, 0.0) for label in LABELS)
    if mass <= 0.0:
        return None
    expected = sum(probabilities.get(label, 0.0) * int(label) for label in LABELS) / mass
    return (expected - 1.0) / 9.0


def split_ten(probabilities: dict[str, float], p_zero_after_one: float) -> dict[str, float]:
    """Tokenizers that write "10" as "1" then "0" put both scores' mass on "1": split it by p("0" | "1")."""
    out = dict(probabilities)
    one = out.get("1", 0.0)
    out["1"] = one * (1.0 - p_zero_after_one)
    out["10"] = out.get("10", 0.0) + one * p_zero_after_one
    return out


def from_openai_logprobs(content: list[dict] | None) -> float | None:
    """The expected score from an OpenAI `choices[0].logprobs.content` list, read at the first token that
    starts a number right after "Score:" in the generated text; None when there is no such token or no
    label among its `top_logprobs` (the caller then parses the text)."""
    text = ""
    for i, entry in enumerate(content or []):
        token = entry["token"]
        space = token[: len(token) - len(token.lstrip())]
        if token.strip()[:1].isdigit() and _BEFORE_SCORE.search(text + space):
            probabilities = _label_probabilities(entry)
            if token.strip() == "1" and i + 1 < len(content):
                probabilities = split_ten(probabilities, _label_probabilities(content[i + 1], ("0",)).get("0", 0.0))
            return normalised(probabilities)
        text += token
    return None


def _label_probabilities(entry: dict, labels: tuple[str, ...] = LABELS) -> dict[str, float]:
    """Probabilities of the labels among a position's alternatives (the chosen token alone if none listed)."""
    out: dict[str, float] = {}
    for alt in entry.get("top_logprobs") or [entry]:
        label = alt["token"].strip()
        if label in labels and alt.get("logprob") is not None:
            out[label] = out.get(label, 0.0) + math.exp(alt["logprob"])
    return out
