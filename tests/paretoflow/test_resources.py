"""Step usage: CPU seconds count this process and its finished children; no GPU seconds without a GPU."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from paretoflow.resources import Meter


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_seconds_count_own_work_and_children():
    meter = Meter()
    burn(0.3)
    own = meter.cpu_seconds()
    assert own >= 0.3
    subprocess.run(
        [sys.executable, "-c", "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"],
        check=True,
    )
    assert meter.cpu_seconds() >= own + 0.5


def test_metrics_names_and_wall_time():
    meter = Meter()
    time.sleep(0.2)
    metrics = meter.metrics("grpo")
    assert metrics["time/grpo_seconds"] >= 0.2
    assert metrics["time/grpo_cpu_seconds"] < 0.2  # sleeping costs no CPU
    import glob

    assert ("time/grpo_gpu_seconds" in metrics) == bool(glob.glob("/dev/nvidia[0-9]*"))


def test_every_step_logs_wall_and_cpu_seconds(project, model_cache):
    import mlflow

    from paretoflow.config import load_params
    from paretoflow.steps import execute
    from tests.conftest import tiny

    params = load_params("params.yaml", tiny(project, model_cache))
    result = execute("ingest", params)
    metrics = mlflow.get_run(result["run_id"]).data.metrics
    assert metrics["time/ingest_seconds"] == pytest.approx(result["seconds"], abs=0.05)
    assert metrics["time/ingest_cpu_seconds"] > 0
