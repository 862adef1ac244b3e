"""Plays SageMaker's part for a training job created on moto's server, on this machine: what SageMaker does
around the image, so the image's entry point (`python -m components.grpo.job`) runs on the staged inputs.

Moto records jobs but runs no containers. This does, as SageMaker would: each channel's S3 prefix into
`<root>/input/data/<channel>`, the job's Environment and the training toolkit's SM_* variables, the
ContainerEntrypoint run, its output to the CloudWatch log stream `<job>/algo-1-<time>`, /opt/ml/model as
`<S3OutputPath>/<job>/output/model.tar.gz` and /opt/ml/output/data as `output.tar.gz` beside it.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3

from components.grpo.compute.sagemaker import split_s3
from components.grpo.compute.sagemaker_jobs import LOG_GROUP


def run_container(endpoint: str, request: dict, root: Path, cwd: Path) -> subprocess.CompletedProcess:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    env = {**os.environ, **request["Environment"], **download_channels(endpoint, request, root)}
    for sub in ("model", "output/data", "checkpoints"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        SM_MODEL_DIR=str(root / "model"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        PARETOFLOW_CHECKPOINT_DIR=str(root / "checkpoints"),
    )
    entry = request["AlgorithmSpecification"]["ContainerEntrypoint"]
    command = [sys.executable if entry[0] == "python" else entry[0], *entry[1:]]
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    name = request["TrainingJobName"]
    write_log(endpoint, f"{name}/algo-1-{int(time.time())}", (result.stdout + result.stderr).splitlines())
    out_bucket, out_prefix = split_s3(request["OutputDataConfig"]["S3OutputPath"])
    for folder, archive in ((root / "model", "model.tar.gz"), (root / "output" / "data", "output.tar.gz")):
        s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}/{name}/output/{archive}", Body=_targz(folder))
    return result


def download_channels(endpoint: str, request: dict, root: Path) -> dict[str, str]:
    """Each channel's S3 prefix into `<root>/input/data/<channel>`; returns the SM_CHANNEL_* variables."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    channels = {}
    for channel in request["InputDataConfig"]:
        name, uri = channel["ChannelName"], channel["DataSource"]["S3DataSource"]["S3Uri"]
        local = root / "input" / "data" / name
        bucket, prefix = split_s3(uri)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                target = local / obj["Key"][len(prefix) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
        channels[f"SM_CHANNEL_{name.upper()}"] = str(local)
    return channels


def _targz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def write_log(endpoint: str, stream: str, lines: list[str]) -> None:
    """Lines into a stream of SageMaker's log group, as the container's output reaches CloudWatch."""
    logs = boto3.client("logs", endpoint_url=endpoint)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    events = [{"timestamp": now + i, "message": line or " "} for i, line in enumerate(lines)]
    if events:
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)
