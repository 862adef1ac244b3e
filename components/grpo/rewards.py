"""GRPO's reward functions from params: one per objective, then the audit rewards at weight 0.

Audit rewards go through TRL like the others, so they are logged (`reward/<name>/mean`) and shown in the
completion samples, but a zero weight keeps them out of the advantages under either aggregation.
"""

from __future__ import annotations

from pathlib import Path

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
