"""The `sagemaker` target: GRPO as a SageMaker training job running the GPU image of infra/docker.

submit: stage the inputs (artifacts/data, artifacts/reward_models, the resolved params) to S3 and create the
job (managed spot with a checkpoint S3 URI keyed on the inputs, so a re-run resumes from the last
checkpoint). collect: poll its status with the tail of its CloudWatch log, stop on Failed/Stopped with the
reason, download model.tar.gz into the policies folder, and log instance type, billable time and cost.
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

from components.grpo.compute.environment import active_run_id, tracking_environment
from paretoflow import paths, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params, SagemakerCompute
from paretoflow.step_params import SECTIONS

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENTRYPOINT = ["python", "-m", "components.grpo.job"]
DONE = ("Completed", "Failed", "Stopped")


class Aws:
    """boto3 clients for one target (region and endpoint from params, credentials from the environment)."""

    def __init__(self, target: SagemakerCompute):
        import boto3

        kwargs = {"region_name": target.region, "endpoint_url": target.endpoint_url}
        self.s3 = boto3.client("s3", **kwargs)
        self.sagemaker = boto3.client("sagemaker", **kwargs)
        self.logs = boto3.client("logs", **kwargs)


def run_training_job(
    params: Params, target: SagemakerCompute, data_dir: Path, reward_models_dir: Path, out_dir: Path
) -> dict:
    aws = Aws(target)
    job = submit(aws, params, target, data_dir, reward_models_dir)
    return collect(aws, target, job, out_dir)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


def job_name(prefix: str = "paretoflow-grpo") -> str:
    """Unique, within SageMaker's 63 characters [a-zA-Z0-9-]."""
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:6]}"


def inputs_key(params: Params, data_dir: Path, reward_models_dir: Path) -> str:
    """Same params and inputs, same key: the checkpoint prefix a re-run of the same step resumes from."""
    payload = {
        "params": params.section_hash(*SECTIONS["grpo"]),
        "data": dvc_md5(data_dir),
        "reward_models": dvc_md5(reward_models_dir),
    }
    if params.sft.enabled:
        payload["start_policy"] = dvc_md5(_sft_dir(reward_models_dir))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _sft_dir(reward_models_dir: Path) -> Path:
    """The sft step's output beside the reward models (as the grpo step finds its start policy)."""
    return Path(reward_models_dir).parent / paths.SFT.name


def upload_dir(s3, local: Path, bucket: str, prefix: str) -> int:
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
    return len(files)


def training_job_request(
    name: str, params: Params, target: SagemakerCompute, channels: dict[str, str], checkpoint_uri: str
) -> dict:
    """The CreateTrainingJob request: the image's job entry point (`components.grpo.job`), one S3 channel per
    input, spot with checkpoints, and the MLflow run to log into."""
    uri = target.tracking_uri or params.tracking.uri
    if not uri.startswith(("http://", "https://", "databricks")):
        print(
            f"[sagemaker] warning: MLflow at {uri} is not reachable from AWS; set grpo.compute.tracking_uri to an "
            "MLflow server URL so the job's metrics reach this run",
            flush=True,
        )
    environment = tracking_environment(uri, active_run_id())
    stopping = {"MaxRuntimeInSeconds": target.max_run_seconds}
    if target.spot:
        stopping["MaxWaitTimeInSeconds"] = target.max_wait_seconds or 2 * target.max_run_seconds
    request = {
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
        "CheckpointConfig": {"S3Uri": checkpoint_uri, "LocalPath": "/opt/ml/checkpoints"},
        "Environment": environment,
        "Tags": [{"Key": "paretoflow.step", "Value": "grpo"}, {"Key": "paretoflow.profile", "Value": params.profile}],
    }
    return request


