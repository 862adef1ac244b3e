"""The served deployments: what `paretoflow serve` builds, and a promote run triggered through the API as the
Prefect UI does it, executed by a runner against a Prefect server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from prefect.exceptions import PrefectHTTPStatusError
from typer.testing import CliRunner

from components.registry.promotion import PENDING
from flows.deployments import build, declared_forms
from paretoflow.cli import app
from paretoflow.config import load_params
from paretoflow.steps import ORDER
from tests.conftest import REPO, copy_project, tiny
from tests.flows.prefect_api import task_runs, waited_on


def test_serve_builds_three_deployments_with_the_cron_from_params():
    overrides = ["serve.cron=30 2 * * *", "profile=tiny"]
    params = load_params(REPO / "params.yaml", overrides)
    deployments = {d.name: d for d in build(params, "params.yaml", overrides)}
    assert set(deployments) == {"scheduled-retrain", "manual-retrain", "promote"}
    (schedule,) = deployments["scheduled-retrain"].schedules
    assert schedule.schedule.cron == "30 2 * * *" and schedule.schedule.timezone == "UTC"
    assert deployments["manual-retrain"].schedules == [] and deployments["promote"].schedules == []
    retrain = deployments["manual-retrain"]
    assert retrain.entrypoint == "flows/pipeline.py:training_pipeline"
    assert retrain.parameters == {"params_file": "params.yaml", "overrides": overrides, "force": False}
    assert deployments["promote"].entrypoint == "flows/promote.py:promote"
    for name, deployment in deployments.items():  # the forms' defaults are the tiny profile's
        _assert_typed_form(deployment._parameter_openapi_schema.model_dump(), name, params)
        assert deployment.enforce_parameter_schema, name
    for name in ("scheduled-retrain", "manual-retrain"):  # one run at a time; later ones wait in the queue
        assert deployments[name].concurrency_limit == 1, name
        assert deployments[name].concurrency_options.collision_strategy == "ENQUEUE", name


def _assert_typed_form(schema: dict, deployment: str, params) -> None:
    """A deployment's parameter schema is its typed run form, with the defaults of `params`."""
    fields = schema["properties"]
    assert all(field.get("description") for field in fields.values()), deployment
    assert [f["position"] for f in fields.values()] == list(range(len(fields))), deployment
    if deployment == "promote":
        assert fields["version"]["anyOf"][0] == {"minimum": 1, "type": "integer"}
        assert fields["require_approval"]["default"] is params.promote.require_approval
        assert {"dry_run", "approval_timeout_seconds"} <= set(fields)
        return
    assert fields["profile"]["enum"] == ["tiny", "cpu", "gpu"] and fields["profile"]["default"] == params.profile
    assert fields["strategy"]["enum"] == ["sweep", "dynamic", "soup"]
    assert fields["until"]["enum"] == ORDER
    assert fields["max_steps"]["minimum"] == 1 and fields["max_steps"]["default"] == params.grpo.max_steps
    assert fields["learning_rate"]["exclusiveMinimum"] == 0 and fields["weights"]["default"] == params.grpo.weights
    assert list(schema["definitions"]["Weights"]["properties"]) == params.objective_names
    assert fields["sources"]["items"] == {"$ref": "#/definitions/DataSource"}
    assert {"force", "overrides", "params_file"} <= set(fields)


