"""The pipeline's steps: what each reads, writes and depends on, and how one is executed.

Both entry points use this table: the Prefect flow (cache keys) and `paretoflow <command>` (which dvc.yaml
calls). A step's cache key is the hash of its resolved params sections and the
DVC md5s of its dependencies, code included, so Prefect and DVC agree on what changed. A step that reads
state outside files and params names a function returning it (`external`), which joins its key: evaluate
scores the registry's champion front, so a promotion makes the next run evaluate again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import mlflow

from paretoflow import resources, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params

DATA = "artifacts/data"
VALIDATION = "artifacts/validation"
RUBRICS = "artifacts/rubrics"
REWARD_MODELS = "artifacts/reward_models"
POLICIES = "artifacts/policies"
EVALUATION = "artifacts/evaluation"
REGISTRY = "artifacts/registry"
METRICS = "artifacts/metrics"

SHARED_CODE = ("components/data/canonical.py", "components/common/model_store.py")
COMPUTE_CODE = (
    "components/grpo/compute/dispatch.py",
    "components/grpo/compute/accelerate.py",
    "components/grpo/compute/sagemaker.py",
    "components/grpo/job.py",
)
GRPO_CODE = (
    "components/grpo/rewards.py",
    "components/grpo/checkpoints.py",
    "components/grpo/dynamic_weights.py",
    "components/grpo/soups.py",
    "components/scorers/novelty.py",
    "components/common/pareto.py",
)
INGEST_CODE = (
    "components/data/adapters/formats.py",
    "components/data/adapters/esconv.py",
    "components/data/sources.py",
)
# What `scorer: rubric` objectives run (rubrics step, GRPO and evaluation alike).
RUBRIC_CODE = (
    "components/scorers/rubric.py",
    "components/rubrics/offline.py",
    "components/rubrics/guard.py",
    "components/rubrics/generation.py",
    "components/rubrics/parsing.py",
    "components/rubrics/result_cache.py",
    "components/rubrics/templates",
    "components/judges/__init__.py",
    "components/judges/base.py",
    "components/judges/cache.py",
    "components/judges/hf_chat.py",
    "components/judges/openai_chat.py",
)


class StepFailed(RuntimeError):
    """A step stopped on a problem a person can fix (bad data, a missing input); the message says which."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class Step:
    name: str
    command: str  # `paretoflow <command>` runs the step alone (what dvc.yaml calls)
    entry: str  # "module:function"
    sections: tuple[str, ...]
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    external: str | None = None  # "module:function": params -> JSON-able state outside files and params

    @property
    def module(self) -> str:
        return self.entry.split(":")[0]

    def dependencies(self, params: Params) -> list[str]:
        code = [self.module.replace(".", "/") + ".py", *SHARED_CODE]
        local = [s.uri for s in params.data.sources if "://" not in s.uri]  # s3://, hf:// are not files here
        sources = local if self.name == "ingest" else []
        return sorted({*code, *sources, *self.deps})

    def deps_md5(self, params: Params) -> dict[str, str]:
        for source in params.data.sources if self.name == "ingest" else []:
            if "://" not in source.uri and not Path(source.uri).exists():
                raise FileNotFoundError(
                    f"data source {source.name!r}: {source.uri} not found; fix its uri under data.sources"
                )
        return {path: dvc_md5(path) for path in self.dependencies(params)}

    def cache_key(self, params: Params) -> str:
        payload = {
            "step": self.name,
            "params": params.section_hash(*self.sections),
            "deps": self.deps_md5(params),
        }
        if self.external:
            module, function = self.external.split(":")
            payload["external"] = getattr(importlib.import_module(module), function)(params)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def outputs_present(self) -> bool:
        return all(Path(p).exists() for p in self.outs)


