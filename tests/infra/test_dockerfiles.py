"""infra/docker/: both Dockerfiles pass hadolint and have the structure the stack relies on. There is no Docker
engine on this machine, so the images are linted and parsed here, not built."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO

DOCKER = REPO / "infra/docker"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _parsed(name: str) -> DockerfileParser:
    with open(DOCKER / name, "rb") as file:
        return DockerfileParser(fileobj=file, cache_content=True)


def _instructions(parser: DockerfileParser, kind: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == kind]


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_hadolint_passes(name):
    out = subprocess.run([str(HADOLINT), "--no-color", str(DOCKER / name)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cpu_image_is_python_311_slim_with_the_project_at_the_tested_pins():
    parser = _parsed("Dockerfile.cpu")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", parser.baseimage)
    runs = " ".join(_instructions(parser, "RUN"))
    assert "torch==2.13.0" in runs and "-c constraints.txt ." in runs
    assert "psycopg2-binary==2.9.13" in runs  # the MLflow server's PostgreSQL driver, pinned as in constraints.txt
    assert "psycopg2-binary==2.9.13" in (REPO / "constraints.txt").read_text().split()
    assert _instructions(parser, "USER") == ["10001"]
    assert '"prefect", "worker", "start", "--pool", "cpu-pool"' in parser.cmd


def test_gpu_image_has_cuda_torch_vllm_the_project_and_runs_the_grpo_job():
    parser = _parsed("Dockerfile.gpu")
    assert parser.baseimage.startswith("nvidia/cuda:") and "cudnn-runtime" in parser.baseimage
    runs = " ".join(_instructions(parser, "RUN"))
    assert "uv venv --python 3.11" in runs and "-c constraints.txt ." in runs
    assert "-r /tmp/requirements-vllm.txt" in runs
    lines = (DOCKER / "requirements-vllm.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if not line.startswith("#"))
    assert pins["vllm"] == "0.32.0" and pins["torch"] == "2.13.0" and pins["trl"] == "1.16.0"
    assert re.search(r"^torch==2\.13\.0$", (REPO / "constraints.txt").read_text(), re.M)
    assert _instructions(parser, "USER") == []  # SageMaker writes /opt/ml as the image's default user
    assert parser.cmd == '["python", "-m", "components.grpo.job"]'


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_build_context_sends_only_what_the_image_copies(name):
    ignore = (DOCKER / f"{name}.dockerignore").read_text().splitlines()
    assert ignore[1] == "*" or "*" in ignore  # deny by default: no .venv, .git, artifacts, mlflow.db, infra/.env
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for value in _instructions(_parsed(name), "COPY"):
        sources = [s for s in value.split()[:-1] if not s.startswith("--")]
        for source in sources:
            if not source.startswith("/"):
                assert source.rstrip("/") in allowed or source.startswith("infra/docker/"), (name, source)
