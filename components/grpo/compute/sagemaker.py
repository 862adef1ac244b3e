"""The `sagemaker` target: GRPO as a SageMaker training job running the GPU image of infra/docker.

A run first looks for a job still running for the same inputs (named after their key: a launcher killed before
it could stop its job) and re-attaches to it. Otherwise it stages the inputs (artifacts/data, artifacts/reward_models,
the rubrics and the start policy where the objectives need them, the resolved params) to S3 and creates the job:
managed spot with a checkpoint S3 URI keyed on the inputs, so a re-run resumes from the last checkpoint. The wait
(sagemaker_jobs) prints the status and the tail of its CloudWatch log, has a deadline, and stops the job when the
step ends early; then model.tar.gz lands in the policies folder, with instance type, billable time and cost logged.
Tokens reach the job from AWS Secrets Manager (grpo.compute.secrets), never in its definition.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from components.grpo.compute import sagemaker_jobs as jobs
from components.grpo.compute.environment import active_run_id, tracking_environment
from components.grpo.rewards import audit_objectives
from paretoflow import credentials, paths, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params, SagemakerCompute
from paretoflow.step_params import SECTIONS, result_settings

ENTRYPOINT = ["python", "-m", "components.grpo.job"]
START_SLACK_SECONDS = 3600  # beyond the stopping condition: queueing for capacity, staging, uploading the model


class Aws:
    """boto3 clients for one target (region and endpoint from params, credentials from the environment), retrying
    throttling, 5xx and connection errors with exponential backoff and jitter (botocore's standard mode)."""

    def __init__(self, target: SagemakerCompute):
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 10})
        kwargs = {"region_name": target.region, "endpoint_url": target.endpoint_url, "config": config}
        self.s3 = boto3.client("s3", **kwargs)
        self.sagemaker = boto3.client("sagemaker", **kwargs)
        self.logs = boto3.client("logs", **kwargs)


def run_training_job(
    params: Params, target: SagemakerCompute, data_dir: Path, reward_models_dir: Path, out_dir: Path
) -> dict:
    aws = Aws(target)
    job = attach_or_submit(aws, params, target, data_dir, reward_models_dir)
    return collect(aws, target, job, out_dir)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


def job_name(key: str) -> str:
    """Unique, within SageMaker's 63 characters [a-zA-Z0-9-], and found again by its inputs key."""
    return f"{jobs.job_prefix(key)}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def checkpoint_uri(target: SagemakerCompute, key: str) -> str:
    return f"{target.s3_prefix.rstrip('/')}/checkpoints/{key}"


