"""Tiny-profile params of the project itself and its data ingested, for tests that run steps in place rather than
on a project copy (tests.conftest.copy_project): the project's sources are paths relative to its folder."""

from __future__ import annotations

from contextlib import chdir
from pathlib import Path

from paretoflow.config import load_params
from paretoflow.schema import Params
from tests.conftest import REPO


def project_params(model_cache: Path, *overrides: str) -> Params:
    """The project's params.yaml on the tiny profile, its models cached in `model_cache`, then `overrides`."""
    return load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}", *overrides])


def ingested(params: Params, out: Path) -> Path:
    """The sources `params` names ingested into `out`, read from the project's folder; returns `out`."""
    from components.data.ingest import ingest

    with chdir(REPO):
        ingest(params, out)
    return out