def submit(aws: Aws, params: Params, target: SagemakerCompute, data_dir: Path, reward_models_dir: Path) -> dict:
    """Stage the inputs and create the job; returns its name, request and S3 locations."""
    name = job_name()
    bucket, prefix = split_s3(target.s3_prefix)
    staged = f"{prefix}/inputs/{name}".lstrip("/")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "params.yaml").write_text(params.to_yaml())
        sources = {"data": Path(data_dir), "reward_models": Path(reward_models_dir), "params": Path(tmp)}
        if params.sft.enabled:  # the start policy, where the job looks for it: beside its reward models channel
            sources["sft"] = _sft_dir(reward_models_dir)
        channels = {}
        for channel, local in sources.items():
            if not local.is_dir():
                raise FileNotFoundError(f"{local} not found: run the steps before grpo first (paretoflow run)")
            count = upload_dir(aws.s3, local, bucket, f"{staged}/{channel}")
            if count:  # SageMaker refuses a channel with no objects (no reward models: concision-only objectives)
                channels[channel] = f"s3://{bucket}/{staged}/{channel}"
            print(f"[sagemaker] staged {channel}: {count} files -> s3://{bucket}/{staged}/{channel}", flush=True)
    checkpoint_uri = f"{target.s3_prefix.rstrip('/')}/checkpoints/{inputs_key(params, data_dir, reward_models_dir)}"
    request = training_job_request(name, params, target, channels, checkpoint_uri)
    aws.sagemaker.create_training_job(**request)
    print(f"[sagemaker] created training job {name} on {target.instance_type} (spot: {target.spot})", flush=True)
    tracking.set_tags(
        {"compute.target": "sagemaker", "compute.job_name": name, "compute.instance_type": target.instance_type}
    )
    return {"name": name, "request": request, "checkpoint_uri": checkpoint_uri}


def collect(aws: Aws, target: SagemakerCompute, job: dict, out_dir: Path, sleep=time.sleep) -> dict:
    """Wait for the job, then bring its policies into `out_dir` and log what it cost."""
    description = wait(aws, job["name"], target.poll_seconds, target.log_lines, sleep)
    raise_unless_completed(description, job["checkpoint_uri"])
    summary = download_outputs(aws, description, Path(out_dir))
    cost = job_cost(description, target.prices)
    tracking.log_metrics({f"compute/{k}": v for k, v in cost.items() if isinstance(v, int | float)})
    return {**summary, "compute": {"target": "sagemaker", "job_name": job["name"], **cost}}


def wait(aws: Aws, name: str, poll_seconds: float, log_lines: int, sleep=time.sleep) -> dict:
    """Poll until the job ends, printing each status change and the new lines of its log."""
    started, last, seen = time.monotonic(), None, {}
    while True:
        description = aws.sagemaker.describe_training_job(TrainingJobName=name)
        status = (description["TrainingJobStatus"], description.get("SecondaryStatus"))
        if status != last:
            message = _last_status_message(description)
            elapsed = time.monotonic() - started
            print(f"[sagemaker] {name}: {status[0]} / {status[1]} after {elapsed:.0f} s{message}", flush=True)
            last = status
        for line in new_log_lines(aws.logs, name, seen)[-log_lines:] if log_lines else []:
            print(f"[sagemaker] | {line}", flush=True)
        if status[0] in DONE:
            return description
        sleep(poll_seconds)


def _last_status_message(description: dict) -> str:
    transitions = description.get("SecondaryStatusTransitions") or []
    message = transitions[-1].get("StatusMessage") if transitions else None
    return f": {message}" if message else ""


def new_log_lines(logs, name: str, seen: dict[str, str]) -> list[str]:
    """Lines written since the last call, from every log stream of the job (one per instance); `seen` keeps
    each stream's forward token between calls. A job still starting has no log group or stream yet."""
    try:
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    lines = []
    for stream in streams:
        stream_name = stream["logStreamName"]
        kwargs = {"logGroupName": LOG_GROUP, "logStreamName": stream_name, "startFromHead": True}
        if stream_name in seen:
            kwargs["nextToken"] = seen[stream_name]
        while True:
            page = logs.get_log_events(**kwargs)
            lines.extend(event["message"].rstrip() for event in page["events"])
            token = page.get("nextForwardToken")
            if not page["events"] or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        seen[stream_name] = token
    return lines


def raise_unless_completed(description: dict, checkpoint_uri: str) -> None:
    name, status = description["TrainingJobName"], description["TrainingJobStatus"]
    if status == "Completed":
        return
    reason = description.get("FailureReason") or "SageMaker gave no reason"
    logs = f"aws logs tail {LOG_GROUP} --log-stream-name-prefix {name}/"
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
