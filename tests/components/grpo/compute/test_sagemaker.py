"""The sagemaker target against moto's server on loopback: the CreateTrainingJob request (checked by botocore
against the API model), the status poll with the job's CloudWatch log tail, errors on Failed/Stopped, the
cost estimate; and, end to end, the job's entry point run on the inputs staged to S3."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import mlflow
import pytest

from components.grpo.compute.sagemaker import (
    Aws,
    collect,
    job_cost,
    raise_unless_completed,
    submit,
    training_job_request,
)
from components.grpo.compute.sagemaker_jobs import new_log_lines, wait
from paretoflow.config import load_params
from tests.components.grpo.grpo_inputs import grpo_inputs
from tests.components.grpo.sagemaker_container import run_container, write_log
from tests.components.grpo.sagemaker_launcher import sagemaker
from tests.conftest import REPO
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)


def test_request_is_a_valid_spot_job_with_checkpoints(s3_endpoint, capsys):  # noqa: F811
    mlflow_server = "grpo.compute.tracking_uri=http://mlflow.internal:5000"
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "req", mlflow_server)])
    target = params.grpo.compute
    channels = {c: f"s3://req/runs/inputs/job-1/{c}" for c in ("data", "reward_models", "params")}
    request = training_job_request("job-1", params, target, channels, "s3://req/runs/checkpoints/abc")
    client = boto3.client("sagemaker", endpoint_url=s3_endpoint)
    client.create_training_job(**request)  # botocore validates every field against the API model first
    described = client.describe_training_job(TrainingJobName="job-1")
    assert described["EnableManagedSpotTraining"] is True
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    assert described["CheckpointConfig"]["S3Uri"] == "s3://req/runs/checkpoints/abc"
    assert described["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert described["AlgorithmSpecification"]["ContainerEntrypoint"] == ["python", "-m", "components.grpo.job"]
    assert {c["ChannelName"] for c in described["InputDataConfig"]} == set(channels)
    assert request["Environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000"
    assert "not reachable from AWS" not in capsys.readouterr().out


def test_local_tracking_store_is_flagged(s3_endpoint, capsys):  # noqa: F811
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "b")])
    request = training_job_request("job-3", params, params.grpo.compute, {"data": "s3://b/d"}, "s3://b/c")
    assert request["Environment"]["MLFLOW_TRACKING_URI"] == f"sqlite:///{REPO / 'mlflow.db'}"  # absolute
    assert "MLflow at sqlite:///mlflow.db is not reachable from AWS" in capsys.readouterr().out


def test_on_demand_job_has_no_wait_time(s3_endpoint):  # noqa: F811
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "b")])
    target = params.grpo.compute.model_copy(update={"spot": False})
    request = training_job_request("job-2", params, target, {"data": "s3://b/d"}, "s3://b/c")
    assert request["EnableManagedSpotTraining"] is False
    assert "MaxWaitTimeInSeconds" not in request["StoppingCondition"]


def test_log_tail_reads_only_new_lines(s3_endpoint):  # noqa: F811
    logs = boto3.client("logs", endpoint_url=s3_endpoint)
    seen: dict[str, str] = {}
    assert new_log_lines(logs, "job-logs", seen) == []  # no log group yet: a job still starting
    write_log(s3_endpoint, "other-job/algo-1-1", ["not this job"])
    write_log(s3_endpoint, "job-logs/algo-1-1", ["step 1", "step 2"])
    assert new_log_lines(logs, "job-logs", seen) == ["step 1", "step 2"]
    write_log(s3_endpoint, "job-logs/algo-1-1", ["step 3"])
    assert new_log_lines(logs, "job-logs", seen) == ["step 3"]
    assert new_log_lines(logs, "job-logs", seen) == []


def test_wait_reports_status_and_log_tail(s3_endpoint, capsys):  # noqa: F811
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "w")])
    request = training_job_request("job-wait", params, params.grpo.compute, {"data": "s3://w/d"}, "s3://w/c")
    aws = Aws(params.grpo.compute)
    aws.sagemaker.create_training_job(**request)
    write_log(s3_endpoint, "job-wait/algo-1-1", [f"line {i}" for i in range(1, 6)])
    description = wait(aws, "job-wait", poll_seconds=0.01, log_lines=2)
    out = capsys.readouterr().out
    assert description["TrainingJobStatus"] == "Completed"
    assert "job-wait: Completed / Completed" in out
    assert "| line 4" in out and "| line 5" in out and "| line 3" not in out


def described(status: str, **extra) -> dict:
    return {"TrainingJobName": "job-x", "TrainingJobStatus": status, "SecondaryStatus": status, **extra}


def test_failed_job_raises_with_the_reason():
    with pytest.raises(RuntimeError, match=r"job-x failed: AlgorithmError: CUDA out of memory.*aws logs tail"):
        raise_unless_completed(described("Failed", FailureReason="AlgorithmError: CUDA out of memory"), "s3://b/c")
    with pytest.raises(RuntimeError, match=r"job-x was stopped .*MaxWaitTime exceeded.*s3://b/c; re-run"):
        raise_unless_completed(described("Stopped", FailureReason="MaxWaitTime exceeded"), "s3://b/c")
    raise_unless_completed(described("Completed"), "s3://b/c")


def test_cost_uses_billable_seconds_and_the_price_table():
    resources = {"ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 2}}
    cost = job_cost({**resources, "TrainingTimeInSeconds": 3600, "BillableTimeInSeconds": 1080}, {"ml.g5.xlarge": 1.5})
    assert cost["spot_savings"] == 0.7
    assert cost["cost_usd"] == pytest.approx(1080 * 2 * 1.5 / 3600)
    assert cost["on_demand_cost_usd"] == pytest.approx(3.0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    timed = {**resources, "TrainingStartTime": start, "TrainingEndTime": start + timedelta(minutes=30)}
    assert job_cost(timed, {})["training_seconds"] == 1800
    assert "cost_usd" not in job_cost(timed, {})


@pytest.mark.slow
def test_job_entry_point_runs_on_staged_inputs(project, model_cache, s3_endpoint, capsys):  # noqa: F811
    """...and reads its MLflow password from the secret store: no log line, job definition or staged file holds it."""
    make_bucket(s3_endpoint, "pf-jobs")
    secret = "e2e-Canary-Password-5b1d"
    boto3.client("secretsmanager", endpoint_url=s3_endpoint).create_secret(Name="pf-e2e/mlflow", SecretString=secret)
    stored = "grpo.compute.secrets={MLFLOW_TRACKING_PASSWORD: pf-e2e/mlflow}"
    params, data, reward_models = grpo_inputs(project, model_cache, *sagemaker(s3_endpoint, "pf-jobs", stored))
    target = params.grpo.compute
    aws = Aws(target)
    out = project / "artifacts" / "policies"
    mlflow.set_tracking_uri(params.tracking.uri)
    with mlflow.start_run(run_name="grpo") as step_run:
        job = submit(aws, params, target, data, reward_models)
        container = run_container(s3_endpoint, job["request"], project / "opt-ml", cwd=project)
        assert container.returncode == 0, container.stderr[-3000:]
        summary = collect(aws, target, job, out)

    printed = capsys.readouterr().out
    assert f"created training job {job['name']} on ml.g5.xlarge (spot: True)" in printed
    assert "[credentials] from the secret store: MLFLOW_TRACKING_PASSWORD" in container.stdout
    described = boto3.client("sagemaker", endpoint_url=s3_endpoint).describe_training_job(TrainingJobName=job["name"])
    staged = (project / "opt-ml" / "input" / "data" / "params" / "params.yaml").read_text()
    for place in (printed, container.stdout, container.stderr, json.dumps(described, default=str), staged):
        assert secret not in place
    assert [c["ChannelName"] for c in job["request"]["InputDataConfig"]] == ["data", "params"]  # no empty channel
    assert "| " in printed  # the container's log tail, read back from CloudWatch
    assert json.loads((out / "manifest.json").read_text())[0]["name"] == "policy-0"
    assert (out / "policy-0" / "config.json").exists()
    assert not list(out.rglob("checkpoint-*"))
    assert summary["compute"]["instance_type"] == "ml.g5.xlarge"
    assert summary["usage"]["time/grpo_job_seconds"] > 0
    assert (project / "opt-ml" / "checkpoints" / "policies" / "manifest.json").exists()  # trained in the synced dir
    runs = mlflow.search_runs(experiment_ids=[step_run.info.experiment_id])
    step = runs[runs["run_id"] == step_run.info.run_id].iloc[0]
    assert step["tags.compute.job_name"] == job["name"]
    assert step["metrics.compute/price_per_hour"] == 1.408
    job_run = runs[runs["tags.mlflow.runName"] == "grpo-job/sagemaker"]
    assert job_run["tags.mlflow.parentRunId"].tolist() == [step_run.info.run_id]


def test_the_start_policy_is_staged_and_keys_the_checkpoints(s3_endpoint, tmp_path):  # noqa: F811
    """With sft on, the job's start policy travels as channel `sft` (beside `reward_models`, where the job finds
    it) and a new start policy means new checkpoints."""
    from components.grpo.compute.sagemaker import inputs_key

    make_bucket(s3_endpoint, "pf-sft")
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "pf-sft")])
    data, reward_models, sft = (tmp_path / "artifacts" / name for name in ("data", "reward_models", "sft"))
    for folder, text in ((data, "rows"), (reward_models, "model"), (sft / "policy", "weights")):
        folder.mkdir(parents=True)
        (folder / "file.txt").write_text(text)
    key = inputs_key(params, data, reward_models)
    job = submit(Aws(params.grpo.compute), params, params.grpo.compute, data, reward_models)
    channels = {c["ChannelName"] for c in job["request"]["InputDataConfig"]}
    assert channels == {"data", "reward_models", "params", "sft"}
    (sft / "policy" / "file.txt").write_text("other weights")
    assert inputs_key(params, data, reward_models) != key
    off = load_params(REPO / "params.yaml", ["profile=tiny", "sft.enabled=false", *sagemaker(s3_endpoint, "pf-sft")])
    job = submit(Aws(off.grpo.compute), off, off.grpo.compute, data, reward_models)
    assert "sft" not in {c["ChannelName"] for c in job["request"]["InputDataConfig"]}


def _rubrics(folder, principle: str) -> None:
    """What the rubrics step writes: kept rubrics per prompt and objective, and the mined principles."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"prompt_id": "p1", "objective": "helpfulness", "consistency": "consistent"},
        {"prompt_id": "p2", "objective": "helpfulness", "consistency": "inconsistent"},
    ]
    for row in rows:
        row.update(hard_rules=[f"answer {row['prompt_id']}"], principles=[principle])
    pd.DataFrame(rows).to_parquet(folder / "rubrics.parquet", index=False)
    (folder / "principles.json").write_text(json.dumps({"helpfulness": [principle]}))


