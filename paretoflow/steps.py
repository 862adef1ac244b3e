"""The pipeline's steps: what each reads, writes and depends on, and how one is executed.

Both entry points use this table: the Prefect flow (cache keys) and `paretoflow <command>` (which dvc.yaml
calls). A step's cache key is the hash of the params sections it declares (`paretoflow.step_params`, which its
entry function is held to) and the DVC md5s of its dependencies: the outputs of earlier steps it reads and its
code, the stage packages its entry module reaches through its imports (`paretoflow.code_deps`), hashed where they
are installed. So Prefect and DVC agree on what changed, from any working directory. A step that reads state
outside files and params names a function returning it (`external`), which joins its key: evaluate scores the
registry's champion front, so a promotion makes the next run evaluate again; ingest reads the versions of its
remote sources (s3:// listings, hf:// fingerprints or revisions), so new data makes the next run ingest again.

A key names what the outputs should be made from; `paretoflow.records` says whether the outputs on disk are the ones
made under it (`Step.stale`). `execute` holds the project lock (`paretoflow.locking`) while a step runs.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import mlflow

from paretoflow import locking, paths, records, resources, tracking
from paretoflow.code_deps import code_dependencies, code_md5
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params
from paretoflow.step_params import SECTIONS, StepParams


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
    inputs: tuple[Path, ...]  # outputs of earlier steps it reads
    outs: tuple[Path, ...]
    external: str | None = None  # "module:function": params -> JSON-able state outside files and params
    reads_sources: bool = False  # the local files of `data.sources` are inputs too
    on_force: str | None = None  # "module:function": (out folder, params) -> None, run before a forced run

    @property
    def module(self) -> str:
        return self.entry.split(":")[0]

    @property
    def sections(self) -> tuple[str, ...]:
        return SECTIONS[self.name]

    @property
    def lineage(self) -> Path:
        """Where `execute` records the md5s of the inputs the step's outputs were made from (register reads it)."""
        return paths.LINEAGE / f"{self.name}.json"

    def _files(self, params: Params) -> list[str]:
        """Its inputs that are files and folders relative to the working directory (s3://, hf:// sources are not)."""
        sources = [s.uri for s in params.data.sources if "://" not in s.uri] if self.reads_sources else []
        return [*sources, *(p.as_posix() for p in self.inputs)]

    def dependencies(self, params: Params) -> list[str]:
        """What dvc.yaml lists: code packages (relative to where they are installed), then its files."""
        return sorted({*code_dependencies(self.module), *self._files(params)})

    def deps_md5(self, params: Params) -> dict[str, str]:
        for source in params.data.sources if self.reads_sources else []:
            if "://" not in source.uri and not Path(source.uri).exists():
                raise FileNotFoundError(
                    f"data source {source.name!r}: {source.uri} not found; fix its uri under data.sources"
                )
        return {**code_md5(self.module), **{path: dvc_md5(path) for path in self._files(params)}}

    def cache_key(self, params: Params, deps: dict[str, str] | None = None) -> str:
        payload = {
            "step": self.name,
            "params": params.section_hash(*self.sections),
            "deps": self.deps_md5(params) if deps is None else deps,
        }
        if self.external:
            module, function = self.external.split(":")
            payload["external"] = getattr(importlib.import_module(module), function)(StepParams(params, self.name))
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    @property
    def recorded(self) -> tuple[Path, ...]:
        """What a successful run leaves and its record vouches for: its outputs and its lineage file."""
        return (*self.outs, self.lineage)

    def stale(self, key: str) -> str | None:
        """Why the outputs on disk are not the ones a successful run under `key` made (None when they are)."""
        return records.stale(self.name, key, self.recorded)


