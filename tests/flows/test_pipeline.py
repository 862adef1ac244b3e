"""The Prefect flow end to end on the tiny profile, and its caching: what lands in MLflow, what re-runs."""

from __future__ import annotations

import os
import time

import mlflow
import pytest

from paretoflow.config import load_params
from paretoflow.steps import ORDER
from tests.conftest import copy_project, tiny

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def pipeline(harness, tmp_path_factory, model_cache):
    """A project copy and a function running the flow in it with tiny overrides plus extra ones."""
    from flows.pipeline import training_pipeline

    root = copy_project(tmp_path_factory.mktemp("flow-project"))
    old = os.getcwd()
    os.chdir(root)

    def run(*extra: str, force: bool = False, until: str | None = None) -> tuple[dict, float]:
        started = time.perf_counter()
        result = training_pipeline(
            params_file="params.yaml", overrides=tiny(root, model_cache, *extra), force=force, until=until
        )
        return result, time.perf_counter() - started

    first = run()
    yield root, run, first
    os.chdir(old)


def _client(root):
    return mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db")


def _ran(result: dict) -> list[str]:
    return [name for name, r in result["steps"].items() if not r["cached"]]


def test_first_run_executes_every_step(pipeline):
    _, _, (result, _) = pipeline
    assert list(result["steps"]) == ORDER
    assert _ran(result) == ORDER


def test_evaluation_is_a_prefect_markdown_artifact_with_a_link(pipeline):
    """The flow turns the evaluate step's summary into a markdown table (read here as the UI reads it)."""
    import asyncio

    from prefect import get_client

    _, _, (result, _) = pipeline

    async def latest():
        async with get_client() as client:
            return (await client._client.get("/artifacts/evaluation/latest")).json()

    artifact = asyncio.run(latest())
    text, evaluate = artifact["data"], result["steps"]["evaluate"]
    assert artifact["type"] == "markdown"
    assert f"| policy | weights | {' | '.join(result['objectives'])} | front | hv contribution |" in text
    for policy in ("start", "policy-0", "policy-1", "policy-2"):
        assert f"| {policy} | " in text, policy
    assert "| yes |" in text and f"hypervolume {evaluate['summary']['pareto/hypervolume']:.4f}" in text
    assert "EUM" in text and "Judge-attack probes" in text
    gaps = next(line for line in text.splitlines() if line.startswith("Largest gap between training and independent"))
    assert all(f"{o} " in gaps for o in result["objectives"])  # params.yaml gives every objective one
    assert f"/runs/{evaluate['run_id']})" in text and "pareto/front.html" in text


def test_mlflow_holds_parent_and_nested_step_runs_with_lineage_tags(pipeline):
    root, _, (result, _) = pipeline
    client = _client(root)
    parent = client.get_run(result["parent_run_id"])
    assert parent.info.status == "FINISHED"
    for tag in (
        "git.commit",
        "params.hash",
        "prefect.flow_run_id",
        "paretoflow.profile",
        "dvc.md5.data/sample/pairs.jsonl",
    ):
        assert parent.data.tags[tag], tag
    assert "pareto/hypervolume" in parent.data.metrics
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_step = {r.data.tags["paretoflow.step"]: r for r in children}
    assert set(by_step) == set(ORDER)
    assert any(k.startswith("dvc.md5.artifacts/data") for k in by_step["reward_model"].data.tags)
    assert by_step["grpo"].data.tags["prefect.flow_run_id"] == parent.data.tags["prefect.flow_run_id"]
    assert by_step["ingest"].data.tags["dvc.md5.data/sample/pairs.jsonl"]


