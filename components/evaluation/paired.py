"""Intervals, not point comparisons (issue 14.4): paired bootstrap differences over the held-out prompts, and how
many prompts an interval as narrow as the promotion tolerance needs.

Two policies scored on the same prompts differ by less noise than two independent samples suggest: the prompt's
difficulty cancels in the per-prompt difference. So one resample of prompts is applied to both sides, and the
interval is the percentile interval of the resampled mean differences. Scores are in normalised units (start policy
0, scale 1: pareto.Normalisation), the units `promote.tolerance` is stated in.

How many prompts: a 95% interval of a mean over n prompts is about 2 * 1.96 * sd / sqrt(n) wide, sd the per-prompt
standard deviation; it is narrower than a width w from n = (2 * 1.96 * sd / w)^2 prompts on.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

LEVEL = 0.95


def z_value(level: float = LEVEL) -> float:
    return NormalDist().inv_cdf((1 + level) / 2)


def draws(prompts: int, samples: int, seed: int) -> np.ndarray:
    """`samples` resamples (with replacement) of prompt indices, the same for every quantity compared."""
    return np.random.default_rng(seed).integers(0, prompts, size=(samples, prompts))


def mean_difference(a, b, samples: int = 2000, seed: int = 0, level: float = LEVEL) -> dict:
    """Mean of a - b over the prompts both answered (same order), with its paired percentile interval, and the
    per-prompt standard deviation of the difference (what `prompts_needed` reads)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    diff = diff[~np.isnan(diff)]
    if len(diff) < 2:
        raise ValueError(f"a paired interval needs at least two prompts scored on both sides, got {len(diff)}")
    means = diff[draws(len(diff), samples, seed)].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {
        "mean": float(diff.mean()),
        "ci95": [float(low), float(high)],
        "sd": float(diff.std(ddof=1)),
        "prompts": len(diff),
    }


def prompts_needed(sd: float, width: float, level: float = LEVEL) -> int:
    """The fewest prompts whose 95% interval of a mean (per-prompt spread `sd`) is narrower than `width`."""
    if width <= 0:
        raise ValueError(f"an interval narrower than {width} needs infinitely many prompts; give a positive width")
    return max(2, math.floor((2 * z_value(level) * sd / width) ** 2) + 1)


def interval_width(sd: float, prompts: int, level: float = LEVEL) -> float:
    """The width a 95% interval of a mean over `prompts` prompts reaches at per-prompt spread `sd`."""
    return 2 * z_value(level) * sd / math.sqrt(prompts)


def precision(per_prompt: dict[str, dict[str, list[float]]], objectives: list[str]) -> dict[str, dict]:
    """Per objective, the largest per-prompt standard deviation over the policies (`per_prompt`: policy ->
    objective -> normalised scores, one per held-out prompt) and the interval width it gives at this many prompts."""
    found = {}
    for o in objectives:
        spreads = [float(np.nanstd(np.asarray(s[o], dtype=float), ddof=1)) for s in per_prompt.values()]
        prompts = min(int(np.sum(~np.isnan(np.asarray(s[o], dtype=float)))) for s in per_prompt.values())
        sd = max(spreads)
        found[o] = {"sd": sd, "prompts": prompts, "ci95_width": interval_width(sd, prompts)}
    return found


def precision_line(found: dict[str, dict], tolerance: float, what: str = "per-objective 95% intervals") -> str:
    """One line: how many held-out prompts the tolerance needs and what this run reaches."""
    if not found:
        return "no judged objective: no interval to size"
    worst = max(found, key=lambda o: found[o]["sd"])
    prompts = found[worst]["prompts"]
    needed = {o: prompts_needed(f["sd"], tolerance) for o, f in found.items()}
    reached = ", ".join(f"{o} {f['ci95_width']:.3f}" for o, f in found.items())
    verdict = "reaches it" if all(prompts >= n for n in needed.values()) else "does not reach it"
    return (
        f"{what} narrower than the tolerance {tolerance:g} (normalised units) need {max(needed.values())} held-out "
        f"prompts ({worst}'s spread, sd {found[worst]['sd']:.3f}); this run has {prompts} and {verdict} (widths "
        f"{reached})"
    )
