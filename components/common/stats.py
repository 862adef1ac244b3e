"""Numbers several stages compute and must compute alike: the logistic squash of a raw reward, and the
bootstrap interval of a mean (reward-model accuracy, scorer agreement, held-out policy scores)."""

from __future__ import annotations

import numpy as np


def sigmoid(x) -> np.ndarray:
    """Raw reward (or margin) -> (0, 1), in float64."""
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def bootstrap_ci(values, samples: int = 1000, seed: int = 0, level: float = 0.95, groups=None) -> list[float]:
    """Percentile bootstrap interval of the mean (resampling with replacement, numpy's generator seeded with
    `seed`); fewer than two values or a constant vector give a zero-width interval. With `groups` (one label per
    value) whole groups are resampled: values of one conversation or question are not independent draws."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return [float(values.mean())] * 2
    rng = np.random.default_rng(seed)
    if groups is None:
        means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    else:
        _, group = np.unique(np.asarray(groups), return_inverse=True)
        sums, counts = np.bincount(group, weights=values), np.bincount(group)
        picks = rng.integers(0, len(counts), size=(samples, len(counts)))
        means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return [float(low), float(high)]