STEPS: dict[str, Step] = {
    s.name: s
    for s in [
        Step(
            "ingest",
            "ingest",
            "components.data.ingest:ingest",
            (),
            (paths.DATA,),
            external="components.data.versions:remote_versions",
            reads_sources=True,
        ),
        Step("validate", "validate", "components.data.validate:validate", (paths.DATA,), (paths.VALIDATION,)),
        Step("sft", "sft", "components.sft.train:train_sft", (paths.DATA, paths.VALIDATION), (paths.SFT,)),
        Step(
            "rubrics",
            "rubrics",
            "components.rubrics.synthesize:synthesize_rubrics",
            (paths.DATA, paths.VALIDATION),
            (paths.RUBRICS,),
        ),
        Step(
            "reward_model",
            "train-rm",
            "components.reward_models.train:train_reward_models",
            (paths.DATA, paths.VALIDATION),
            (paths.REWARD_MODELS, paths.EVALUATORS),  # evaluators: what evaluate scores with, never read by grpo
        ),
        Step(
            "grpo",
            "grpo",
            "components.grpo.train:train_policies",
            (paths.DATA, paths.VALIDATION, paths.SFT, paths.REWARD_MODELS, paths.RUBRICS),
            (paths.POLICIES,),
            on_force="components.grpo.compute.dispatch:forget_finished",
        ),
        Step(
            "evaluate",
            "evaluate",
            "components.evaluation.evaluate:evaluate_policies",
            (paths.DATA, paths.SFT, paths.REWARD_MODELS, paths.EVALUATORS, paths.RUBRICS, paths.POLICIES),
            (paths.EVALUATION,),
            external="components.evaluation.champion:identity",
        ),
        Step(
            "register",
            "register",
            "components.registry.register:register_front",
            (paths.DATA, paths.RUBRICS, paths.POLICIES, paths.EVALUATION),
            (paths.REGISTRY,),
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


def execute(
    name: str,
    params: Params,
    parent_run_id: str | None = None,
    flow_run_id: str | None = None,
    key: str | None = None,
    force: bool = False,
) -> dict:
    """Run one step inside its MLflow run, its entry seeing only its declared params; return its summary (what
    the flow caches and prints). `key` is the step's cache key (computed here when not given): once the step
    succeeded, its record ties the key to its outputs' md5s. `force` first runs the step's `on_force` hook."""
    with locking.exclusive(paths.LOCK, f"paretoflow step {name}"):
        return _execute(STEPS[name], params, parent_run_id, flow_run_id, key, force)


def _execute(step: Step, params: Params, parent_run_id, flow_run_id, key: str | None, force: bool) -> dict:
    name = step.name
    module, function = step.entry.split(":")
    entry = getattr(importlib.import_module(module), function)
    try:
        deps = step.deps_md5(params)
        key = key or step.cache_key(params, deps)
    except (FileNotFoundError, ValueError) as exc:  # ValueError: a remote source that cannot be listed
        raise StepFailed(name, str(exc)) from None
    records.forget(name)  # from here until it succeeds, its outputs on disk are vouched for by nothing
    if force and step.on_force:
        hook_module, hook = step.on_force.split(":")
        for out in step.outs:
            try:
                getattr(importlib.import_module(hook_module), hook)(out, params)
            except (ValueError, FileNotFoundError, RuntimeError) as exc:  # e.g. S3 checkpoints that cannot be cleared
                raise StepFailed(name, f"--force could not clear the state it skips by: {exc}") from None
    _write_json(step.lineage, deps)  # before the entry runs: register tags versions with its own inputs too
    meter = resources.Meter()
    with tracking.step_run(params, name, step.sections, deps, parent_run_id, flow_run_id) as run:
        try:
            summary = entry(StepParams(params, name))
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            mlflow.set_tag("error", str(exc)[:5000])
            raise StepFailed(name, str(exc)) from exc
        usage = meter.metrics(name)  # wall, CPU and (with a GPU) GPU seconds
        tracking.log_metrics(usage)
        outs = records.outputs_md5(step.recorded)
        mlflow.set_tags({f"out.md5.{out.as_posix()}": outs[out.as_posix()] for out in step.outs})
    _write_json(paths.METRICS / f"{name}.json", summary)
    records.remember(name, key, outs)  # last: only a step that got this far is trusted by a later cache hit
    seconds = round(usage[f"time/{name}_seconds"], 2)
    return {"step": name, "run_id": run.info.run_id, "seconds": seconds, "summary": summary}


def _write_json(path: Path, values: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")
