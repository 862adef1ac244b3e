"""Credentials stay out of URIs, job definitions and logs: tracking URIs that carry one are refused naming the variable
to use, example passwords are refused at start, and a job's tokens come from AWS Secrets Manager (moto on loopback).
The command-line checks run the real `paretoflow` and `python -m paretoflow.credentials` and read what they print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from paretoflow.credentials import (
    SECRETS_ENV,
    CredentialError,
    check_uri,
    load_secrets,
    redact,
    refuse_placeholders,
    refuse_secret_values,
    secret_references,
)
from tests.conftest import REPO
from tests.moto_s3 import s3_endpoint  # noqa: F401  (fixture)

SECRET = "Hunter2-Sup3r-Secret"
PARETOFLOW = str(Path(sys.executable).parent / "paretoflow")


@pytest.mark.parametrize(
    ("uri", "instead"),
    [
        (f"http://alice:{SECRET}@mlflow.internal:5000", "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
        (f"https://{SECRET}@mlflow.example.com", "MLFLOW_TRACKING_TOKEN"),
        (f"postgresql://pf:{SECRET}@db:5432/mlflow", "PGPASSWORD"),
        (f"postgresql+psycopg2://pf:{SECRET}@db/mlflow", "PGPASSWORD"),
        (f"postgresql://pf@db/mlflow?sslmode=require&password={SECRET}", "PGPASSWORD"),
        (f"mysql+pymysql://pf:{SECRET}@db/mlflow", "MYSQL_PWD"),
    ],
)
def test_a_uri_with_credentials_is_refused_naming_the_variable_to_use(uri, instead):
    with pytest.raises(CredentialError) as refused:
        check_uri(uri, "tracking.uri")
    message = str(refused.value)
    assert message.startswith("tracking.uri carries") and instead in message
    assert SECRET not in message and "***" in message


@pytest.mark.parametrize(
    "uri",
    ["sqlite:///mlflow.db", "http://mlflow:5000", "https://mlflow.example.com/", "postgresql://pf@db:5432/mlflow",
     "databricks", "file:///tmp/mlruns"],
)  # fmt: skip
def test_a_uri_without_credentials_passes(uri):
    check_uri(uri, "tracking.uri")


def test_redaction_keeps_what_locates_the_server():
    assert redact(f"postgresql://pf:{SECRET}@db:5432/mlflow") == "postgresql://pf:***@db:5432/mlflow"
    assert redact(f"https://tok:{SECRET}@host/x") == "https://***@host/x"
    assert (
        redact(f"postgresql://db/m?password={SECRET}&sslmode=require")
        == "postgresql://db/m?password=%2A%2A%2A&sslmode=require"
    )


@pytest.mark.parametrize("value", ["change-me", "change-me-too", "CHANGE_ME", "password", "minioadmin", "Password!"])
def test_an_example_password_is_refused_without_being_shown(value):
    with pytest.raises(CredentialError, match=r"^PGPASSWORD still holds an example value") as refused:
        refuse_placeholders({"PGPASSWORD": value, "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"})
    assert value not in str(refused.value)


def test_real_and_test_credentials_pass():
    refuse_placeholders({"PGPASSWORD": "x8#kQ2-long-random", "AWS_SECRET_ACCESS_KEY": "testing", "OTHER": "password"})


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_PASSWORD", "PGPASSWORD")}
    return subprocess.run([PARETOFLOW, *args], cwd=cwd, env={**environment, **env}, capture_output=True, text=True)


def test_paretoflow_run_refuses_a_tracking_uri_with_a_password_and_prints_no_secret(tmp_path):
    """A real `paretoflow run`: one message, exit 1, the password nowhere in what it printed."""
    uri = f"tracking.uri=postgresql+psycopg2://pf:{SECRET}@db.internal:5432/mlflow"
    out = _cli("run", "--params", str(REPO / "params.yaml"), "-o", "profile=tiny", "-o", uri, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "tracking.uri carries credentials (user:password@): postgresql+psycopg2://pf:***@db.internal" in out.stderr
    assert "set PGPASSWORD (or a ~/.pgpass file) in the environment instead" in out.stderr
    assert SECRET not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_paretoflow_run_refuses_an_example_password_at_start(tmp_path):
    out = _cli("run", "--params", str(REPO / "params.yaml"), "-o", "profile=tiny", cwd=tmp_path,
               MLFLOW_TRACKING_PASSWORD="change-me")  # fmt: skip
    assert out.returncode == 1
    assert "MLFLOW_TRACKING_PASSWORD still holds an example value" in out.stderr
    assert not (tmp_path / "mlflow.db").exists()  # refused before anything was written


def test_the_credentials_command_checks_the_variables_it_is_given():
    command = [sys.executable, "-m", "paretoflow.credentials", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"]
    missing = subprocess.run(command, env={"POSTGRES_PASSWORD": "q7-real-one"}, capture_output=True, text=True)
    assert missing.returncode == 1 and "MINIO_ROOT_PASSWORD not set" in missing.stderr
    example = {"POSTGRES_PASSWORD": "q7-real-one", "MINIO_ROOT_PASSWORD": "change-me-too"}
    refused = subprocess.run(command, env=example, capture_output=True, text=True)
    assert refused.returncode == 1 and "MINIO_ROOT_PASSWORD still holds an example value" in refused.stderr
    assert "change-me-too" not in refused.stderr


def test_a_job_definition_never_carries_a_credential():
    named = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", **secret_references({"HF_TOKEN": "pf/hf"})}
    refuse_secret_values({**named, "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://vpce.local"}, "job")
    for name in ("HF_TOKEN", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "MLFLOW_TRACKING_TOKEN"):
        with pytest.raises(CredentialError, match=f"would carry {name}"):
            refuse_secret_values({name: "x"}, "job")
    with pytest.raises(CredentialError, match="would carry MLFLOW_TRACKING_PASSWORD.*grpo.compute.secrets"):
        refuse_secret_values({"MLFLOW_TRACKING_PASSWORD": SECRET}, "the environment of training job j")
    with pytest.raises(CredentialError, match=r"MLFLOW_TRACKING_URI in job carries credentials") as refused:
        refuse_secret_values({"MLFLOW_TRACKING_URI": f"http://a:{SECRET}@mlflow:5000"}, "job")
    assert SECRET not in str(refused.value)


def test_a_job_reads_its_tokens_from_the_secret_store(s3_endpoint, capsys):  # noqa: F811
    store = boto3.client("secretsmanager", endpoint_url=s3_endpoint)
    store.create_secret(Name="paretoflow/mlflow-password", SecretString=SECRET)
    env = {SECRETS_ENV: json.dumps({"MLFLOW_TRACKING_PASSWORD": "paretoflow/mlflow-password"})}
    assert load_secrets(env, store) == ["MLFLOW_TRACKING_PASSWORD"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == SECRET
    printed = capsys.readouterr().out
    assert "from the secret store: MLFLOW_TRACKING_PASSWORD" in printed and SECRET not in printed
    env = {SECRETS_ENV: json.dumps({"HF_TOKEN": "paretoflow/missing"})}
    with pytest.raises(CredentialError, match=r"HF_TOKEN: secret paretoflow/missing could not be read \(Resource"):
        load_secrets(env, store)
    assert load_secrets({}, store) == []
