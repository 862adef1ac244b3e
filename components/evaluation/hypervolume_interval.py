"""The front's hypervolume with a 95% interval: a paired percentile bootstrap over the held-out prompts.

Every policy answered the same prompts, so one resample of prompts is applied to all of them at once (and to the
start policy when it is the reference point): the interval says how much the hypervolume depends on which prompts
were drawn. The point estimate stays the hypervolume of the observed means; as a maximum over policies it is
biased upwards, so it may sit near the top of its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.common import pareto
from components.evaluation.paired import draws


def hypervolume_interval(
    scores: pd.DataFrame,
    policies: list[str],
    objectives: list[str],
    reference: np.ndarray,
    samples: int = 1000,
    seed: int = 0,
    reference_policy: str | None = None,
    level: float = 0.95,
) -> list[float]:
    """[low, high] of the hypervolume of `policies`' mean scores (`scores`: one row per policy and `prompt_id`, a
    column per objective; None scores are skipped, as in the means). `reference_policy`: the reference point is
    that policy's means, resampled with the others."""
    prompts = sorted(set(scores["prompt_id"]))
    indexed = scores.set_index(["policy", "prompt_id"])[objectives].astype(float)

    def matrix(policy: str) -> np.ndarray:  # prompts x objectives, in the same prompt order for every policy
        return indexed.loc[policy].reindex(prompts).to_numpy()

    stacked = np.stack([matrix(p) for p in policies])
    base = matrix(reference_policy) if reference_policy else None
    draws = np.random.default_rng(seed).integers(0, len(prompts), size=(samples, len(prompts)))
    values = [
        pareto.hypervolume(
            np.nanmean(stacked[:, idx], axis=1), np.nanmean(base[idx], axis=0) if base is not None else reference
        )
        for idx in draws
    ]
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(low), float(high)]


def hypervolume_difference(
    candidate: np.ndarray,
    champion: np.ndarray,
    base: np.ndarray,
    samples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Hypervolume of the candidate front minus the champion front's, with a paired percentile interval: each
    resample of prompts is applied to both fronts and to the reference (the start policy's means, `base`).

    `candidate`, `champion`: policies x prompts x objectives, `base`: prompts x objectives, all normalised and in the
    same prompt order (every policy answered the same prompts in the same evaluate run)."""
    picks = draws(base.shape[0], samples, seed)

    def volume(front: np.ndarray, idx) -> float:
        return pareto.hypervolume(np.nanmean(front[:, idx], axis=1), np.nanmean(base[idx], axis=0))

    whole = np.arange(base.shape[0])
    values = [volume(candidate, idx) - volume(champion, idx) for idx in picks]
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return {
        "difference": volume(candidate, whole) - volume(champion, whole),
        "candidate": volume(candidate, whole),
        "champion": volume(champion, whole),
        "ci95": [float(low), float(high)],
        "prompts": int(base.shape[0]),
    }
