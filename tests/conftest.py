"""Shared fixtures: a throwaway copy of the project per test, tiny-profile overrides, offline settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PROJECT_FILES = ("params.yaml", "dvc.yaml", "components", "data", ".dvc", ".dvcignore")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect reads its settings once, at import: the ephemeral server of a test process gets as long to start as the CLI
# gives it (a fresh database migrates first; 20 s, Prefect's default, ran out in CI on two busy cores).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
MLFLOW_EXPERIMENT_ENV = os.environ.get("MLFLOW_EXPERIMENT_ID")  # restored after every test
# Prefect state (cached task results included) goes to a throwaway home per test process, never the user's (nor the
# one `make` exports): pytest-xdist workers inherit the first process's environment, and two workers sharing a home
# served each other's cached step results (the same content key, another test's MLflow run).
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="paretoflow-test-prefect-")
# `make test` runs one pytest-xdist worker per core: each worker (and the steps it starts in subprocesses) gets its
# share of the cores, or every worker's OpenMP pool spins on all of them and they slow each other down.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // workers)))


def pytest_collection_modifyitems(items):
    """Files with slow tests first: pytest-xdist hands whole files to its workers in collection order, so the long
    ones start at once instead of leaving one worker busy at the end (the sort is stable: a file keeps its order)."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def _no_mlflow_state_between_tests():
    """MLflow keeps the active run and the last `set_experiment` id process-wide (and in MLFLOW_EXPERIMENT_ID, for
    subprocesses); a later test's store has no such experiment."""
    yield
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    if MLFLOW_EXPERIMENT_ENV is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = MLFLOW_EXPERIMENT_ENV


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """Tiny models are built once per session and shared by every test."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def gemma_dir() -> Path:
    """The packaged Gemma 3 270M converted once into the repo's `.cache/` (about 45 s the first time on any
    machine, then reused across sessions); a file lock keeps parallel sessions from converting twice."""
    import fcntl

    from components.common.model_store import policy_dir
    from paretoflow.schema import GgufModel

    cache = REPO / ".cache"
    cache.mkdir(exist_ok=True)
    with (cache / "models.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return policy_dir(GgufModel(kind="gguf"), cache)


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project to run steps in (steps read and write relative to the working directory)."""
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny(project: Path, cache: Path, *extra: str) -> list[str]:
    """Overrides that put a run on the tiny profile with its tracking store inside the project copy."""
    return ["profile=tiny", f"cache_dir={cache}", f"tracking.uri=sqlite:///{project}/mlflow.db", *extra]


def tiny_params_file(root: Path, cache: Path) -> dict[str, str]:
    """Rewrite the copy's params.yaml for the tiny profile (DVC stages take no -o); return an environment
    whose PATH finds this venv's `python` and `dvc`, as `make repro` does."""
    import sys

    import yaml

    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw.update(profile="tiny", cache_dir=str(cache))
    raw["tracking"]["uri"] = f"sqlite:///{root}/mlflow.db"
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
