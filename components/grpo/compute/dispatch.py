"""Where GRPO trains (`grpo.compute.target`, factories in `paretoflow.factories.COMPUTE_TARGETS`): in the pipeline's
process, in an `accelerate launch` subprocess, or in a SageMaker training job. Every target runs the same
component code (`components.grpo.job` calls `train_policies` with the target set back to local), and puts the
policies where in-process training would have.
"""

from __future__ import annotations

from pathlib import Path
from pkgutil import resolve_name

from paretoflow.factories import COMPUTE_TARGETS
from paretoflow.schema import LocalCompute, Params


def dispatch(params: Params, data_dir: Path, reward_models_dir: Path, out_dir: Path) -> dict | None:
    """The grpo step's hook: None means "train here"; otherwise the summary of the run sent elsewhere."""
    target = params.grpo.compute
    run = resolve_name(COMPUTE_TARGETS[target.target])
    return run(params, target, Path(data_dir), Path(reward_models_dir), Path(out_dir))


def train_here(params: Params, target: LocalCompute, data_dir: Path, reward_models_dir: Path, out_dir: Path) -> None:
    """`local`: nothing to send elsewhere; the grpo step trains in its own process."""
    return None


def forget_finished(policies: Path, params: Params) -> None:
    """The grpo step's `--force` hook: finished markers and checkpoints go here (components.grpo.checkpoints) and,
    for a SageMaker job, on S3, where the job would otherwise restore them and skip every policy."""
    from components.grpo import checkpoints

    checkpoints.forget_finished(policies)
    if params.grpo.compute.target == "sagemaker":
        from components.grpo.compute.sagemaker import forget_checkpoints

        forget_checkpoints(params)
