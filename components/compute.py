"""Where GRPO trains: in the pipeline's process, in an `accelerate launch` subprocess, or in a SageMaker
training job. Every target runs the same component code (`components.grpo_job` calls `train_policies`
with the target set back to local), and puts the policies where in-process training would have.
"""

from __future__ import annotations

from pathlib import Path

from paretoflow.config import AccelerateCompute, LocalCompute, Params, SagemakerCompute


def dispatch(params: Params, data_dir: Path, reward_models_dir: Path, out_dir: Path) -> dict | None:
    """The grpo step's hook: None means "train here"; otherwise the summary of the run sent elsewhere."""
    target = params.grpo.compute
    if isinstance(target, LocalCompute):
        return None
    if isinstance(target, AccelerateCompute):
        from components.compute_local import run_accelerate

        return run_accelerate(params, target, Path(data_dir), Path(reward_models_dir), Path(out_dir))
    if isinstance(target, SagemakerCompute):
        from components.compute_sagemaker import run_training_job

        return run_training_job(params, target, Path(data_dir), Path(reward_models_dir), Path(out_dir))
    raise ValueError(f"unknown grpo.compute target {target!r}")


def in_process(params: Params) -> Params:
    """The same params with training in this process: what a launched job runs (and never dispatches again)."""
    grpo = params.grpo.model_copy(update={"compute": LocalCompute(target="local")})
    return params.model_copy(update={"grpo": grpo})


def vllm_args(params: Params) -> dict:
    """grpo.vllm as GRPOConfig keyword arguments (TRL 1.16 names)."""
    vllm = params.grpo.vllm
    if not vllm.enabled:
        return {"use_vllm": False}
    if vllm.mode == "colocate":
        return {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": vllm.gpu_memory_utilization}
    return {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": vllm.server_base_url}


def tracking_environment(tracking_uri: str, parent_run_id: str | None) -> dict[str, str]:
    """What a job needs to log into this pipeline run: the MLflow URI (a relative sqlite path made absolute, so
    a subprocess in another directory finds the same store) and the run to nest under."""
    if tracking_uri.startswith("sqlite:///") and not tracking_uri.startswith("sqlite:////"):
        tracking_uri = "sqlite:///" + str(Path(tracking_uri.removeprefix("sqlite:///")).resolve())
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    if parent_run_id:
        env["PARETOFLOW_PARENT_RUN_ID"] = parent_run_id
    return env


def active_run_id() -> str | None:
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run else None
