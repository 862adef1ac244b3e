"""One tiny-profile pass through every component (no Prefect), shared by the component tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paretoflow.config import load_params
from tests.conftest import copy_project, tiny


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, model_cache):
    """Runs the steps in order through `execute` (their MLflow runs included); yields (project, params, results)."""
    from paretoflow.steps import ORDER, execute

    root = copy_project(tmp_path_factory.mktemp("project"))
    old = Path.cwd()
    os.chdir(root)
    try:
        params = load_params("params.yaml", tiny(root, model_cache, "rubrics.build=always"))  # rubric tests read them
        results = {name: execute(name, params) for name in ORDER}
        yield root, params, results
    finally:
        os.chdir(old)
