"""Registered fronts: the model versions one pipeline run registered, read back from their tags.

A version's held-out scores live in its `heldout.<objective>` tags (set by register), and the pipeline run
that produced it in `pipeline.run_id`: all versions sharing that run form one front.

Reads fail closed: only a model or alias that does not exist reads as missing; any other registry failure raises
RegistryUnreadable, so that an outage is never taken for "no champion" (and `select` never falls back to the
candidate front because the registry did not answer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.registry.aliases import MISSING, REGISTRY_ERRORS, describe_error

CANDIDATE = "candidate"
CHAMPION = "champion"
PREVIOUS = "previous-champion"
# the champion front as the candidate's evaluate run scored it, in one tag (one per score would bury the rest):
# JSON {champion version: {objective or coherence.<indicator>: score}}
SIDE_SCORES = "sidebyside.scores"
UNJUDGED_TAGS = ("None", "nan", "NaN", "")  # heldout.<objective> of an objective no evaluator judged


class RegistryUnreadable(RuntimeError):
    """The registry failed to answer a read (not a missing model or alias); the message says where and what now."""


@contextmanager
def reading(client: MlflowClient, what: str) -> Iterator[None]:
    """Turn a registry failure inside into a RegistryUnreadable naming the registry, what was read, and what now."""
    try:
        yield
    except REGISTRY_ERRORS as exc:
        raise RegistryUnreadable(
            f"registry {client.tracking_uri}: could not read {what} ({describe_error(exc)}). A registry error is "
            "never read as 'no champion'. Check that the MLflow server is up and answering (tracking.uri), then run "
            "the command again"
        ) from exc


@dataclass(frozen=True)
class Front:
    """The versions of one pipeline run, with the aliased version they were reached through."""

    name: str
    alias: str
    anchor: ModelVersion
    versions: list[ModelVersion]

    def scores(self, objectives: list[str]) -> np.ndarray:
        return np.array([version_scores(v, objectives) for v in self.versions])

    @property
    def heldout_md5(self) -> str | None:
        return self.anchor.tags.get("heldout_set.md5")


def aliased(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None when the alias (or the model) does not exist. Read through the
    model's aliases: a missing alias and a bad request share one error code in `get_model_version_by_alias`."""
    with reading(client, f"alias {alias} of model {name}"):
        try:
            version = client.get_registered_model(name).aliases.get(alias)
        except MlflowException as exc:
            if exc.error_code != MISSING:
                raise
            return None
        return None if version is None else client.get_model_version(name, str(version))


def version_scores(version: ModelVersion, objectives: list[str]) -> list[float]:
    """The version's held-out evaluator scores (tags heldout.<objective>); NaN for an objective evaluate left
    unjudged (no evaluator passed its agreement check: register tags it `None`)."""
    missing = [o for o in objectives if f"heldout.{o}" not in version.tags]
    if missing:
        raise ValueError(
            f"model version {version.name} v{version.version} has no held-out score for {', '.join(missing)} "
            "(tags heldout.<objective>); it was registered by another pipeline or objectives changed since"
        )
    return [_score(version.tags[f"heldout.{o}"]) for o in objectives]


def _score(tag: str) -> float:
    return float("nan") if tag in UNJUDGED_TAGS else float(tag)


def judged(points: np.ndarray, objectives: list[str]) -> list[str]:
    """The objectives scored (not NaN) for every row of `points` (versions x objectives)."""
    return [o for k, o in enumerate(objectives) if not np.isnan(points[:, k]).any()]


def champion_policy(version: str) -> str:
    """A champion version's name among the policies an evaluate run scored beside the candidates."""
    return f"champion-v{version}"


def front_of(client: MlflowClient, version: ModelVersion, alias: str) -> Front:
    """Every version registered by the same pipeline run as `version` (just itself when it has no run tag)."""
    run_id = version.tags.get("pipeline.run_id")
    versions = [version]
    if run_id:
        found = client.search_model_versions(f"name = '{version.name}'")
        versions = sorted((v for v in found if v.tags.get("pipeline.run_id") == run_id), key=lambda v: int(v.version))
    return Front(version.name, alias, version, versions)


def front_by_alias(client: MlflowClient, name: str, alias: str) -> Front | None:
    version = aliased(client, name, alias)
    if version is None:
        return None
    with reading(client, f"the front of {name} v{version.version} (alias {alias})"):
        return front_of(client, version, alias)


def side_by_side_scores(tags: dict[str, str]) -> dict[str, dict[str, float]]:
    """The champion front's scores from a version's evaluate run, per champion version ({} when none were)."""
    return json.loads(tags.get(SIDE_SCORES, "{}"))