def test_rubrics_are_staged_where_the_job_reads_them(s3_endpoint, tmp_path):  # noqa: F811
    """Rubric rewards read the rubrics step's output beside the reward models. It used to stay behind, so in the job
    every prompt fell back to a prompt-only rubric; now it travels as channel `rubrics`, lands beside the reward
    models channel, and a new rubric table means new checkpoints."""
    from components.grpo.compute.sagemaker import inputs_key
    from components.scorers.objectives import ScorerContext
    from components.scorers.rubric import stored_rubrics
    from tests.components.grpo.sagemaker_container import download_channels

    make_bucket(s3_endpoint, "pf-rubrics")
    rubric = "objectives=[{name: helpfulness, scorer: rubric}, {name: concision, scorer: concision}]"
    params = load_params(
        REPO / "params.yaml",
        [
            "profile=tiny",
            rubric,
            "sft.enabled=false",
            "grpo.weights=[{helpfulness: 0.5, concision: 0.5}]",
            *sagemaker(s3_endpoint, "pf-rubrics"),
        ],
    )
    data, reward_models, rubrics = (tmp_path / "artifacts" / name for name in ("data", "reward_models", "rubrics"))
    for folder in (data, reward_models):
        folder.mkdir(parents=True)
        (folder / "file.txt").write_text(folder.name)
    _rubrics(rubrics, "cite the user's own words")
    key = inputs_key(params, data, reward_models)

    job = submit(Aws(params.grpo.compute), params, params.grpo.compute, data, reward_models)
    assert {c["ChannelName"] for c in job["request"]["InputDataConfig"]} == {
        "data",
        "reward_models",
        "params",
        "rubrics",
    }
    channels = download_channels(s3_endpoint, job["request"], tmp_path / "opt-ml")
    in_job = ScorerContext(params, Path(channels["SM_CHANNEL_REWARD_MODELS"]))  # as the job's scorers see it
    stored, mined = stored_rubrics(in_job.rubrics_dir, "helpfulness")
    assert stored == {"p1": {"hard_rules": ["answer p1"], "principles": ["cite the user's own words"]}}
    assert mined == ["cite the user's own words"]

    _rubrics(rubrics, "ask before advising")
    assert inputs_key(params, data, reward_models) != key
    shutil.rmtree(rubrics)
    with pytest.raises(FileNotFoundError, match="artifacts/rubrics does not exist"):
        submit(Aws(params.grpo.compute), params, params.grpo.compute, data, reward_models)


