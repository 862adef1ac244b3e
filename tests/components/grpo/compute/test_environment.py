"""Compute settings: the target union, vLLM options mapped onto TRL's GRPOConfig, the guard against vLLM
without a GPU, and what a launched job is told (in-process params, the MLflow store and parent run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.grpo.compute.dispatch import dispatch
from components.grpo.compute.environment import in_process, require_cuda_for_vllm, tracking_environment, vllm_args
from paretoflow.config import ConfigError, load_params
from tests.conftest import REPO

SAGEMAKER = (
    "grpo.compute={target: sagemaker, image_uri: 1.dkr.ecr.us-east-1.amazonaws.com/pf:1, "
    "role_arn: 'arn:aws:iam::1:role/r', s3_prefix: 's3://b/p'}"
)


def params(*overrides: str):
    return load_params(REPO / "params.yaml", ["profile=tiny", *overrides])


def grpo_config(tmp_path: Path, **kwargs):
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **kwargs)


def test_vllm_off_by_default(tmp_path):
    assert vllm_args(params()) == {"use_vllm": False}
    assert grpo_config(tmp_path, **vllm_args(params())).use_vllm is False


def test_vllm_colocate_maps_to_grpo_config(tmp_path):
    p = params(SAGEMAKER, "grpo.vllm={enabled: true, mode: colocate, gpu_memory_utilization: 0.45}")
    config = grpo_config(tmp_path, **vllm_args(p))
    assert (config.use_vllm, config.vllm_mode, config.vllm_gpu_memory_utilization) == (True, "colocate", 0.45)


def test_vllm_server_maps_to_grpo_config(tmp_path):
    p = params(SAGEMAKER, "grpo.vllm={enabled: true, mode: server, server_base_url: 'http://10.0.0.5:8000'}")
    config = grpo_config(tmp_path, **vllm_args(p))
    assert (config.use_vllm, config.vllm_mode, config.vllm_server_base_url) == (True, "server", "http://10.0.0.5:8000")


def test_vllm_needs_a_cuda_device_checked_by_the_step_not_the_params():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error is for CPU-only machines")
    local = params("grpo.vllm.enabled=true")  # validating params probes no hardware
    with pytest.raises(ValueError, match=r"vllm.enabled needs a CUDA device and none is visible here \(CPU only\)"):
        require_cuda_for_vllm(local)
    with pytest.raises(ConfigError, match=r"vllm needs a GPU instance; ml.m5.xlarge has none"):
        params(SAGEMAKER, "grpo.compute.instance_type=ml.m5.xlarge", "grpo.vllm.enabled=true")


def test_vllm_server_needs_its_url():
    with pytest.raises(ConfigError, match="vllm mode server needs server_base_url"):
        params(SAGEMAKER, "grpo.vllm={enabled: true, mode: server}")


def test_compute_target_errors_name_the_key():
    with pytest.raises(ConfigError, match="target sagemaker needs image_uri, role_arn, s3_prefix"):
        params("grpo.compute={target: sagemaker}")
    with pytest.raises(ConfigError, match=r"unknown key grpo.compute.config_fil in .*did you mean config_file\?"):
        params("grpo.compute={target: accelerate, config_fil: x.yaml}")
    with pytest.raises(ConfigError, match="s3_prefix must look like s3://bucket/prefix"):
        params(SAGEMAKER, "grpo.compute.s3_prefix=bucket/prefix")
    with pytest.raises(ConfigError, match="max_wait_seconds must be at least max_run_seconds"):
        params(SAGEMAKER, "grpo.compute.max_wait_seconds=600")


def test_launched_job_trains_in_process():
    p = params(SAGEMAKER)
    local = in_process(p)
    assert local.grpo.compute.target == "local"
    assert p.grpo.compute.target == "sagemaker"  # the original is untouched
    assert local.grpo.model_dump(exclude={"compute"}) == p.grpo.model_dump(exclude={"compute"})
    assert dispatch(local, Path("d"), Path("r"), Path("o")) is None  # local: the caller trains


def test_tracking_environment_makes_sqlite_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = tracking_environment("sqlite:///mlflow.db", "abc123")
    assert env == {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PARETOFLOW_PARENT_RUN_ID": "abc123"}
    assert tracking_environment("http://mlflow:5000", None) == {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}
