"""The GRPO job entry point: rubric rewards never run without the rubrics step's table beside the reward models
(in a SageMaker job they used to fall back to prompt-only rubrics without a word), and a job reads its tokens from
the secret store before anything else, failing with the secret's name when it cannot."""

from __future__ import annotations

import json

import boto3
import pytest

from components.grpo.job import main, run_job
from paretoflow.config import load_params
from tests.conftest import REPO
from tests.moto_s3 import s3_endpoint  # noqa: F401  (fixture)

RUBRIC = [
    "profile=tiny",
    "sft.enabled=false",
    "objectives=[{name: helpfulness, scorer: rubric}, {name: concision, scorer: concision}]",
    "grpo.weights=[{helpfulness: 0.5, concision: 0.5}]",
]


def test_rubric_rewards_without_the_rubrics_table_stop_the_job(tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(load_params(REPO / "params.yaml", RUBRIC).to_yaml())
    channels = tmp_path / "input" / "data"
    with pytest.raises(
        FileNotFoundError, match=r"rubric rewards need the rubrics step's output at .*input/data/rubrics"
    ):
        run_job(params_file, channels / "data", channels / "reward_models", tmp_path / "model", tmp_path / "s.json")


def test_an_unreadable_secret_stops_the_job_naming_it(s3_endpoint, tmp_path, monkeypatch, capsys):  # noqa: F811
    """SageMaker shows /opt/ml/output/failure as the job's FailureReason: it names the secret, never a value."""
    boto3.client("secretsmanager", endpoint_url=s3_endpoint).create_secret(Name="pf/kept", SecretString="s3cr3t-v4lue")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_endpoint)
    monkeypatch.setenv("HF_TOKEN", "set-by-the-job")  # the job sets it from the store: undone after the test
    monkeypatch.setenv("PARETOFLOW_SECRETS", json.dumps({"HF_TOKEN": "pf/kept", "OPENAI_API_KEY": "pf/deleted"}))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(tmp_path / "output" / "data"))
    (tmp_path / "output" / "data").mkdir(parents=True)
    assert main(["--params", str(tmp_path / "absent.yaml")]) == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert "OPENAI_API_KEY: secret pf/deleted could not be read (ResourceNotFoundException" in failure
    assert "s3cr3t-v4lue" not in failure + capsys.readouterr().err
