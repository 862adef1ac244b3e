"""The GRPO training job: the grpo component run where the pipeline sent it (an `accelerate launch`
subprocess, a SageMaker container), on inputs staged beside it.

Paths come from arguments or, inside SageMaker, from its layout: channels under `/opt/ml/input/data/<name>`
(or `SM_CHANNEL_<NAME>`), policies to `/opt/ml/model` (`SM_MODEL_DIR`, uploaded as model.tar.gz), the
summary to `/opt/ml/output/data` (`SM_OUTPUT_DATA_DIR`, output.tar.gz), and training under
`/opt/ml/checkpoints`, which SageMaker syncs to S3 and restores after a spot interruption. So the GPU image's
command `python -m components.grpo.job` needs no arguments. MLflow: `MLFLOW_TRACKING_URI` and
`PARETOFLOW_PARENT_RUN_ID` (the pipeline's grpo step run) come from the launcher; tokens from the environment or,
named in `PARETOFLOW_SECRETS`, from AWS Secrets Manager (paretoflow.credentials), never from the job definition.
The rubrics step's output, which rubric rewards read, is found beside the reward models (channel `rubrics`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from contextlib import nullcontext
from pathlib import Path

from paretoflow import credentials, paths, tracking
from paretoflow.config import ConfigError, load_params
from paretoflow.resources import Meter
from paretoflow.step_params import StepParams

SM = Path("/opt/ml")
CHANNELS = ("data", "reward_models", "params")  # and "sft" (start policy), "rubrics" beside reward_models


def sagemaker_paths(env: dict[str, str] = os.environ, root: Path = SM) -> dict[str, Path]:
    """Where a SageMaker container finds its inputs and puts its outputs (the env names of the training
    toolkit when set, SageMaker's fixed /opt/ml layout otherwise)."""

    def at(name: str, default: Path) -> Path:
        return Path(env.get(name) or default)

    paths = {c: at(f"SM_CHANNEL_{c.upper()}", root / "input" / "data" / c) for c in CHANNELS}
    paths["model"] = at("SM_MODEL_DIR", root / "model")
    paths["output"] = at("SM_OUTPUT_DATA_DIR", root / "output" / "data")
    paths["checkpoints"] = at("PARETOFLOW_CHECKPOINT_DIR", root / "checkpoints")
    return paths


def run_job(
    params_file: Path,
    data_dir: Path,
    reward_models_dir: Path,
    out_dir: Path,
    summary_file: Path,
    work_dir: Path | None = None,
) -> dict:
    """Train every policy with the grpo component in this process; policies end in `out_dir` (trained in
    `work_dir` when given, e.g. SageMaker's synced checkpoint folder, then copied without checkpoints)."""
    from components.grpo.checkpoints import CHECKPOINTS
    from components.grpo.compute.environment import in_process
    from components.grpo.train import train_policies

    params = StepParams(load_params(params_file), "grpo")
    _require_rubrics(params, Path(reward_models_dir))
    meter = Meter()
    with _job_run(params):
        tracking.set_tags({"compute.target": params.grpo.compute.target, "compute.host": os.uname().nodename})
        summary = train_policies(in_process(params), data_dir, reward_models_dir, work_dir or out_dir)
        usage = meter.metrics("grpo_job")
        tracking.log_metrics(usage)
    summary = {**summary, "usage": {k: round(v, 3) for k, v in usage.items()}}
    if not _main_process():  # every process of a multi-GPU launch trained; one writes the results
        return summary
    if work_dir is not None:
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(work_dir, out_dir, ignore=shutil.ignore_patterns(CHECKPOINTS))
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary


def _require_rubrics(params, reward_models_dir: Path) -> None:
    """Rubric rewards without the rubrics step's table would quietly judge against prompt-only rubrics."""
    from components.grpo.rewards import audit_objectives

    rubrics = reward_models_dir.parent / paths.RUBRICS.name
    scorers = {o.scorer for o in [*params.objectives, *audit_objectives(params)]}
    if "rubric" in scorers and not rubrics.is_dir():
        raise FileNotFoundError(
            f"rubric rewards need the rubrics step's output at {rubrics} (beside the reward models); the launcher "
            "stages it there (SageMaker channel rubrics)"
        )


def _main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _job_run(params):
    """A run nested under the pipeline's grpo step run when the launcher named one; in a multi-process
    launch only the main process logs."""
    parent = os.environ.get("PARETOFLOW_PARENT_RUN_ID")
    if not parent or not _main_process():
        return nullcontext()
    import mlflow

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or params.tracking.uri)
    experiment = mlflow.get_run(parent).info.experiment_id
    return mlflow.start_run(
        run_name=f"grpo-job/{params.grpo.compute.target}", parent_run_id=parent, experiment_id=experiment
    )


def main(argv: list[str] | None = None) -> int:
    sm = sagemaker_paths()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, help="resolved params file (default: the params channel)")
    parser.add_argument("--data", type=Path, default=sm["data"])
    parser.add_argument("--reward-models", type=Path, default=sm["reward_models"])
    parser.add_argument("--out", type=Path, default=sm["model"])
    parser.add_argument("--summary", type=Path, default=sm["output"] / "summary.json")
    parser.add_argument("--work", type=Path, help="train here, then copy policies to --out (default: --out)")
    args = parser.parse_args(argv)
    if args.work is None and args.out == sm["model"]:
        args.work = sm["checkpoints"] / "policies"  # inside SageMaker: survives spot interruptions
    params_file = args.params or sm["params"] / "params.yaml"
    try:
        credentials.load_secrets()
        run_job(params_file, args.data, args.reward_models, args.out, args.summary, args.work)
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"grpo job failed: {exc}", file=sys.stderr)
        _failure_file(sm, str(exc))
        return 1
    return 0


def _failure_file(sm: dict[str, Path], message: str) -> None:
    """SageMaker shows the contents of /opt/ml/output/failure as the job's FailureReason."""
    failure = sm["output"].parent / "failure"
    if failure.parent.is_dir():
        failure.write_text(message[:1000])


if __name__ == "__main__":
    sys.exit(main())
