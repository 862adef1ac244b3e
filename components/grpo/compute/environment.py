"""What every compute target shares: the params a launched job runs with, its vLLM options, and the MLflow
environment that nests its run under the pipeline's."""

from __future__ import annotations

from pathlib import Path

from paretoflow.schema import LocalCompute, Params


def in_process(params: Params) -> Params:
    """The same params with training in this process: what a launched job runs (and never dispatches again)."""
    grpo = params.grpo.model_copy(update={"compute": LocalCompute(target="local")})
    return params.model_copy(update={"grpo": grpo})


def require_cuda_for_vllm(params: Params) -> None:
    """vLLM rollouts in this process need a CUDA device: say so before loading any model."""
    if not params.grpo.vllm.enabled:
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            "grpo.vllm.enabled needs a CUDA device and none is visible here (CPU only); set grpo.vllm.enabled: false "
            "or train on GPUs with grpo.compute.target: sagemaker"
        )


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
