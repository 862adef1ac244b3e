"""The served deployments: what `paretoflow serve` builds, and a promote run triggered through the API as the
Prefect UI does it, executed by a runner against a Prefect server on loopback."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from flows.deployments import build
from paretoflow.cli import app
from paretoflow.config import load_params
from tests.conftest import REPO


def test_serve_builds_three_deployments_with_the_cron_from_params():
    params = load_params(REPO / "params.yaml", ["serve.cron=30 2 * * *"])
    deployments = {d.name: d for d in build(params, "params.yaml", ["profile=tiny"])}
    assert set(deployments) == {"scheduled-retrain", "manual-retrain", "promote"}
    (schedule,) = deployments["scheduled-retrain"].schedules
    assert schedule.schedule.cron == "30 2 * * *" and schedule.schedule.timezone == "UTC"
    assert deployments["manual-retrain"].schedules == [] and deployments["promote"].schedules == []
    retrain = deployments["manual-retrain"]
    assert retrain.entrypoint == "flows/pipeline.py:training_pipeline"
    assert retrain.parameters == {"params_file": "params.yaml", "overrides": ["profile=tiny"], "force": False}
    schema = retrain._parameter_openapi_schema.properties
    assert schema["force"]["type"] == "boolean" and schema["overrides"]["anyOf"][0]["type"] == "array"
    assert deployments["promote"].entrypoint == "flows/promote.py:promote"
    assert deployments["promote"]._parameter_openapi_schema.properties["dry_run"]["type"] == "boolean"


def test_infra_prefect_yaml_declares_the_same_deployments():
    declared = {d["name"]: d for d in yaml.safe_load((REPO / "infra/prefect.yaml").read_text())["deployments"]}
    params = load_params(REPO / "params.yaml")
    built = {d.name: d for d in build(params, "params.yaml")}
    assert set(declared) == set(built)
    for name, deployment in built.items():
        assert declared[name]["entrypoint"] == deployment.entrypoint, name
        assert declared[name]["parameters"] == deployment.parameters, name
    schedule = {"cron": params.serve.cron, "timezone": params.serve.timezone}
    assert declared["scheduled-retrain"]["schedules"] == [schedule]


def test_serve_refuses_without_a_prefect_api(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        out = CliRunner().invoke(app, ["serve", "--params", str(REPO / "params.yaml")])
    assert out.exit_code == 2 and "prefect server start" in out.stderr


@pytest.mark.slow
def test_promote_deployment_triggered_through_the_api_runs_and_moves_the_champion(tmp_path, monkeypatch):
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.runner import Runner
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.chdir(REPO)  # entrypoints are relative to the project root
    store = f"sqlite:///{tmp_path}/mlflow.db"
    params = load_params(REPO / "params.yaml", [f"tracking.uri={store}"])
    registry, name = MlflowClient(store), params.register.model_name
    registry.create_registered_model(name)
    tags = {f"heldout.{o}": "0.5" for o in params.objective_names} | {"pipeline.run_id": "run-1"}
    version = registry.create_model_version(name, str(tmp_path), tags=tags).version
    registry.set_registered_model_alias(name, "candidate", version)

    with prefect_test_harness(server_startup_timeout=120):
        for deployment in build(params, str(REPO / "params.yaml"), [f"tracking.uri={store}"]):
            deployment.apply()
        flow_run = run_deployment("promote/promote", parameters={"dry_run": False}, timeout=0)
        assert flow_run.state.is_scheduled()
        asyncio.run(Runner().execute_flow_run(flow_run.id))

        async def finished():
            async with get_client() as client:
                # what the UI reads; the filter endpoint rejects this client version's empty fields
                latest = await client._client.get("/artifacts/promotion/latest")
                return await client.read_flow_run(flow_run.id), latest.json()

        run, table = asyncio.run(finished())
    assert run.state.is_completed(), run.state
    assert str(registry.get_model_version_by_alias(name, "champion").version) == str(version)
    assert table["flow_run_id"] == str(flow_run.id)
    assert "| hypervolume | pass |" in table["data"] and "promoted to champion" in table["data"]
