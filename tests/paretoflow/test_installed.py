"""A step runs from any working directory, keyed on the code it runs: built into a wheel, installed into a
temporary folder and run from another one with its own params file and data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from paretoflow.hashing import dvc_md5
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # building and installing the wheel, then a step with its MLflow run: about 10 s

SOURCES = ("pyproject.toml", "README.md", "components", "paretoflow", "flows")


def _run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_ingest_from_a_wheel_in_another_folder_hashes_the_installed_code(tmp_path, model_cache):
    source, site, run = tmp_path / "source", tmp_path / "site", tmp_path / "run"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    # only the installed copy has this module: its package's md5 tells which copy was hashed
    (source / "components/data/installed_only.py").write_text('"""Present in the wheel, not in the checkout."""\n')
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source))
    (wheel,) = tmp_path.glob("paretoflow-*.whl")
    _run(*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel))
    assert sorted(p.name for p in (site / "components/rubrics/templates").iterdir()) == sorted(
        p.name for p in (REPO / "components/rubrics/templates").iterdir()
    )

    shutil.copytree(REPO / "data/sample", run / "data/sample")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(profile="tiny", cache_dir=str(model_cache))
    raw["tracking"]["uri"] = f"sqlite:///{run}/mlflow.db"
    (run / "my-params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = "import components, paretoflow.code_deps as c; print(components.__file__, c.package_root())"
    where = _run(sys.executable, "-c", probe, cwd=run, env=env).stdout.split()
    assert where == [str(site / "components/__init__.py"), str(site)]
    _run(sys.executable, "-m", "paretoflow.cli", "ingest", "--params", "my-params.yaml", cwd=run, env=env)

    assert (run / "artifacts/data/pairs.parquet").is_file()
    lineage = json.loads((run / "artifacts/lineage/ingest.json").read_text())
    assert lineage["components/data"] == dvc_md5(site / "components/data") != dvc_md5(REPO / "components/data")
    assert lineage["data/sample/pairs.jsonl"] == dvc_md5(run / "data/sample/pairs.jsonl")
