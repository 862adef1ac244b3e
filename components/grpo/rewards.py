"""GRPO's reward functions from params: one per objective, then the audit rewards at weight 0.

The objectives' rewards reach TRL standardised by the start policy's statistics (reward_scales), so TRL's
weighted aggregation adds them on one scale; `reward/<objective>/mean` is then in those units (0: the start
policy's mean) and `reward_raw/<objective>/mean` keeps the scorer's own [0, 1] scale. Audit rewards go through
TRL as they are, so they are logged and shown in the completion samples, but a zero weight keeps them out of the
advantages under either aggregation.

An objective whose reward does not vary within a group adds nothing to that group's advantages, under either
aggregation: `normalize_then_sum` gives it (r - mean) / (0 + 1e-4) = 0, and under `sum_then_normalize` it adds
the same constant to every reward of the group, which the group mean takes away and the group std never sees
(with `scale_rewards: batch` its spread between groups still enters the batch std, which scales every
advantage alike). Each step logs how many groups that was per objective (`zero_variance_groups/<objective>`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.common.messages import reply_text
from components.scorers.objectives import RewardFunc, reward_functions
from paretoflow import tracking
from paretoflow.schema import Objective, Params


def audit_objectives(params: Params) -> list[Objective]:
    """`grpo.audit` entries as objective specs; a bare scorer name stands for `{name: it, scorer: it}`."""
    return [Objective(name=a, scorer=a) if isinstance(a, str) else a for a in params.grpo.audit]


def training_rewards(params: Params, reward_models_dir: str | Path) -> tuple[list[RewardFunc], list[str]]:
    """Reward functions and their names: the objectives (params order) followed by the audit rewards."""
    specs = [*params.objectives, *audit_objectives(params)]
    return reward_functions(params, reward_models_dir, specs), [o.name for o in specs]


def standardised(rewards: list[RewardFunc], names: list[str], scales: dict, group: int) -> list[RewardFunc]:
    """The objectives' rewards (those `scales` names) as (r - mean) / std, the start policy's mean and within-prompt
    std (reward_scales; an objective constant at the start only centred); audit rewards as they are."""
    stats = scales["objectives"]
    return [_standardised(f, n, stats[n], group) if n in stats else f for f, n in zip(rewards, names)]


def _standardised(func: RewardFunc, name: str, stat: dict, group: int) -> RewardFunc:
    scale = 1.0 if stat["constant"] else stat["std"]

    def reward(prompts, completions, **kwargs):
        raw = _scored(func(prompts, completions, **kwargs))
        values = (raw - stat["mean"]) / scale
        log = kwargs.get("log_metric")
        if log is not None:
            log(f"reward_raw/{name}/mean", float(np.nanmean(raw)))
            log(f"zero_variance_groups/{name}", zero_variance_groups(values, group))
        return _rewards(values)

    reward.__name__ = name
    return reward


def unfinished_as_worst(
    rewards: list[RewardFunc], names: list[str], objectives: list[str], stops: set[int], group: int
) -> list[RewardFunc]:
    """The objectives' rewards with every unfinished completion (its last token is no stop token: TRL's own test
    for a truncated completion) lowered to its group's worst value, so running past the budget never pays; audit
    rewards as they are."""
    return [_unfinished_as_worst(f, n, stops, group) if n in objectives else f for f, n in zip(rewards, names)]


def _unfinished_as_worst(func: RewardFunc, name: str, stops: set[int], group: int) -> RewardFunc:
    def reward(prompts, completions, **kwargs):
        values = _scored(func(prompts, completions, **kwargs))
        unfinished = np.array([not ids or ids[-1] not in stops for ids in kwargs["completion_ids"]])
        return _rewards(worst_in_group(values, unfinished, group))

    reward.__name__ = name
    return reward


def _scored(rewards: list) -> np.ndarray:
    """A reward function's values as floats, an unscorable completion (None, as TRL takes it) as NaN."""
    return np.array([np.nan if v is None else v for v in rewards], dtype=float)


def _rewards(values: np.ndarray) -> list[float | None]:
    """Back to what TRL takes: NaN as None."""
    return [None if np.isnan(v) else float(v) for v in values]


def worst_in_group(values: np.ndarray, lowered: np.ndarray, group: int) -> np.ndarray:
    """`values` with the `lowered` ones set to the lowest value of their group (consecutive runs of `group`, as TRL
    lays out one prompt's completions); a group with no value at all stays as it is."""
    grouped, mask = values.reshape(-1, group), lowered.reshape(-1, group)
    scored = ~np.isnan(grouped)
    low = np.where(scored, grouped, np.inf).min(axis=1, keepdims=True)
    return np.where(mask & scored.any(axis=1, keepdims=True), low, grouped).reshape(-1)


def zero_variance_groups(values: np.ndarray, group: int) -> int:
    """Groups (consecutive runs of `group` completions of one prompt, as TRL lays them out) whose scored values
    do not vary: TRL's own test for a zero std (torch.isclose to 0)."""
    grouped = values.reshape(-1, group)
    spread = np.array([np.nanstd(g) if (~np.isnan(g)).sum() > 1 else 0.0 for g in grouped])
    return int(np.isclose(spread, 0.0, rtol=0.0, atol=1e-8).sum())


def zero_variance_summary(history: list[dict], objectives: list[str]) -> dict[str, int]:
    """Per objective, the groups of a run in which it did not vary (summed over TRL's per-step logs)."""
    return {o: round(sum(e.get(f"zero_variance_groups/{o}", 0) for e in history)) for o in objectives}


def full_weights(weights: dict[str, float], params: Params) -> list[float]:
    """TRL's `reward_weights`: the objectives' weights, then 0 for every audit reward."""
    return [float(weights[o]) for o in params.objective_names] + [0.0] * len(params.grpo.audit)


def completion_samples_callback(trainer, every: int, size: int):
    """Every `every` steps, log the last `size` completions with their per-reward scores to the MLflow table
    `grpo/completions.json` (one growing table; the `step` column tells the samples apart)."""
    from transformers import TrainerCallback

    class CompletionSamples(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if every and state.global_step % every == 0:
                tracking.log_table(sample_table(trainer._logs, state.global_step, size), "grpo/completions.json")

    return CompletionSamples()


def sample_table(logs: dict, step: int, size: int) -> pd.DataFrame:
    """The newest completions of TRL's rolling logs (prompt, completion, one column per reward)."""
    prompts, completions = list(logs["prompt"])[-size:], list(logs["completion"])[-size:]
    table = pd.DataFrame(
        {
            "step": step,
            "prompt": [_last_user_turn(p) for p in prompts],
            "completion": [reply_text(c) for c in completions],
        }
    )
    for name, values in logs["rewards"].items():
        table[name] = list(values)[-len(table) :] if len(table) else []
    return table


def _last_user_turn(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
    return users[-1] if users else ""
