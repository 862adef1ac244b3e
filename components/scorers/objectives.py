"""One scorer per objective, in [0, 1], with TRL's reward signature: the same functions serve GRPO and evaluation.

`f(prompts, completions, **kwargs) -> list[float]`; prompts and completions may be chat messages or text.
Each objective's `scorer` names its factory in `paretoflow.factories.SCORERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from pkgutil import resolve_name

from paretoflow.factories import SCORERS
from paretoflow.schema import Objective, Params

RewardFunc = Callable[..., list[float]]
LENGTH_SCORERS = frozenset({"concision"})  # rewards a reply's length alone: a policy moves them by talking less


def length_based(objective: Objective | dict) -> bool:
    """Whether an objective's scorer reads only length: such gains show that weights steer nothing but length, so
    proofs of steering ask for a gain on another objective (issue 14 item 1, issue 19)."""
    scorer = objective["scorer"] if isinstance(objective, dict) else objective.scorer
    return scorer in LENGTH_SCORERS


@dataclass
class ScorerContext:
    """What a scorer factory may read: the run's params, the reward-model step's output, and the models this
    call has loaded (by key), so objectives sharing a model load it once."""

    params: Params
    reward_models_dir: Path
    loaded: dict = field(default_factory=dict)

    @property
    def rubrics_dir(self) -> Path:
        """The rubrics step's output, beside the reward models."""
        return self.reward_models_dir.parent / "rubrics"


def reward_functions(
    params: Params, reward_models_dir: str | Path, objectives: list[Objective] | None = None
) -> list[RewardFunc]:
    """The objectives' scorers (default: params.objectives), in order, each named after its objective (TRL logs
    them by name)."""
    context = ScorerContext(params, Path(reward_models_dir))
    chosen = params.objectives if objectives is None else objectives
    return [_named(resolve_name(SCORERS[o.scorer])(o, context), o.name) for o in chosen]


def _named(func: RewardFunc, name: str) -> RewardFunc:
    def scorer(prompts, completions, **kwargs):
        return func(prompts, completions, **kwargs)

    scorer.__name__ = name
    scorer.whole_conversation = getattr(func, "whole_conversation", False)  # components.seeker.rollout.over_turns
    return scorer
