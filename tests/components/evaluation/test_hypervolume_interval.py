"""The hypervolume's bootstrap interval resamples prompts jointly for every policy (and the reference policy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.common import pareto
from components.evaluation.hypervolume_interval import hypervolume_interval

OBJECTIVES = ["a", "b"]


def _scores(per_policy: dict[str, list[tuple[float, float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"policy": policy, "prompt_id": f"p{i:02d}", "a": a, "b": b}
            for policy, rows in per_policy.items()
            for i, (a, b) in enumerate(rows)
        ]
    )


def test_interval_brackets_the_hypervolume_and_narrows_with_more_prompts():
    rng = np.random.default_rng(1)
    zero = np.zeros(2)

    def interval(n: int) -> list[float]:
        rows = {p: [tuple(rng.uniform(lo, lo + 0.4, 2)) for _ in range(n)] for p, lo in (("x", 0.2), ("y", 0.4))}
        scores = _scores(rows)
        means = scores.groupby("policy")[OBJECTIVES].mean().to_numpy()
        low, high = hypervolume_interval(scores, ["x", "y"], OBJECTIVES, zero, samples=400, seed=0)
        assert low <= pareto.hypervolume(means, zero) <= high
        return [low, high]

    small, large = interval(10), interval(400)
    assert large[1] - large[0] < (small[1] - small[0]) / 3


def test_pairing_keeps_the_interval_at_zero_width_when_every_prompt_gives_the_same_front():
    rows = {"x": [(0.5, 0.5)] * 12, "y": [(0.8, 0.2)] * 12}
    assert hypervolume_interval(_scores(rows), ["x", "y"], OBJECTIVES, np.zeros(2), 200) == pytest.approx([0.31] * 2)


def test_a_reference_policy_is_resampled_with_the_policies():
    # the policy beats the start policy by exactly 0.1 on every prompt: resampled together, the gain never varies
    start = [(v, v) for v in np.linspace(0.1, 0.6, 20)]
    rows = {"start": start, "x": [(a + 0.1, b + 0.1) for a, b in start]}
    paired = hypervolume_interval(_scores(rows), ["x"], OBJECTIVES, np.zeros(2), 200, reference_policy="start")
    assert paired == pytest.approx([0.01, 0.01])
    fixed = hypervolume_interval(_scores(rows), ["x"], OBJECTIVES, np.full(2, 0.35), 200)
    assert fixed[1] - fixed[0] > 0.01
