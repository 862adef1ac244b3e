"""Parameters: `params.yaml` loaded once into the strict, frozen models of `paretoflow.schema`.

Resolution order: the file, then `profiles.<profile>` deep-merged over it, then `-o key=value`
overrides (YAML-parsed). Overrides of `profile` itself are applied before the profile is chosen; an
override of `objectives` keeps only the independent scorers (`evaluate.independent`) of objectives left.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from paretoflow.schema import Params

DEFAULT_PARAMS = "params.yaml"
PROFILES = ("tiny", "cpu", "gpu")


class ConfigError(ValueError):
    """A parameter problem a person can fix: names the key, the file and what to do."""


# --- loading ------------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """`grpo.max_steps=4` -> (["grpo", "max_steps"], 4); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like dotted.key=value (e.g. grpo.max_steps=4)")
    key, raw = text.split("=", 1)
    if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", key.strip()):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key like grpo.max_steps")
    if not raw.strip():
        return key.strip().split("."), None
    try:
        return key.strip().split("."), yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"override {text!r}: the value {raw!r} is not valid YAML ({_yaml_problem(exc)}); "
            "quote it for the shell as a whole, e.g. -o 'grpo.weights=[[0.5, 0.5], [1, 0]]', or -o 'key=\"text\"'"
        ) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message in one line: the problem and where (line/column), without the echoed snippet."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


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
    if any(p[0] == "objectives" for p, _ in parsed) and not any(
        p[:2] == ["evaluate", "independent"] for p, _ in parsed
    ):
        _keep_independent_of_objectives(tree)
    try:
        return Params.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def _keep_independent_of_objectives(tree: dict) -> None:
    """`-o objectives=[...]` drops the file's independent scorers of objectives it removed (not a typo to report)."""
    names = {o.get("name") for o in tree.get("objectives") or [] if isinstance(o, dict)}
    evaluate = tree.get("evaluate")
    if isinstance(evaluate, dict) and isinstance(evaluate.get("independent"), dict):
        evaluate["independent"] = {k: v for k, v in evaluate["independent"].items() if k in names}


def load_params(path: str | Path = DEFAULT_PARAMS, overrides: list[str] = ()) -> Params:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"parameter file {path} not found; pass --params FILE or run from the project root")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, byte {exc.start}); "
            f"save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > fixed.yaml"
        ) from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections at the top level")
    return resolve(raw, list(overrides), source=str(path))


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(_walk(err["loc"])[0])
        if err["type"] == "extra_forbidden":
            node = _walk(err["loc"][:-1])[1]
            known = list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []
            hint = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            tip = f"; did you mean {hint[0]}?" if hint else (f"; known keys: {', '.join(known)}" if known else "")
            lines.append(f"unknown key {key} in {source}{tip}")
        elif err["type"] == "missing":
            lines.append(f"missing key {key} in {source}")
        elif err["type"] == "value_error":  # a validator's own message names the keys, the value and the fix
            lines.append(f"invalid {key or 'parameters'} in {source}: {err['msg'].removeprefix('Value error, ')}")
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
        fields = getattr(member, "model_fields", {})
        kind = fields.get("kind") or fields.get("target")
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
