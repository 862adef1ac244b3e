"""infra/prefect.yaml through the real `prefect deploy` against the stack's Prefect server: three deployments on a
cpu and a gpu work pool, the cron schedule, the tracking URI filled in from the deploying shell, UI-editable params."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest

from paretoflow.config import load_params
from tests.conftest import REPO, copy_project
from tests.servers import BIN

pytestmark = pytest.mark.slow


def test_prefect_yaml_deploys_on_a_cpu_and_a_gpu_pool(stack, tmp_path):
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    (root := tmp_path / "project").mkdir()
    copy_project(root)
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "infra").mkdir()
    shutil.copy2(REPO / "infra/prefect.yaml", root / "infra/prefect.yaml")
    env = {
        **os.environ,
        "PREFECT_API_URL": stack.prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
    }
    env.pop("PARETOFLOW_PROJECT_DIR", None)

    def prefect(*args: str) -> str:
        out = subprocess.run([str(BIN / "prefect"), *args], cwd=root, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"prefect {' '.join(args)}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}"
        return out.stdout

    for pool in ("cpu-pool", "gpu-pool"):
        prefect("work-pool", "create", pool, "--type", "process", "--overwrite")
    prefect("--no-prompt", "deploy", "--prefect-file", "infra/prefect.yaml", "--all")

    async def deployments():
        async with get_client() as client:
            return {d.name: d for d in await client.read_deployments()}

    with temporary_settings({PREFECT_API_URL: stack.prefect_api}):
        deployed = asyncio.run(deployments())
    assert {"scheduled-retrain", "manual-retrain", "promote"} <= set(deployed)
    assert {n: deployed[n].work_pool_name for n in ("scheduled-retrain", "manual-retrain", "promote")} == {
        "scheduled-retrain": "gpu-pool",
        "manual-retrain": "gpu-pool",
        "promote": "cpu-pool",
    }
    retrain = deployed["scheduled-retrain"]
    (schedule,) = retrain.schedules
    assert schedule.schedule.cron == load_params(REPO / "params.yaml").serve.cron and schedule.active
    assert retrain.parameters["overrides"] == ["tracking.uri=http://mlflow.internal:5000", "profile=gpu"]
    schema = retrain.parameter_openapi_schema["properties"]
    assert {"params_file", "overrides", "force", "until"} <= set(schema)  # the form the UI shows
    (pull,) = retrain.pull_steps
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $PARETOFLOW_PROJECT_DIR }}"
    assert deployed["promote"].parameters["dry_run"] is False
    for name in ("scheduled-retrain", "manual-retrain"):  # one run at a time, later ones queued
        assert deployed[name].global_concurrency_limit.limit == 1, name
        assert deployed[name].concurrency_options.collision_strategy == "ENQUEUE", name