def inputs_key(params: Params, data_dir: Path, reward_models_dir: Path) -> str:
    """Same results-shaping params and inputs, same key: the job a re-run re-attaches to and the checkpoint prefix
    it resumes from (where and how the job runs, grpo.compute, is left out)."""
    payload = {
        "grpo": result_settings(params.grpo),
        "params": params.model_dump(mode="json", include=set(SECTIONS["grpo"]) - {"grpo"}),
        **{channel: dvc_md5(local) for channel, local in input_dirs(params, data_dir, reward_models_dir).items()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def input_dirs(params: Params, data_dir: Path, reward_models_dir: Path) -> dict[str, Path]:
    """The job's input channels: the data, the reward models, and beside them (where the job looks, as the grpo
    step does locally) the start policy with sft on and the rubrics step's output for rubric rewards."""
    reward_models_dir = Path(reward_models_dir)
    dirs = {"data": Path(data_dir), "reward_models": reward_models_dir}
    if params.sft.enabled:
        dirs["sft"] = reward_models_dir.parent / paths.SFT.name
    if "rubric" in {o.scorer for o in [*params.objectives, *audit_objectives(params)]}:
        dirs["rubrics"] = reward_models_dir.parent / paths.RUBRICS.name
    return dirs


def upload_dir(s3, local: Path, bucket: str, prefix: str) -> int:
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
    return len(files)


def training_job_request(
    name: str, params: Params, target: SagemakerCompute, channels: dict[str, str], checkpoint: str, region: str = ""
) -> dict:
    """The CreateTrainingJob request: the image's job entry point (`components.grpo.job`), one S3 channel per
    input, spot with checkpoints, the MLflow run to log into and the names (never the values) of its secrets."""
    uri = target.tracking_uri or params.tracking.uri
    if not uri.startswith(("http://", "https://", "databricks")):
        print(
            f"[sagemaker] warning: MLflow at {uri} is not reachable from AWS; set grpo.compute.tracking_uri to an "
            "MLflow server URL so the job's metrics reach this run",
            flush=True,
        )
    environment = {**tracking_environment(uri, active_run_id()), **credentials.secret_references(target.secrets)}
    if target.secrets:  # where the job's boto3 finds Secrets Manager
        environment.update({"AWS_DEFAULT_REGION": region} if region else {})
        environment.update({"AWS_ENDPOINT_URL_SECRETS_MANAGER": target.endpoint_url} if target.endpoint_url else {})
    credentials.refuse_secret_values(environment, f"the environment of training job {name}")
    stopping = {"MaxRuntimeInSeconds": target.max_run_seconds}
    if target.spot:
        stopping["MaxWaitTimeInSeconds"] = target.max_wait_seconds or 2 * target.max_run_seconds
    return {
        "TrainingJobName": name,
        "RoleArn": target.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": target.image_uri,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ENTRYPOINT,
        },
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
            for channel, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"{target.s3_prefix.rstrip('/')}/jobs"},
        "ResourceConfig": {
            "InstanceType": target.instance_type,
            "InstanceCount": target.instance_count,
            "VolumeSizeInGB": target.volume_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": target.spot,
        "CheckpointConfig": {"S3Uri": checkpoint, "LocalPath": "/opt/ml/checkpoints"},
        "Environment": environment,
        "Tags": [
            {"Key": "paretoflow.step", "Value": "grpo"},
            {"Key": "paretoflow.profile", "Value": params.profile},
        ],
    }


def attach_or_submit(
    aws: Aws, params: Params, target: SagemakerCompute, data_dir: Path, reward_models_dir: Path
) -> dict:
    """The job still running for these inputs, or a new one; a job still stopping is waited for first (a second
    job would write the same checkpoints)."""
    key = inputs_key(params, data_dir, reward_models_dir)
    found = jobs.running_job(aws.sagemaker, key)
    if found and found["TrainingJobStatus"] == "Stopping":
        print(f"[sagemaker] {found['TrainingJobName']} is still stopping; waiting for it before a new job", flush=True)
        jobs.wait(aws, found["TrainingJobName"], target.poll_seconds, 0, wait_seconds(target))
        found = None
    if found is None:
        return submit(aws, params, target, data_dir, reward_models_dir)
    name = found["TrainingJobName"]
    print(
        f"[sagemaker] re-attaching to training job {name}, still {found['TrainingJobStatus']} for these inputs "
        f"(created {found['CreationTime']:%Y-%m-%d %H:%M:%S %Z}); no second job is started",
        flush=True,
    )
    tracking.set_tags({"compute.target": "sagemaker", "compute.job_name": name, "compute.reattached": "true"})
    return {"name": name, "checkpoint_uri": checkpoint_uri(target, key), "reattached": True}


def submit(aws: Aws, params: Params, target: SagemakerCompute, data_dir: Path, reward_models_dir: Path) -> dict:
    """Stage the inputs and create the job; returns its name, request and S3 locations."""
    key = inputs_key(params, data_dir, reward_models_dir)
    name = job_name(key)
    bucket, prefix = split_s3(target.s3_prefix)
    staged = f"{prefix}/inputs/{name}".lstrip("/")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "params.yaml").write_text(params.to_yaml())
        sources = {**input_dirs(params, data_dir, reward_models_dir), "params": Path(tmp)}
        channels = {}
        for channel, local in sources.items():
            if not local.is_dir():
                raise FileNotFoundError(f"{local} not found: run the steps before grpo first (paretoflow run)")
            count = upload_dir(aws.s3, local, bucket, f"{staged}/{channel}")
            if count:  # SageMaker refuses a channel with no objects (no reward models: concision-only objectives)
                channels[channel] = f"s3://{bucket}/{staged}/{channel}"
            print(f"[sagemaker] staged {channel}: {count} files -> s3://{bucket}/{staged}/{channel}", flush=True)
    checkpoint = checkpoint_uri(target, key)
    request = training_job_request(name, params, target, channels, checkpoint, aws.sagemaker.meta.region_name)
    request["Tags"].append({"Key": "paretoflow.inputs_key", "Value": key})
    jobs.call(f"creating training job {name}", aws.sagemaker.create_training_job, **request)
    print(f"[sagemaker] created training job {name} on {target.instance_type} (spot: {target.spot})", flush=True)
    tracking.set_tags(
        {"compute.target": "sagemaker", "compute.job_name": name, "compute.instance_type": target.instance_type}
    )
    return {"name": name, "request": request, "checkpoint_uri": checkpoint}


def wait_seconds(target: SagemakerCompute) -> float:
    """grpo.compute.wait_seconds, or the longest the stopping condition lets the job run plus time to start."""
    if target.wait_seconds is not None:
        return target.wait_seconds
    longest = (target.max_wait_seconds or 2 * target.max_run_seconds) if target.spot else target.max_run_seconds
    return longest + START_SLACK_SECONDS


def collect(aws: Aws, target: SagemakerCompute, job: dict, out_dir: Path, sleep=time.sleep) -> dict:
    """Wait for the job (stopping it if the wait ends early), then bring its policies into `out_dir` and log what
    it cost."""
    with jobs.stopped_on_exit(aws.sagemaker, job["name"]):
        description = jobs.wait(aws, job["name"], target.poll_seconds, target.log_lines, wait_seconds(target), sleep)
    raise_unless_completed(description, job["checkpoint_uri"])
    summary = download_outputs(aws, description, Path(out_dir))
    cost = job_cost(description, target.prices)
    tracking.log_metrics({f"compute/{k}": v for k, v in cost.items() if isinstance(v, int | float)})
    return {**summary, "compute": {"target": "sagemaker", "job_name": job["name"], **cost}}


