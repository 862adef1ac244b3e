"""The one bootstrap interval and the one sigmoid every stage uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from components.common.stats import bootstrap_ci, sigmoid


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(size=20), rng.uniform(size=2000)
    low, high = bootstrap_ci(small, samples=1000, seed=1)
    assert low < small.mean() < high
    narrow_low, narrow_high = bootstrap_ci(large, samples=1000, seed=1)
    assert narrow_high - narrow_low < (high - low) / 4
    assert bootstrap_ci(small, 1000, 1) == [low, high], "same seed, same interval"


def test_bootstrap_is_scipys_percentile_bootstrap_with_a_seeded_generator():
    credit = (np.random.default_rng(3).random(40) < 0.7).astype(float)
    reference = stats.bootstrap(
        (credit,), np.mean, n_resamples=500, confidence_level=0.9, method="percentile", rng=np.random.default_rng(7)
    ).confidence_interval
    assert bootstrap_ci(credit, samples=500, seed=7, level=0.9) == pytest.approx([reference.low, reference.high])


def test_one_value_or_a_constant_vector_gives_a_zero_width_interval():
    assert bootstrap_ci([0.3]) == [0.3, 0.3]
    assert bootstrap_ci(np.ones(50)) == [1.0, 1.0]


def test_sigmoid_in_float64():
    values = sigmoid([0.0, 2.0, -40.0])
    assert values.dtype == np.float64
    assert values.tolist() == pytest.approx([0.5, 1 / (1 + np.exp(-2.0)), 0.0])


def test_grouped_bootstrap_resamples_whole_groups():
    """Twenty copies of each of ten conversations' outcomes are ten draws, not two hundred."""
    outcomes = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=float)
    values, groups = np.repeat(outcomes, 20), np.repeat(np.arange(10), 20)
    grouped = bootstrap_ci(values, 1000, 3, groups=groups)
    assert grouped == bootstrap_ci(outcomes, 1000, 3)  # equal groups: the interval of the group means
    pairs_low, pairs_high = bootstrap_ci(values, 1000, 3)
    assert grouped[1] - grouped[0] > 2 * (pairs_high - pairs_low)
