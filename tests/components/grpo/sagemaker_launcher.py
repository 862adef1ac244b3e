"""The grpo step's SageMaker target run in a process of its own, as the pipeline runs it, for the tests that
interrupt, cancel or kill that process: `python -m tests.components.grpo.sagemaker_launcher ENDPOINT BUCKET
[plain|prefect]` in a folder holding artifacts/data and artifacts/reward_models. `prefect` runs it as a task of a
Prefect flow, whose engine turns SIGTERM (how a Prefect runner cancels a flow run) into TerminationSignal."""

from __future__ import annotations

import sys
from pathlib import Path

from paretoflow.config import load_params
from tests.conftest import REPO

ROLE = "arn:aws:iam::123456789012:role/paretoflow-sagemaker"


def sagemaker(endpoint: str, bucket: str, *extra: str) -> list[str]:
    """Overrides for the sagemaker target on a moto (or stand-in) endpoint, polling fast."""
    target = (
        f"grpo.compute={{target: sagemaker, image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/paretoflow-gpu:1,"
        f" role_arn: '{ROLE}', s3_prefix: 's3://{bucket}/runs', endpoint_url: '{endpoint}', poll_seconds: 0.01}}"
    )
    return [target, *extra]


def tiny_inputs(root: Path) -> tuple[Path, Path]:
    """artifacts/data and artifacts/reward_models with a file each: what the job stages (it never trains here)."""
    data, reward_models = root / "artifacts" / "data", root / "artifacts" / "reward_models"
    for folder in (data, reward_models):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "file.txt").write_text(folder.name)
    return data, reward_models


def launch_params(endpoint: str, bucket: str, *extra: str):
    return load_params(
        REPO / "params.yaml", ["profile=tiny", "sft.enabled=false", *sagemaker(endpoint, bucket, *extra)]
    )


def main(endpoint: str, bucket: str, how: str = "plain") -> None:
    from components.grpo.compute.sagemaker import run_training_job

    params = launch_params(endpoint, bucket, "grpo.compute.poll_seconds=0.2")
    data, reward_models = tiny_inputs(Path.cwd())

    def grpo_step() -> dict:
        return run_training_job(params, params.grpo.compute, data, reward_models, Path("artifacts/policies"))

    if how == "prefect":
        from prefect import flow, task

        @flow(name="sagemaker-launcher")
        def pipeline() -> dict:
            return task(name="grpo")(grpo_step)()

        pipeline()
    else:
        grpo_step()


if __name__ == "__main__":
    main(*sys.argv[1:])
