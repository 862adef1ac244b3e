"""The typed run requests behind the Prefect run forms, the API's check of a flow run's parameters and the flags of
`paretoflow run`: pydantic models built from the params (weight vectors are keyed by its objective names; every
default is its value), so a form, an API call and the CLI take the same fields with the same bounds.

A request reaches the pipeline as dotted overrides (`to_overrides`), the one path from a form or the flags to the
params a run loads. A field still holding the params' value adds none, so it follows a profile chosen in the same
request; a field set to something else wins over the same key in the request's own `overrides`.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from paretoflow.config import ConfigError
from paretoflow.schema import Grpo, Params, Source
from paretoflow.steps import ORDER

PARAMS_KEY = "params_key"  # JSON-schema keyword of a field that sets a params entry: its dotted key
FORBID = ConfigDict(extra="forbid")


def _setting(key: str, annotation: Any, default: Any, description: str, **bounds: Any) -> tuple[Any, Any]:
    """A field that sets the params entry `key`."""
    return annotation, Field(default, description=description, json_schema_extra={PARAMS_KEY: key}, **bounds)


def _common(params_file: str, overrides: list[str]) -> dict[str, tuple[Any, Any]]:
    return {
        "params_file": (str, Field(params_file, description="parameter file of the project checkout the run reads")),
        "overrides": (
            list[str],
            Field(
                list(overrides),
                description="advanced: more settings as dotted.key=value (YAML values), e.g. evaluate.max_prompts=50; "
                "the fields above win over the same keys here",
            ),
        ),
    }


def retrain_model(params: Params, params_file: str, overrides: list[str] = ()) -> type[BaseModel]:
    """The request of the retrain deployments and `paretoflow run`, with `params` (the file and `overrides`)."""
    names = tuple(params.objective_names)
    weights = create_model(
        "Weights",
        __config__=FORBID,
        **{n: (float, Field(ge=0, description=f"weight of {n} in the reward")) for n in names},
    )
    source = create_model(
        "DataSource",
        __base__=Source,
        objective=(Literal[names] | None, Field(None, description="objective of pair rows that do not name one")),
    )
    grpo = params.grpo
    return create_model(
        "RetrainRequest",
        __config__=FORBID,
        profile=_setting(
            "profile",
            Params.model_fields["profile"].annotation,
            params.profile,
            "models and sizes: tiny (random tiny models, seconds), cpu (Gemma 3 270M), gpu (cloud GPUs)",
        ),
        strategy=_setting(
            "grpo.strategy",
            Grpo.model_fields["strategy"].annotation,
            grpo.strategy,
            "sweep: one policy per weight vector; dynamic: weights adapted in training; soup: specialists mixed",
        ),
        weights=_setting(
            "grpo.weights",
            list[weights],
            [weights(**w) for w in grpo.weights],
            "one policy per weight vector, a weight per objective",
            min_length=1,
        ),
        max_steps=_setting("grpo.max_steps", int, grpo.max_steps, "GRPO optimizer steps per policy", ge=1, le=100_000),
        num_generations=_setting(
            "grpo.num_generations", int, grpo.num_generations, "completions sampled per prompt", ge=2, le=64
        ),
        learning_rate=_setting("grpo.learning_rate", float, grpo.learning_rate, "GRPO learning rate", gt=0, le=1),
        sources=_setting(
            "data.sources",
            list[source],
            [source(**s.model_dump()) for s in params.data.sources],
            "data sources ingest reads: a file or folder, s3://bucket/prefix or hf://dataset@split, in one format",
            min_length=1,
        ),
        until=(Literal[tuple(ORDER)], Field(ORDER[-1], description=f"stop after this step ({ORDER[-1]}: all of them)")),
        force=(bool, Field(False, description="ignore cached steps and run everything, finished GRPO policies too")),
        **_common(params_file, overrides),
    )


def promote_model(params: Params, params_file: str, overrides: list[str] = ()) -> type[BaseModel]:
    """The request of the promote deployment."""
    settings = params.promote
    return create_model(
        "PromoteRequest",
        __config__=FORBID,
        version=(
            int | None,
            Field(None, ge=1, description="model version to gate; empty: the version alias candidate points at"),
        ),
        dry_run=(bool, Field(False, description="record the gates on the version, move no alias")),
        require_approval=_setting(
            "promote.require_approval",
            bool,
            settings.require_approval,
            "after the gates pass, pause for a person's approval (a form on the paused run)",
        ),
        approval_timeout_seconds=_setting(
            "promote.approval_timeout_seconds",
            int,
            settings.approval_timeout_seconds,
            "how long a paused promotion waits for the approval",
            ge=1,
            le=7 * 24 * 3600,
        ),
        **_common(params_file, overrides),
    )


def parse(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    """Validate a request; a bad value raises ConfigError naming each field and why."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {_shown(e['input'])})" for e in exc.errors()]
        raise ConfigError("invalid run request: " + "; ".join(problems)) from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_overrides(request: BaseModel, base: Params) -> list[str]:
    """The request's `overrides`, then `key=value` for every field whose value differs from `base` (the params loaded
    with those overrides)."""
    current = base.model_dump(mode="json")
    values = request.model_dump(mode="json")
    changed = []
    for name, field in type(request).model_fields.items():
        key = (field.json_schema_extra or {}).get(PARAMS_KEY)
        if key is not None and values[name] != _lookup(current, key):
            changed.append(f"{key}={_yaml(values[name])}")
    return [*request.overrides, *changed]


def _lookup(tree: dict, key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree


def _yaml(value: Any) -> str:
    """One-line YAML that reads back as `value` (a float keeps its dot: 3.0e-05, not the string 3e-05)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip().removesuffix("...").strip()


def parse_weights(text: str) -> dict[str, float]:
    """`empathy=0.5,concision=0.5` (a --weights flag) -> {"empathy": 0.5, "concision": 0.5}."""
    vector = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            name, value = part.split("=")
            vector[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weights {text!r}: {part!r} is not objective=weight, e.g. empathy=0.5") from None
    return vector


def parse_source(text: str) -> dict[str, Any]:
    """A --source flag as YAML, e.g. `{name: extra, uri: data/extra.jsonl, format: hh-rlhf, objective: helpfulness}`."""
    try:
        entry = yaml.safe_load(text)
    except yaml.YAMLError:
        entry = None
    if not isinstance(entry, dict):
        raise ConfigError(f"--source {text!r} must be a YAML mapping like '{{name: extra, uri: data/extra.jsonl}}'")
    return entry
