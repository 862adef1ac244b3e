"""What each step may read of the resolved params, and the view that holds it to that.

A step's cache key hashes the params sections it declares in `SECTIONS`. Were it to read another one, its result
would depend on a setting its key leaves out, so `execute` hands each entry function a `StepParams` view on which
such a read raises `UndeclaredSection` (the tiny-profile step tests run every entry through it). Declared here,
below the step table, because components name their step's sections too: the GRPO run fingerprint, the job a
GRPO step launches.
"""

from __future__ import annotations

import types

from pydantic import BaseModel

from paretoflow.schema import Grpo, HFJudge, OpenAIJudge, Params

# Where things are kept, never what a result is: every step may read these, and no cache key holds them.
LOCATIONS = frozenset({"profile", "cache_dir", "tracking"})

SECTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("data", "objectives"),
    "validate": ("data", "objectives"),
    "sft": ("policy", "sft", "seed"),
    "rubrics": ("rubrics", "objectives"),
    "reward_model": ("reward_model", "objectives", "seed"),
    "grpo": ("grpo", "policy", "sft", "objectives", "seed", "reward_model", "novelty", "rubrics", "seeker"),
    # `register`: the champion front in the registry is scored beside the candidates
    "evaluate": (
        "evaluate",
        "policy",
        "sft",
        "objectives",
        "seed",
        "grpo",
        "reward_model",
        "novelty",
        "rubrics",
        "register",
        "seeker",
    ),
    "register": ("register", "tracking", "objectives", "evaluate"),  # evaluate: the evaluators a version names
}

# Settings that change how a result is made, never what it is (checkpoints, logging, where it runs, retries,
# batching). Fingerprints of computed results leave them out, so changing one resumes or reuses instead of
# redoing; step cache keys keep whole sections, as DVC does.
BOOKKEEPING: dict[type[BaseModel], frozenset[str]] = {
    Grpo: frozenset({"save_steps", "log_completions_every", "completions_logged", "compute", "vllm"}),
    # not base_url: another endpoint may serve another model (or build) under the same model name
    OpenAIJudge: frozenset(
        {"api_key_env", "max_concurrency", "timeout_s", "max_retries", "backoff_base_s", "backoff_max_s", "deadline_s"}
    ),
    HFJudge: frozenset({"batch_size"}),
}


def result_settings(model: BaseModel, exclude: frozenset[str] = frozenset()) -> dict:
    """A settings model as JSON without its bookkeeping fields (nor `exclude`): the part that shapes results."""
    return model.model_dump(mode="json", exclude=set(BOOKKEEPING.get(type(model), frozenset()) | exclude))


class UndeclaredSection(Exception):
    """A step read a params section it does not declare (not an AttributeError, so no getattr default hides it)."""


class StepParams:
    """The resolved params as one step sees them: its declared sections and `LOCATIONS`. Properties and methods
    of `Params` run against the view, so `objective_names` needs `objectives` declared."""

    def __init__(self, params: Params, step: str):
        self._params = params
        self.step = step
        self.readable = frozenset(SECTIONS[step]) | LOCATIONS

    def __getattr__(self, name: str):
        if name in Params.model_fields:
            self._check({name})
            return getattr(self._params, name)
        member = vars(Params).get(name)
        if isinstance(member, property):
            return member.fget(self)
        if isinstance(member, types.FunctionType):
            return types.MethodType(member, self)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def _check(self, sections: set[str]) -> None:
        undeclared = sorted(sections - self.readable)
        if undeclared:
            raise UndeclaredSection(
                f"step {self.step} reads params section(s) {', '.join(undeclared)} without declaring them; add them "
                f"to SECTIONS[{self.step!r}] in paretoflow/step_params.py (and the stage's params in dvc.yaml)"
            )

    def model_dump(self, *, include=None, **kwargs) -> dict:
        """Like `Params.model_dump`, over the readable sections only (all of them when `include` is None)."""
        include = set(self.readable) if include is None else set(include)
        self._check(include)
        return self._params.model_dump(include=include, **kwargs)

    def model_copy(self, *, update: dict | None = None) -> StepParams:
        self._check(set(update or {}))
        return StepParams(self._params.model_copy(update=update), self.step)

    def to_yaml(self) -> str:
        """The whole resolved file, for a job this step launches: it loads it as params (every required section
        must be there) and applies its step's view again."""
        return self._params.to_yaml()

    def __repr__(self) -> str:
        return f"StepParams({self.step}: {', '.join(sorted(self.readable))})"