STEPS: dict[str, Step] = {
    s.name: s
    for s in [
        Step("ingest", "ingest", "components.data.ingest:ingest", ("data", "objectives"), INGEST_CODE, (DATA,)),
        Step(
            "validate", "validate", "components.data.validate:validate", ("data", "objectives"), (DATA,), (VALIDATION,)
        ),
        Step(
            "rubrics",
            "rubrics",
            "components.rubrics.synthesize:synthesize_rubrics",
            ("rubrics", "objectives"),
            (DATA, VALIDATION, "components/rubrics/label_filter.py", "components/scorers/objectives.py", *RUBRIC_CODE),
            (RUBRICS,),
        ),
        Step(
            "reward_model",
            "train-rm",
            "components.reward_models.train:train_reward_models",
            ("reward_model", "objectives", "seed"),
            (
                DATA,
                VALIDATION,
                "components/scorers/objectives.py",
                "components/reward_models/training.py",
                "components/reward_models/evaluation.py",
                "components/reward_models/references.py",
                "components/reward_models/mlflow_model.py",
                "components/reward_models/multihead.py",
            ),
            (REWARD_MODELS,),
        ),
        Step(
            "grpo",
            "grpo",
            "components.grpo.train:train_policies",
            ("grpo", "objectives", "seed", "reward_model", "novelty", "rubrics"),
            (
                DATA,
                VALIDATION,
                REWARD_MODELS,
                RUBRICS,
                "components/scorers/objectives.py",
                *COMPUTE_CODE,
                *GRPO_CODE,
                *RUBRIC_CODE,
            ),
            (POLICIES,),
        ),
        Step(
            "evaluate",
            "evaluate",
            "components.evaluation.evaluate:evaluate_policies",
            ("evaluate", "objectives", "seed", "grpo", "reward_model", "novelty", "rubrics"),
            (
                DATA,
                REWARD_MODELS,
                RUBRICS,
                POLICIES,
                *RUBRIC_CODE,
                "components/scorers/objectives.py",
                "components/scorers/novelty.py",
                "components/common/pareto.py",
                "components/evaluation/stats.py",
                "components/evaluation/scorer_checks.py",
                "components/evaluation/agreement.py",
                "components/reward_models/evaluation.py",  # imported by score.py (`rm:PATH` independent scorers)
                "components/scorers/brevity.py",
                "components/evaluation/attack_probes.py",
                "components/evaluation/champion.py",
                "components/registry/fronts.py",
            ),
            (EVALUATION,),
            external="components.evaluation.champion:identity",
        ),
        Step(
            "register",
            "register",
            "components.registry.register:register_front",
            ("register", "tracking"),
            (DATA, RUBRICS, POLICIES, EVALUATION),
            (REGISTRY,),
        ),
    ]
}
ORDER = list(STEPS)


def steps_until(until: str | None) -> list[str]:
    if until is None:
        return ORDER
    if until not in STEPS:
        raise ValueError(f"unknown step {until!r}; steps are {', '.join(ORDER)}")
    return ORDER[: ORDER.index(until) + 1]


def execute(name: str, params: Params, parent_run_id: str | None = None, flow_run_id: str | None = None) -> dict:
    """Run one step inside its MLflow run; return its summary (what the flow caches and prints)."""
    step = STEPS[name]
    module, function = step.entry.split(":")
    entry = getattr(importlib.import_module(module), function)
    try:
        deps = step.deps_md5(params)
    except FileNotFoundError as exc:
        raise StepFailed(name, str(exc)) from None
    meter = resources.Meter()
    with tracking.step_run(params, name, step.sections, deps, parent_run_id, flow_run_id) as run:
        try:
            summary = entry(params)
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            mlflow.set_tag("error", str(exc)[:5000])
            raise StepFailed(name, str(exc)) from exc
        usage = meter.metrics(name)  # wall, CPU and (with a GPU) GPU seconds
        tracking.log_metrics(usage)
        mlflow.set_tags({f"out.md5.{out}": dvc_md5(out) for out in step.outs})
    Path(METRICS).mkdir(parents=True, exist_ok=True)
    (Path(METRICS) / f"{name}.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    seconds = round(usage[f"time/{name}_seconds"], 2)
    return {"step": name, "run_id": run.info.run_id, "seconds": seconds, "summary": summary}
