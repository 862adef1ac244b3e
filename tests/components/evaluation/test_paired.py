"""Paired intervals over held-out prompts and the number of prompts an interval as narrow as a tolerance needs."""

from __future__ import annotations

import numpy as np
import pytest

from components.evaluation.hypervolume_interval import hypervolume_difference
from components.evaluation.paired import interval_width, mean_difference, precision, precision_line, prompts_needed


def test_pairing_cancels_the_prompts_difficulty():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 0.2, 80)  # most of the spread is the prompt's, shared by both policies
    a = difficulty + 0.03 + rng.normal(0, 0.01, 80)
    b = difficulty + rng.normal(0, 0.01, 80)
    paired = mean_difference(a, b, seed=1)
    low, high = paired["ci95"]
    assert 0 < low < paired["mean"] < high and high - low < 0.01
    unpaired_width = interval_width(np.hypot(a.std(ddof=1), b.std(ddof=1)), 80)
    assert unpaired_width > 10 * (high - low)  # the two policies' own intervals would overlap
    assert mean_difference([0.1, None, 0.3], [0.0, 0.2, 0.1])["prompts"] == 2  # a prompt unscored on a side is left out
    with pytest.raises(ValueError, match="at least two prompts"):
        mean_difference([0.1], [0.0])


def test_prompts_needed_makes_the_interval_narrower_than_the_tolerance():
    assert prompts_needed(0.1, 0.02) == 385  # (2 * 1.96 * 0.1 / 0.02) ** 2 = 384.1
    for sd, width in [(0.1, 0.02), (0.3, 0.05), (0.02, 0.02)]:
        n = prompts_needed(sd, width)
        assert interval_width(sd, n) < width <= interval_width(sd, n - 1) or n == 2
    rng = np.random.default_rng(3)  # and the bootstrap agrees with the formula it came from
    scores = rng.normal(0.5, 0.1, prompts_needed(0.1, 0.02))
    low, high = mean_difference(scores, np.zeros_like(scores), seed=0)["ci95"]
    assert high - low < 0.02 * 1.05
    with pytest.raises(ValueError, match="positive width"):
        prompts_needed(0.1, 0)


def test_the_line_says_what_is_needed_and_what_the_run_reaches():
    rng = np.random.default_rng(2)
    scores = {p: {"a": list(rng.normal(0, 0.2, 12)), "b": list(rng.normal(0, 0.01, 12))} for p in ("x", "y")}
    found = precision(scores, ["a", "b"])
    assert found["a"]["prompts"] == 12 and found["a"]["sd"] > found["b"]["sd"]
    line = precision_line(found, 0.02)
    assert f"need {prompts_needed(found['a']['sd'], 0.02)} held-out prompts (a's spread" in line
    assert "this run has 12 and does not reach it" in line
    assert "and reaches it" in precision_line({"b": found["b"]}, 0.02)


def test_hypervolume_difference_is_paired_and_brackets_the_observed_one():
    rng = np.random.default_rng(4)
    difficulty = rng.normal(0, 0.1, (60, 1))
    base = difficulty + rng.normal(0, 0.01, (60, 2))
    better = difficulty + 0.2 + rng.normal(0, 0.01, (1, 60, 2))
    worse = difficulty + 0.1 + rng.normal(0, 0.01, (1, 60, 2))
    found = hypervolume_difference(better, worse, base, samples=500, seed=0)
    low, high = found["ci95"]
    assert found["difference"] == pytest.approx(found["candidate"] - found["champion"])
    assert 0 < low <= found["difference"] <= high
    same = hypervolume_difference(worse, worse, base, samples=200, seed=0)
    assert same["difference"] == 0 and same["ci95"] == [0.0, 0.0]
