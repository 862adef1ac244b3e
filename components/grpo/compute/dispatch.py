"""Where GRPO trains: in the pipeline's process, in an `accelerate launch` subprocess, or in a SageMaker
training job. Every target runs the same component code (`components.grpo.job` calls `train_policies`
with the target set back to local), and puts the policies where in-process training would have.
"""

from __future__ import annotations

from pathlib import Path

from paretoflow.schema import AccelerateCompute, LocalCompute, Params, SagemakerCompute


def dispatch(params: Params, data_dir: Path, reward_models_dir: Path, out_dir: Path) -> dict | None:
    """The grpo step's hook: None means "train here"; otherwise the summary of the run sent elsewhere."""
    target = params.grpo.compute
    if isinstance(target, LocalCompute):
        return None
    if isinstance(target, AccelerateCompute):
        from components.grpo.compute.accelerate import run_accelerate

        return run_accelerate(params, target, Path(data_dir), Path(reward_models_dir), Path(out_dir))
    if isinstance(target, SagemakerCompute):
        from components.grpo.compute.sagemaker import run_training_job

        return run_training_job(params, target, Path(data_dir), Path(reward_models_dir), Path(out_dir))
    raise ValueError(f"unknown grpo.compute target {target!r}")
