"""Preference-label-consistency filter (algorithms.md 1.4): keep a rubric only when, judging with it, the
judge prefers the human-chosen reply.

LLM judges compare the pair in both orders (chosen first, then rejected first), which cancels position bias:
the preference for chosen is the mean over the two orders of the judge's probability that chosen is better
(read from the verdict tokens' probabilities, or 1/0 from a parsed verdict), and a rubric is kept only when
it is above 1/2 (with parsed verdicts: both orders pick chosen). The offline judge scores each reply on its
own, so order cannot matter.
"""

from __future__ import annotations

from components.rubrics.judging import judge_pairwise


def pairwise_preference(client, prompts: list, chosen: list[str], rejected: list[str], rubrics: list[dict]):
    """(preference for chosen in [0, 1] per pair, verdicts the judge left empty). Each order gives the
    probability that chosen is better (P(first) with chosen first, 1 - P(first) with it second); the preference
    is their mean. An order without a verdict gives chosen nothing, so it cannot be kept on one order alone."""
    forward = judge_pairwise(client, prompts, chosen, rejected, rubrics)
    backward = judge_pairwise(client, prompts, rejected, chosen, rubrics)
    unparsed = sum(v is None for v in forward) + sum(v is None for v in backward)
    preference = [((f or 0.0) + (0.0 if b is None else 1.0 - b)) / 2 for f, b in zip(forward, backward)]
    return preference, unparsed


def score_preference(chosen_scores: list[float], rejected_scores: list[float]) -> list[float]:
    """Pointwise scores -> preference for chosen: 1 above, 0.5 tied, 0 below."""
    return [1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen_scores, rejected_scores)]


def consistency(preference: float) -> str:
    return "consistent" if preference > 0.5 else "inconsistent"


def kept_fraction(outcomes: list[str]) -> float:
    judged = [o for o in outcomes if o != "no_pair"]
    return sum(o == "consistent" for o in judged) / len(judged) if judged else 0.0