def test_infra_prefect_yaml_declares_the_same_deployments_on_a_cpu_and_a_gpu_pool(monkeypatch):
    """The file as `prefect deploy` reads it, MLFLOW_TRACKING_URI filled in from the deploying shell, declares what
    `paretoflow serve -o tracking.uri=... -o profile=gpu` builds; the pull step's directory is left for the worker."""
    from prefect.utilities.templating import apply_values

    uri = "http://mlflow:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("PARETOFLOW_PROJECT_DIR", raising=False)
    monkeypatch.chdir(REPO)  # the params file the deployments name is the project's
    raw = yaml.safe_load((REPO / "infra/prefect.yaml").read_text())
    config = apply_values(raw, {}, remove_notset=False)  # `{{ $VAR }}` comes from the environment, as in deploy
    declared = {d["name"]: d for d in config["deployments"]}
    overrides = [f"tracking.uri={uri}", "profile=gpu"]
    params = load_params(REPO / "params.yaml", overrides)
    built = {d.name: d for d in build(params, "params.yaml", overrides)}
    assert set(declared) == set(built)
    for name, deployment in built.items():
        assert declared[name]["entrypoint"] == deployment.entrypoint, name
        assert declared[name]["parameters"] == deployment.parameters, name
        assert set(deployment.parameters) <= set(deployment._parameter_openapi_schema.properties), name  # UI-editable
        if deployment.concurrency_limit is not None:
            options = deployment.concurrency_options
            limit = {"limit": deployment.concurrency_limit, "collision_strategy": options.collision_strategy.value}
            assert declared[name]["concurrency_limit"] == limit, name
        else:
            assert "concurrency_limit" not in declared[name], name
    schedule = {"cron": params.serve.cron, "timezone": params.serve.timezone}
    assert declared["scheduled-retrain"]["schedules"] == [schedule]
    pools = {name: d["work_pool"]["name"] for name, d in declared.items()}
    assert pools == {"scheduled-retrain": "gpu-pool", "manual-retrain": "gpu-pool", "promote": "cpu-pool"}
    (pull,) = config["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $PARETOFLOW_PROJECT_DIR }}"
    forms = declared_forms(REPO / "infra/prefect.yaml")  # what `paretoflow deploy` sets on them
    assert {name.split("/")[1]: form for name, form in forms.items()} == {
        name: d._parameter_openapi_schema for name, d in built.items()
    }
    assert set(forms) == {f"{d['entrypoint'].split(':')[1]}/{name}" for name, d in declared.items()}


def test_serve_and_deploy_refuse_without_a_prefect_api(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        out = CliRunner().invoke(app, ["serve", "--params", str(REPO / "params.yaml")])
    assert out.exit_code == 2 and "prefect server start" in out.stderr
    with temporary_settings({PREFECT_API_URL: None}):
        out = CliRunner().invoke(app, ["deploy", "--prefect-file", str(REPO / "infra/prefect.yaml")])
    assert out.exit_code == 2 and "set PREFECT_API_URL" in out.stderr


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
    version = _candidate(registry, name, params, tmp_path)

    with prefect_test_harness(server_startup_timeout=120):
        for deployment in build(params, str(REPO / "params.yaml"), [f"tracking.uri={store}"]):
            deployment.apply()
        with pytest.raises(PrefectHTTPStatusError) as refused:  # the form's bound, checked by the API
            run_deployment("promote/promote", parameters={"version": 0}, timeout=0)
        assert refused.value.response.status_code == 409
        assert "Validation failed for field 'version'" in refused.value.response.text
        flow_run = run_deployment("promote/promote", parameters={"dry_run": False, "version": int(version)}, timeout=0)
        assert flow_run.state.is_scheduled()
        asyncio.run(Runner().execute_flow_run(flow_run.id))
        gates = task_runs(flow_run.id)

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
    assert set(gates) == {"compare fronts", *AUTOMATIC_GATES, f"champion -> v{version}"}
    assert all(waited_on(gates, g) == {"compare fronts"} for g in AUTOMATIC_GATES)
    assert waited_on(gates, f"champion -> v{version}") == set(AUTOMATIC_GATES)
    assert all(gates[g].state.is_completed() for g in gates)
    assert gates["gate.hypervolume"].state.message == "no champion yet: first promotion"


AUTOMATIC_GATES = ["gate.heldout_set", "gate.hypervolume", "gate.objectives", "gate.coherence", "gate.judge_attack"]


@pytest.mark.slow
def test_a_refused_gate_is_a_failed_task_and_the_promotion_still_completes(tmp_path):
    """The judge-attack gate refuses (probes fooled the judges half the time): its task run fails with the gate's
    detail, the decision says not promoted, and the flow run itself completes (a refusal is an answer)."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.promote import promote

    store = f"sqlite:///{tmp_path}/mlflow.db"
    params = load_params(REPO / "params.yaml", [f"tracking.uri={store}"])
    registry, name = MlflowClient(store), params.register.model_name
    version = _candidate(registry, name, params, tmp_path)
    registry.set_model_version_tag(name, version, "judge_attack.fpr", "0.5")
    with prefect_test_harness(server_startup_timeout=120):
        state = promote(
            params_file=str(REPO / "params.yaml"), overrides=[f"tracking.uri={store}"], dry_run=True, return_state=True
        )
        gates = task_runs(
            state.state_details.flow_run_id, expect=(*AUTOMATIC_GATES, f"v{version} not promoted (dry run)")
        )
    assert state.is_completed() and not state.result()["promoted"]
    refused = gates["gate.judge_attack"].state
    assert refused.is_failed() and refused.message.startswith("refused: master-key probes scored as well")
    assert all(gates[g].state.is_completed() for g in AUTOMATIC_GATES if g != "gate.judge_attack")
    assert waited_on(gates, f"v{version} not promoted (dry run)") == set(AUTOMATIC_GATES)


def _candidate(registry: MlflowClient, name: str, params, source) -> str:
    """A registered candidate with the tags register writes (held-out scores, judge-attack rate)."""
    registry.create_registered_model(name)
    tags = {f"heldout.{o}": "0.5" for o in params.objective_names} | {"pipeline.run_id": "run-1"}
    tags |= {"judge_attack.fpr": "0.0"}
    version = str(registry.create_model_version(name, str(source), tags=tags).version)
    registry.set_registered_model_alias(name, "candidate", version)
    return version


@pytest.mark.slow
def test_promotion_pauses_for_approval_and_resumes_with_the_typed_input(tmp_path):
    """The flow pauses after the automatic gates; a reviewer answers the Approval form through the API (the
    UI's resume call), and the answer becomes gate.human_approval: a rejection first, then an approval."""
    import threading
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.testing.utilities import prefect_test_harness

    from flows.promote import promote

    store = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [f"tracking.uri={store}", "promote.require_approval=true", "promote.approval_timeout_seconds=120"]
    params = load_params(REPO / "params.yaml", overrides)
    registry, name = MlflowClient(store), params.register.model_name
    version = _candidate(registry, name, params, tmp_path)

    async def paused_run():
        async with get_client() as client:
            paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
            # sort and limit spelled out: the server rejects this client version's empty defaults
            return await client.read_flow_runs(flow_run_filter=paused, sort=FlowRunSort.ID_DESC, limit=10)

    async def answer(flow_run_id, run_input: dict):
        async with get_client() as client:  # POST /flow_runs/{id}/resume with run_input, as the UI sends it
            return await client.resume_flow_run(flow_run_id, run_input=run_input)

    def review(run_input: dict) -> dict:
        results: list = []
        worker = threading.Thread(
            target=lambda: results.append(promote(params_file=str(REPO / "params.yaml"), overrides=overrides))
        )
        worker.start()
        deadline = time.monotonic() + 60
        while not (runs := asyncio.run(paused_run())) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(runs) == 1, "the flow run paused for approval"
        tags = registry.get_model_version(name, version).tags
        assert tags["gates.passed"] == PENDING and "hypervolume=pass" in tags["gates"], "the reviewer sees the gates"
        assert not _champion(registry, name), "nothing moves while the run waits"
        asyncio.run(answer(runs[0].id, run_input))
        worker.join(timeout=60)
        gates = task_runs(runs[0].id)
        assert waited_on(gates, "gate.human_approval") == set(AUTOMATIC_GATES), "the approval follows the gates"
        assert gates["gate.human_approval"].state.is_completed() is run_input["approve"]
        return results[0]

    with prefect_test_harness(server_startup_timeout=120):
        rejected = review({"approve": False, "reviewer": "dana", "note": "replies too curt"})
        assert not rejected["promoted"] and not _champion(registry, name)
        found = registry.get_model_version(name, version)
        assert "human_approval=fail" in found.tags["gates"]
        assert "| human_approval | fail | rejected by dana" in found.description
        approved = review({"approve": True, "reviewer": "sam", "note": ""})
    assert approved["promoted"] and _champion(registry, name) == version
    found = registry.get_model_version(name, version)
    assert "human_approval=pass" in found.tags["gates"]
    assert "| human_approval | pass | approved by sam |" in found.description


def _champion(registry: MlflowClient, name: str) -> str | None:
    try:
        return str(registry.get_model_version_by_alias(name, "champion").version)
    except Exception:  # no alias yet
        return None


@pytest.mark.slow
def test_scheduled_retrain_triggered_again_through_the_api_finishes_from_cache(tmp_path, model_cache, monkeypatch):
    """The scheduled-retrain deployment, run twice through the API by a runner in a project copy: the second run,
    with unchanged data and params, completes with every step cached (up to validate here; the flow tests show
    the training steps cached the same way)."""
    import shutil

    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.runner import Runner
    from prefect.testing.utilities import prefect_test_harness

    root = copy_project(tmp_path)
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(root)  # entrypoints are relative to the project root
    overrides = tiny(root, model_cache)
    params = load_params("params.yaml", overrides)

    async def state_of(flow_run_id):
        async with get_client() as client:
            return (await client.read_flow_run(flow_run_id)).state

    with prefect_test_harness(server_startup_timeout=120):
        (retrain,) = [d for d in build(params, "params.yaml", overrides) if d.name == "scheduled-retrain"]
        retrain.apply()
        for _ in range(2):
            flow_run = run_deployment(
                "training_pipeline/scheduled-retrain", parameters={"until": "validate"}, timeout=0
            )
            asyncio.run(Runner().execute_flow_run(flow_run.id))
            assert asyncio.run(state_of(flow_run.id)).is_completed()
        assert asyncio.run(second_run_of_manual_retrain_waits(build(params, "params.yaml", overrides)))
    store = MlflowClient(params.tracking.uri)
    experiment = store.get_experiment_by_name(params.tracking.experiment).experiment_id
    parents = store.search_runs([experiment], "tags.`paretoflow.step` = 'pipeline'", order_by=["start_time ASC"])
    assert [p.data.tags["paretoflow.cached_steps"] for p in parents] == ["-", "ingest,validate"]
    assert all(p.info.status == "FINISHED" for p in parents)


async def second_run_of_manual_retrain_waits(deployments) -> bool:
    """The server holds a second run of a retrain deployment while one is going: its move to Pending is answered
    with AwaitingConcurrencySlot, and it may start once the first run has finished."""
    from prefect import get_client
    from prefect.states import Completed, Pending, Running

    (manual,) = [d for d in deployments if d.name == "manual-retrain"]
    deployment_id = await manual.aapply()
    async with get_client() as client:
        first, second = [await client.create_flow_run_from_deployment(deployment_id) for _ in range(2)]
        assert (await client.set_flow_run_state(first.id, Pending())).state.is_pending()
        await client.set_flow_run_state(first.id, Running())
        held = await client.set_flow_run_state(second.id, Pending())
        assert held.state.name == "AwaitingConcurrencySlot", held.state
        await client.set_flow_run_state(first.id, Completed())
        assert (await client.set_flow_run_state(second.id, Pending())).state.is_pending()
    return True


def _deployment(name: str):
    from prefect import get_client

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name(name)

    return asyncio.run(read())


def _refused(deployment: str, parameters: dict) -> str:
    """The API's answer to a flow run whose parameters break the deployment's form (no run is created)."""
    from prefect.deployments import run_deployment

    with pytest.raises(PrefectHTTPStatusError) as refused:
        run_deployment(deployment, parameters=parameters, timeout=0)
    assert refused.value.response.status_code == 409, refused.value.response.text
    return refused.value.response.json()["detail"]


@pytest.mark.slow
def test_manual_retrain_form_refuses_a_bad_value_and_runs_a_good_one(tmp_path, model_cache, monkeypatch):
    """The served deployment's form, as the UI submits it through the API: bad values are refused with the field
    and the reason before any run exists; a good request runs (to ingest, on the tiny profile) with its values."""
    import shutil

    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.runner import Runner
    from prefect.testing.utilities import prefect_test_harness

    root = copy_project(tmp_path)
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(root)  # entrypoints are relative to the project root
    overrides = tiny(root, model_cache)
    params = load_params("params.yaml", overrides)
    form = "training_pipeline/manual-retrain"

    async def flow_runs():
        from prefect.client.schemas.sorting import FlowRunSort

        async with get_client() as client:
            return await client.read_flow_runs(sort=FlowRunSort.ID_DESC, limit=10)

    with prefect_test_harness(server_startup_timeout=120):
        for deployment in build(params, "params.yaml", overrides):
            deployment.apply()
        deployed = _deployment(form)
        assert deployed.enforce_parameter_schema
        _assert_typed_form(deployed.parameter_openapi_schema, "manual-retrain", params)
        bad = [
            (
                {"max_steps": 0},
                "Validation failed for field 'max_steps'. Failure reason: 0 is less than the minimum of 1",
            ),
            ({"strategy": "swep"}, "Validation failed for field 'strategy'. Failure reason: 'swep' is not one of"),
            ({"until": "valdate"}, "Validation failed for field 'until'. Failure reason: 'valdate' is not one of"),
            ({"weights": [{"empathy": 1}]}, "field 'weights[0]'. Failure reason: 'helpfulness' is a required property"),
            ({"learning_rate": 0}, "field 'learning_rate'. Failure reason: 0 is less than or equal to the minimum"),
        ]
        for parameters, reason in bad:
            assert reason in _refused(form, parameters), parameters
        assert asyncio.run(flow_runs()) == [], "a refused request starts nothing"
        good = {
            "until": "ingest",
            "max_steps": 3,
            "sources": [{"name": "pairs-only", "uri": "data/sample/pairs.jsonl"}],
        }
        flow_run = run_deployment(form, parameters=good, timeout=0)
        asyncio.run(Runner().execute_flow_run(flow_run.id))
        (run,) = asyncio.run(flow_runs())
    assert run.state.is_completed(), run.state
    store = MlflowClient(params.tracking.uri)
    experiment = store.get_experiment_by_name(params.tracking.experiment).experiment_id
    (parent,) = store.search_runs([experiment], "tags.`paretoflow.step` = 'pipeline'")
    used = yaml.safe_load(Path(store.download_artifacts(parent.info.run_id, "params.yaml", str(tmp_path))).read_text())
    assert used["grpo"]["max_steps"] == 3 and [s["name"] for s in used["data"]["sources"]] == ["pairs-only"]
    assert parent.data.tags["paretoflow.cached_steps"] == "-" and used["profile"] == "tiny"


@pytest.mark.slow
def test_paretoflow_deploy_gives_the_prefect_yaml_deployments_their_typed_forms(tmp_path, monkeypatch):
    """`paretoflow deploy` runs `prefect deploy` on infra/prefect.yaml, then sets each deployment's typed form from the
    params and overrides the file declares (profile gpu): the API then refuses what the form would."""
    import shutil

    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.testing.utilities import prefect_test_harness
    from prefect.workers.process import ProcessWorker

    (root := tmp_path / "project").mkdir()
    copy_project(root)
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "infra").mkdir()
    shutil.copy2(REPO / "infra/prefect.yaml", root / "infra/prefect.yaml")
    monkeypatch.chdir(root)
    uri = "http://mlflow.internal:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("PARETOFLOW_PROJECT_DIR", raising=False)
    gpu = load_params("params.yaml", [f"tracking.uri={uri}", "profile=gpu"])

    async def pools():
        template = ProcessWorker.get_default_base_job_template()
        async with get_client() as client:
            for pool in ("cpu-pool", "gpu-pool"):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))

    with prefect_test_harness(server_startup_timeout=120):
        asyncio.run(pools())
        out = CliRunner().invoke(app, ["deploy", "--prefect-file", "infra/prefect.yaml"])
        assert out.exit_code == 0, out.output
        deployed = {name: _deployment(f"{flow}/{name}") for flow, name in DEPLOYED}
        for name, deployment in deployed.items():
            assert deployment.enforce_parameter_schema, name
            _assert_typed_form(deployment.parameter_openapi_schema, name, gpu)
        assert deployed["scheduled-retrain"].parameter_openapi_schema["properties"]["max_steps"]["default"] == 200
        reason = _refused("training_pipeline/manual-retrain", {"profile": "huge"})
        assert "Validation failed for field 'profile'. Failure reason: 'huge' is not one of" in reason
    assert "training_pipeline/manual-retrain: typed run form set" in out.stdout


DEPLOYED = [("training_pipeline", "scheduled-retrain"), ("training_pipeline", "manual-retrain"), ("promote", "promote")]