def test_per_objective_metrics_datasets_and_front_artifacts(pipeline):
    root, _, (result, _) = pipeline
    client = _client(root)
    params = load_params(root / "params.yaml", tiny(root, root))
    runs = client.search_runs([client.get_run(result["parent_run_id"]).info.experiment_id])
    named = {r.info.run_name: r for r in runs}
    policy_run = named["grpo/policy-0"]
    for objective in params.objective_names:
        assert f"reward/{objective}/mean" in policy_run.data.metrics
        assert f"eval/{objective}/mean" in named["evaluate"].data.metrics
    assert "pareto/hypervolume" in named["evaluate"].data.metrics
    assert named["reward_model/empathy"].inputs.dataset_inputs, "training data recorded with log_input"
    artifacts = {a.path for a in client.list_artifacts(named["evaluate"].info.run_id, "pareto")}
    assert {"pareto/front.json", "pareto/front.png"} <= artifacts


def test_front_is_registered_with_candidate_alias(pipeline):
    root, _, (result, _) = pipeline
    client = _client(root)
    registered = result["steps"]["register"]["summary"]
    versions = client.search_model_versions("name = 'paretoflow-policy'")
    assert len(versions) == len(registered["versions"]) >= 1
    candidate = client.get_model_version_by_alias("paretoflow-policy", "candidate")
    assert str(candidate.version) == registered["alias_version"]
    assert "heldout.empathy" in candidate.tags and "weight.concision" in candidate.tags


def test_second_run_with_nothing_changed_trains_nothing(pipeline):
    root, run, (first, first_seconds) = pipeline
    before = len(_client(root).search_runs([_client(root).get_experiment_by_name("paretoflow").experiment_id]))
    second, seconds = run()
    assert _ran(second) == []
    assert all(second["steps"][s]["run_id"] == first["steps"][s]["run_id"] for s in ORDER)
    after = len(_client(root).search_runs([_client(root).get_experiment_by_name("paretoflow").experiment_id]))
    assert after == before + 1  # only the new parent run
    parent = _client(root).get_run(second["parent_run_id"])
    assert parent.data.tags["paretoflow.cached_steps"] == ",".join(ORDER)
    assert parent.data.tags["step.grpo.run_id"] == first["steps"]["grpo"]["run_id"]  # lineage through the cache
    print(f"first run {first_seconds:.1f}s, cached run {seconds:.1f}s")


def test_one_changed_param_reruns_that_step_and_those_after_only(pipeline):
    _, run, _ = pipeline
    result, _ = run("evaluate.max_new_tokens=6")
    assert _ran(result) == ["evaluate", "register"]
    result, _ = run("evaluate.max_new_tokens=6", "grpo.learning_rate=2.0e-5")
    assert _ran(result) == ["grpo", "evaluate", "register"]


def test_force_reruns_everything_and_until_stops_early(pipeline):
    _, run, _ = pipeline
    result, _ = run(force=True, until="validate")
    assert list(result["steps"]) == ["ingest", "validate"] and _ran(result) == ["ingest", "validate"]


def test_run_command_stops_cleanly_naming_the_failed_step(harness, tmp_path, model_cache, monkeypatch):
    from typer.testing import CliRunner

    from paretoflow.cli import app

    root = copy_project(tmp_path)
    monkeypatch.chdir(root)
    (root / "data/sample/prompts.jsonl").write_text("")  # no prompts: the prompts suite must fail
    args = [x for o in tiny(root, model_cache) for x in ("-o", o)]
    out = CliRunner().invoke(app, ["run", *args, "--until", "validate"])
    assert out.exit_code == 1, out.output
    assert "pipeline stopped at validate:" in out.stderr and "prompts: expect_table_row_count" in out.stderr
    typo = CliRunner().invoke(app, ["run", *args, "--until", "valdate"])
    assert typo.exit_code == 2 and "'valdate' is not a step" in typo.stderr


def test_summary_table_names_every_policy_and_objective(pipeline):
    from rich.console import Console

    from paretoflow.report import print_summary

    root, _, (result, _) = pipeline
    console = Console(record=True, width=160)
    print_summary(result, console)
    text = console.export_text()
    for word in ("policy-0", "policy-2", "empathy", "concision", "hypervolume", "registered model", "mlflow ui"):
        assert word in text, word