def forget_checkpoints(
    params: Params, data_dir: Path = paths.DATA, reward_models_dir: Path = paths.REWARD_MODELS
) -> int:
    """Before a forced run (`paretoflow run --force`): the job of these inputs is stopped if one still runs, and
    its S3 checkpoints (the finished markers of its policies among them) are deleted; returns the files deleted."""
    target = params.grpo.compute
    aws = Aws(target)
    key = inputs_key(params, data_dir, reward_models_dir)
    found = jobs.running_job(aws.sagemaker, key)
    if found is not None:
        name = found["TrainingJobName"]
        if found["TrainingJobStatus"] == "InProgress":
            jobs.stop(aws.sagemaker, name, "--force clears its checkpoints")
        jobs.wait(aws, name, target.poll_seconds, 0, wait_seconds(target))
    bucket, prefix = split_s3(checkpoint_uri(target, key))
    pages = aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
    keys = jobs.call(
        f"listing s3://{bucket}/{prefix}/", lambda: [o["Key"] for p in pages for o in p.get("Contents", [])]
    )
    for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at a time
        batch = {"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
        jobs.call(
            f"deleting checkpoints under s3://{bucket}/{prefix}/", aws.s3.delete_objects, Bucket=bucket, Delete=batch
        )
    print(f"[sagemaker] --force: deleted {len(keys)} checkpoint files under s3://{bucket}/{prefix}/", flush=True)
    return len(keys)


def raise_unless_completed(description: dict, checkpoint_uri: str) -> None:
    name, status = description["TrainingJobName"], description["TrainingJobStatus"]
    if status == "Completed":
        return
    reason = description.get("FailureReason") or "SageMaker gave no reason"
    logs = f"aws logs tail {jobs.LOG_GROUP} --log-stream-name-prefix {name}/"
    if status == "Stopped":
        raise RuntimeError(
            f"SageMaker training job {name} was stopped ({description.get('SecondaryStatus')}): {reason}. "
            f"Its checkpoints stay at {checkpoint_uri}; re-run the grpo step to resume from them."
        )
    raise RuntimeError(
        f"SageMaker training job {name} failed: {reason}. Whole log: `{logs}`. Checkpoints so far: {checkpoint_uri}."
    )


def download_outputs(aws: Aws, description: dict, out_dir: Path) -> dict:
    """model.tar.gz (the policies) into `out_dir`; the job summary from output.tar.gz beside it."""
    model_uri = description["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = split_s3(model_uri)
    summary_key = key.rsplit("/", 1)[0] + "/output.tar.gz"
    model = _get(aws.s3, bucket, key, description["TrainingJobName"])
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(model), mode="r:gz") as archive:
        archive.extractall(out_dir, filter="data")
    with tarfile.open(fileobj=io.BytesIO(_get(aws.s3, bucket, summary_key, description["TrainingJobName"]))) as out:
        member = out.extractfile("summary.json")
        if member is None:
            raise RuntimeError(f"{summary_key} holds no summary.json; the job (components.grpo.job) did not finish")
        summary = json.loads(member.read())
    print(f"[sagemaker] downloaded s3://{bucket}/{key} -> {out_dir}", flush=True)
    return summary


def _get(s3, bucket: str, key: str, name: str) -> bytes:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise RuntimeError(
            f"training job {name} completed but s3://{bucket}/{key} does not exist; the image must run "
            "`python -m components.grpo.job`, which writes /opt/ml/model and /opt/ml/output/data"
        ) from None


def job_cost(description: dict, prices: dict[str, float]) -> dict:
    """Instance type, training and billable seconds, spot savings and the estimated cost in USD.

    SageMaker bills BillableTimeInSeconds per instance (less than TrainingTimeInSeconds under spot);
    without it (a job not yet accounted) the training time stands in."""
    resources = description["ResourceConfig"]
    instance, count = resources["InstanceType"], resources.get("InstanceCount", 1)
    training = description.get("TrainingTimeInSeconds")
    if training is None and description.get("TrainingStartTime") and description.get("TrainingEndTime"):
        training = (description["TrainingEndTime"] - description["TrainingStartTime"]).total_seconds()
    training = float(training or 0)
    billable = float(description.get("BillableTimeInSeconds", training))
    out = {
        "instance_type": instance,
        "instance_count": count,
        "training_seconds": training,
        "billable_seconds": billable,
        "spot_savings": round(1 - billable / training, 4) if training else 0.0,
    }
    price = prices.get(instance)
    if price is None:
        print(f"[sagemaker] no price for {instance}: add it to grpo.compute.prices for a cost estimate", flush=True)
        return out
    out["price_per_hour"] = price
    out["cost_usd"] = round(billable * count * price / 3600, 4)
    out["on_demand_cost_usd"] = round(training * count * price / 3600, 4)
    return out
