"""The accelerate target: a real `accelerate launch` subprocess (infra/accelerate/cpu.yaml) running the grpo
component through components.grpo.job, logging under the step's MLflow run."""

from __future__ import annotations

import json
import os
import sys

import mlflow
import pytest
import yaml

from components.grpo.compute.accelerate import _stream, accelerate_config
from components.grpo.train import train_policies
from tests.components.grpo.grpo_inputs import grpo_inputs


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    for name, kind in [("cpu", "NO"), ("single_gpu", "NO"), ("multi_gpu_deepspeed_zero2", "DEEPSPEED")]:
        path = accelerate_config(f"infra/accelerate/{name}.yaml")
        assert load_config_from_file(str(path)).distributed_type.value == kind
    zero2 = yaml.safe_load(accelerate_config("infra/accelerate/multi_gpu_deepspeed_zero2.yaml").read_text())
    deepspeed = json.loads(accelerate_config(zero2["deepspeed_config"]["deepspeed_config_file"]).read_text())
    assert deepspeed["zero_optimization"]["stage"] == 2


def test_missing_accelerate_config_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match=r"infra/accelerate/\{cpu.yaml,multi_gpu_deepspeed_zero2.yaml,single"):
        accelerate_config("infra/accelerate/nope.yaml")


@pytest.mark.slow
def test_grpo_under_accelerate_launch(project, model_cache, capfd):
    params, data, reward_models = grpo_inputs(project, model_cache, "grpo.compute={target: accelerate}")
    out = project / "artifacts" / "policies"
    mlflow.set_tracking_uri(params.tracking.uri)
    with mlflow.start_run(run_name="grpo") as step_run:
        summary = train_policies(params, data, reward_models, out)

    assert "accelerate launch --config_file" in capfd.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["name"] for m in manifest] == ["policy-0"]
    assert (out / "policy-0" / "config.json").exists()
    assert summary["policies"] == 1
    assert summary["usage"]["time/grpo_job_seconds"] > 0
    runs = mlflow.search_runs(experiment_ids=[step_run.info.experiment_id])
    job = runs[runs["tags.mlflow.runName"] == "grpo-job/accelerate"]
    assert job["tags.mlflow.parentRunId"].tolist() == [step_run.info.run_id]
    assert job["tags.compute.target"].tolist() == ["accelerate"]
    assert job["metrics.time/grpo_job_cpu_seconds"].iloc[0] > 0
    policy_runs = runs[runs["tags.mlflow.runName"] == "grpo/policy-0"]
    assert policy_runs["tags.mlflow.parentRunId"].tolist() == job["run_id"].tolist()


def test_failed_subprocess_reports_its_last_lines(capfd):
    script = "import sys\nfor i in range(40): print(f'line {i}')\nsys.exit(3)"
    code, tail = _stream([sys.executable, "-c", script], dict(os.environ), timeout=60)
    assert code == 3
    assert tail[0] == "line 15" and tail[-1] == "line 39"  # the last 25 lines, for the error message
    assert "line 0" in capfd.readouterr().out  # every line was echoed as it came


def test_subprocess_past_its_timeout_is_stopped():
    code, tail = _stream([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ), timeout=0.5)
    assert code != 0
    assert "stopped after" in tail[-1] and "timeout_minutes" in tail[-1]
