"""DVC remotes: the default local folder, and S3 through an S3-compatible endpoint (moto's server on loopback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project, tiny_params_file
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)

DVC = str(Path(sys.executable).parent / "dvc")


@pytest.mark.slow
def test_push_and_pull_through_the_local_and_the_s3_remote(tmp_path, model_cache, s3_endpoint):  # noqa: F811
    root = copy_project(tmp_path)
    env = tiny_params_file(root, model_cache)

    def dvc(*args):
        out = subprocess.run([DVC, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"dvc {' '.join(args)}:\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
        return out.stdout

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc("repro", "ingest")
    pairs = (root / "artifacts/data/pairs.parquet").read_bytes()
    dvc("push")  # the default remote in .dvc/config: a local folder
    assert any((root / ".dvc/remote").rglob("*"))

    make_bucket(s3_endpoint, "dvc-store")
    dvc("remote", "add", "s3", "s3://dvc-store/paretoflow")
    dvc("remote", "modify", "s3", "endpointurl", s3_endpoint)
    dvc("push", "-r", "s3")
    shutil.rmtree(root / ".dvc/cache")
    shutil.rmtree(root / "artifacts/data")
    dvc("pull", "-r", "s3", "ingest")
    assert (root / "artifacts/data/pairs.parquet").read_bytes() == pairs
    assert "up to date" in dvc("status", "ingest").lower() or "Data and pipelines are up to date" in dvc("status")