def test_the_job_definition_names_its_secrets_and_holds_no_credential(s3_endpoint):  # noqa: F811
    """Before: grpo.compute.tracking_uri went into the job's Environment as given, password and all."""
    from paretoflow.credentials import CredentialError

    stored = "grpo.compute.secrets={MLFLOW_TRACKING_PASSWORD: paretoflow/mlflow-password}"
    params = load_params(REPO / "params.yaml", ["profile=tiny", *sagemaker(s3_endpoint, "b", stored)])
    target = params.grpo.compute.model_copy(update={"tracking_uri": "https://mlflow.example.com"})
    request = training_job_request("job-s", params, target, {"data": "s3://b/d"}, "s3://b/c", "eu-west-1")
    boto3.client("sagemaker", endpoint_url=s3_endpoint).create_training_job(**request)  # a valid request
    assert request["Environment"] == {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "PARETOFLOW_SECRETS": '{"MLFLOW_TRACKING_PASSWORD": "paretoflow/mlflow-password"}',
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": s3_endpoint,
    }
    leaky = target.model_copy(update={"tracking_uri": "https://pf:Pw-in-uri-99@mlflow.example.com"})
    with pytest.raises(CredentialError, match=r"MLFLOW_TRACKING_URI in the environment of training job job-s") as no:
        training_job_request("job-s", params, leaky, {"data": "s3://b/d"}, "s3://b/c")
    assert "Pw-in-uri-99" not in str(no.value)
