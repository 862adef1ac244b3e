"""The champion front's models, fetched so that evaluate scores them beside the candidates.

Scores from two evaluation runs differ in more than the policies (scorer code, library versions, prompts), so
promotion compares a candidate front with the champion front re-scored in the candidate's own evaluate run, with
the same prompts, seed, decoding and scorers. This module finds that front in the registry and downloads each
version into the model cache (a registered version's files never change, so a download is reused).

No champion (the first runs) or a registry that cannot be read is not an error: evaluation goes on without the
champion, says why in a log line and in `champion.json`, and promotion falls back to the champion's own scores.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.registry.fronts import CHAMPION, Front, front_of
from paretoflow.schema import Params

log = logging.getLogger(__name__)
TOKENIZER_FILES = ("tokenizer_config.json",)  # present in a loadable model dir only when the tokenizer is there


@dataclass(frozen=True)
class Lookup:
    """The champion front, or None with the reason a person reads (no champion yet, registry unreachable)."""

    front: Front | None
    note: str


def champion_front(params: Params) -> Lookup:
    """The front alias `champion` points at in params' registry; a lookup failure is logged, not raised."""
    name, uri = params.register.model_name, params.tracking.uri
    try:
        client = MlflowClient(uri)
        model = client.get_registered_model(name)
        version = model.aliases.get(CHAMPION)
        front = None if version is None else front_of(client, client.get_model_version(name, version), CHAMPION)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return _none(f"no model {name} registered in {uri} yet: no champion to evaluate side by side")
        return _unreadable(name, uri, exc)
    except Exception as exc:  # connection and database errors reach us unwrapped from some stores
        return _unreadable(name, uri, exc)
    if front is None:
        return _none(f"model {name} has no alias {CHAMPION} yet: no champion to evaluate side by side")
    versions = ", ".join(f"v{v.version}" for v in front.versions)
    return Lookup(front, f"champion front {name} {versions} (pipeline run {run_id(front)}) scored side by side")


def identity(params: Params) -> dict | None:
    """What evaluate's cache key needs to know of the registry: a promotion since the last run changes it."""
    front = champion_front(params).front
    if front is None:
        return None
    return {"model": front.name, "versions": versions_of(front), "run_id": run_id(front)}


def fetch(params: Params, front: Front) -> list[tuple[str, Path]]:
    """(version, local model dir) for every version of the front, downloaded once into the model cache."""
    return [(str(v.version), _download(params, v)) for v in front.versions]


def versions_of(front: Front) -> list[str]:
    return [str(v.version) for v in front.versions]


def run_id(front: Front) -> str:
    return front.anchor.tags.get("pipeline.run_id") or "unknown"


def _download(params: Params, version) -> Path:
    """The version's transformers directory (weights, config, generation config, tokenizer) in one folder that
    evaluate's generation loads. MLflow keeps the logged directory under `model/` and the tokenizer again under
    `components/tokenizer/`; the tokenizer is copied in when `model/` lacks it."""
    uri = params.tracking.uri
    key = hashlib.md5(f"{uri}\n{version.name}\n{version.version}\n{version.run_id}\n{version.source}".encode())
    target = Path(params.cache_dir) / "registry" / f"{version.name}-v{version.version}-{key.hexdigest()[:12]}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))  # one per run: no collision
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(
                f"models:/{version.name}/{version.version}", dst_path=str(staging), tracking_uri=uri, registry_uri=uri
            )
        )
        model, tokenizer = local / "model", local / "components" / "tokenizer"
        if not model.is_dir():
            raise RuntimeError(
                f"champion {version.name} v{version.version} has no model/ folder in its artifacts ({uri}); it was "
                "not registered by paretoflow's register step: move alias champion to a version that was"
            )
        if not all((model / f).exists() for f in TOKENIZER_FILES) and tokenizer.is_dir():
            for item in tokenizer.iterdir():
                shutil.copy2(item, model / item.name)
        try:
            model.rename(target)
        except OSError:  # another run finished the same download first; its copy holds the same files
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _none(note: str) -> Lookup:
    log.info(note)
    return Lookup(None, note)


def _unreadable(name: str, uri: str, exc: Exception) -> Lookup:
    note = (
        f"could not read the champion of {name} from {uri} ({type(exc).__name__}: {str(exc)[:300]}); evaluating "
        "without it, so promotion will compare with the champion's own older scores. Check tracking.uri and that "
        "the MLflow server is up"
    )
    log.warning(note)
    return Lookup(None, note)
