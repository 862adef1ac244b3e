"""The Prefect flow end to end on the tiny profile, and its caching: what lands in MLflow, what re-runs."""

from __future__ import annotations

import json
import os
import time

import mlflow
import pytest

from paretoflow.config import load_params
from paretoflow.hashing import dvc_md5
from paretoflow.locking import LockTimeout
from paretoflow.steps import ORDER, STEPS, StepFailed, execute
from tests.conftest import copy_project, tiny
from tests.flows.prefect_api import artifacts, task_runs, waited_on
from tests.lock_holder import hold
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)

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


PIPELINE_GRAPH = {
    "ingest": set(),
    "validate": {"ingest"},
    "sft": {"validate"},
    "rubrics": {"validate"},
    "reward_model": {"validate"},
    "grpo": {"sft", "rubrics", "reward_model"},
    "evaluate": {"grpo"},
    "register": {"evaluate"},
}


def _flow_run_id(root, result: dict) -> str:
    return _client(root).get_run(result["parent_run_id"]).data.tags["prefect.flow_run_id"]


def test_the_flow_run_graph_is_the_pipeline_and_each_step_links_its_mlflow_run(pipeline):
    """Read as the UI's graph reads it: each task run's upstream task runs (task_inputs), and its link artifact."""
    root, _, (result, _) = pipeline
    runs = task_runs(_flow_run_id(root, result))
    assert set(runs) == set(ORDER)
    assert {name: waited_on(runs, name) for name in ORDER} == PIPELINE_GRAPH
    for name in ORDER:
        (link,) = artifacts(runs[name].id)
        assert f"/runs/{result['steps'][name]['run_id']})" in link["data"], name
        assert link["description"].startswith(f"{name} ran in "), name


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
    gaps = next(line for line in text.splitlines() if line.startswith("Largest gain of the training reward over"))
    assert "concision +0.000" in gaps  # a rule is its own evaluator: no gap
    assert all(f"- {o}: " in text for o in result["objectives"])  # what judged each objective, or why none did
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
        measured = named["evaluate"].data.metrics
        judged = measured[f"evaluator/{objective}/judged"] == 1.0  # unjudged: no evaluator score, training reward only
        assert (f"eval/{objective}/mean" in measured) is judged and f"train_reward/{objective}/mean" in measured
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
    runs = task_runs(_flow_run_id(root, second))
    assert {name: waited_on(runs, name) for name in ORDER} == PIPELINE_GRAPH
    for name in ORDER:
        assert runs[name].state.name == "Cached", name
        (link,) = artifacts(runs[name].id)
        assert link["description"].startswith("cached: ") and f"/runs/{first['steps'][name]['run_id']})" in link["data"]
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


def test_params_a_then_b_then_a_again_runs_what_b_overwrote(pipeline, model_cache):
    """The tests above left B (grpo.learning_rate=2e-5, evaluate.max_new_tokens=6) in artifacts/ while Prefect still
    holds A's results: serving them would evaluate and register B's policies under A's lineage."""
    root, run, (first, first_seconds) = pipeline
    a = load_params("params.yaml", tiny(root, model_cache))
    grpo_key = STEPS["grpo"].cache_key(a)
    assert "made with other inputs or params" in STEPS["grpo"].stale(grpo_key)
    result, seconds = run()
    assert _ran(result) == ["grpo", "evaluate", "register"]
    assert {name: STEPS[name].stale(STEPS[name].cache_key(a)) for name in ORDER} == dict.fromkeys(ORDER)
    cached, cached_seconds = run()
    assert _ran(cached) == []
    share = cached_seconds / first_seconds
    print(f"A again after B {seconds:.1f}s; then a cached run {cached_seconds:.1f}s, {share:.1%} of the first run")


def test_a_failed_run_leaves_nothing_a_later_cache_hit_trusts(pipeline):
    """Ingest writes its tables before it stops on the quarantine limit; the next run with A's params must not take
    A's cached result over B's tables."""
    root, run, _ = pipeline
    tables = dvc_md5("artifacts/data")
    good = {
        "prompt": [{"role": "user", "content": "My dog died."}],
        "chosen": "I'm so sorry.",
        "rejected": "Get a cat.",
    }
    (root / "extra.jsonl").write_text(json.dumps({**good, "objective": "empathy"}) + "\n{not json\n")
    sources = [
        {"name": "sample-pairs", "uri": "data/sample/pairs.jsonl"},
        {"name": "sample-prompts", "uri": "data/sample/prompts.jsonl"},
        {"name": "extra", "uri": "extra.jsonl"},
    ]
    with pytest.raises(StepFailed, match="too many rows rejected"):
        run(f"data.sources={json.dumps(sources)}", "data.max_quarantine_fraction=0")
    assert dvc_md5("artifacts/data") != tables, "the failed ingest left B's tables"
    result, _ = run()
    assert _ran(result) == ["ingest"], "ingest again; the steps after it find A's inputs and are cached"
    assert dvc_md5("artifacts/data") == tables


def test_force_retrains_finished_policies(pipeline, model_cache):
    """A re-run with the same settings skips finished policies; a forced one (`paretoflow run --force`, which the
    flow hands to every step it executes) trains them again."""
    root, _, _ = pipeline
    params = load_params("params.yaml", tiny(root, model_cache))
    again = execute("grpo", params)["summary"]
    assert (again["trained"], again["skipped_finished"]) == (0, 3)
    forced = execute("grpo", params, force=True)["summary"]
    assert (forced["trained"], forced["skipped_finished"]) == (3, 0)
    assert all((root / "artifacts/policies" / f"policy-{i}" / "finished.json").exists() for i in range(3))


def test_a_scheduled_run_ingests_a_new_s3_object_and_skips_when_nothing_changed(
    harness,
    tmp_path,
    model_cache,
    monkeypatch,
    s3_endpoint,  # noqa: F811
):
    from flows.pipeline import training_pipeline

    root = copy_project(tmp_path)
    monkeypatch.chdir(root)
    client = make_bucket(s3_endpoint, "nightly")
    row = {"prompt": [{"role": "user", "content": "I can't sleep."}], "chosen": "That's hard.", "rejected": "Ok."}
    row["objective"] = "empathy"
    client.put_object(Bucket="nightly", Key="prefs/day-1.jsonl", Body=json.dumps(row).encode() + b"\n")
    source = f"data.sources=[{{name: remote, uri: s3://nightly/prefs, endpoint_url: {s3_endpoint}}}]"

    def run() -> dict:
        return training_pipeline(params_file="params.yaml", overrides=tiny(root, model_cache, source), until="ingest")

    first, unchanged = run(), run()
    client.put_object(
        Bucket="nightly", Key="prefs/day-2.jsonl", Body=json.dumps({**row, "chosen": "Nights are hard."}).encode()
    )
    added = run()
    assert [_ran(r) for r in (first, unchanged, added)] == [["ingest"], [], ["ingest"]]
    assert (first["steps"]["ingest"]["summary"]["pairs"], added["steps"]["ingest"]["summary"]["pairs"]) == (1, 2)


def test_a_second_run_waits_for_the_project_lock_naming_the_holder(harness, tmp_path, model_cache, monkeypatch, caplog):
    """A real process holds the project's lock (a scheduled retrain still going): another run waits, says which run
    holds it, and fails with that name after its timeout; once the holder is done, it goes on."""
    from flows.pipeline import training_pipeline

    root = copy_project(tmp_path)
    monkeypatch.chdir(root)

    def run(until: str) -> tuple[dict, float]:
        started = time.perf_counter()
        result = training_pipeline(params_file="params.yaml", overrides=tiny(root, model_cache), until=until)
        return result, time.perf_counter() - started

    lock = root / "artifacts" / "paretoflow.lock"
    holder = hold(lock, "training_pipeline flow run nightly-retrain")
    try:
        monkeypatch.setenv("PARETOFLOW_LOCK_TIMEOUT_S", "1")
        with pytest.raises(LockTimeout, match=f"held by pid {holder.pid} .*nightly-retrain"):
            run(until="ingest")
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.setenv("PARETOFLOW_LOCK_TIMEOUT_S", "120")
    holder = hold(lock, "training_pipeline flow run nightly-retrain", seconds=2)
    result, seconds = run(until="ingest")
    assert holder.wait() == 0 and _ran(result) == ["ingest"]
    waiting = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for the lock")]
    assert waiting and f"on {lock}" in waiting[-1] and f"held by pid {holder.pid} " in waiting[-1]
    assert seconds >= 1, "it went on only once the holder had let go"


def test_run_command_stops_cleanly_naming_the_failed_step(harness, tmp_path, model_cache, monkeypatch):
    from typer.testing import CliRunner

    from paretoflow.cli import app

    root = copy_project(tmp_path)
    monkeypatch.chdir(root)
    (root / "data/sample/prompts.jsonl").write_text("")  # no prompts: the prompts suite must fail
    args = [x for o in tiny(root, model_cache, "data.sources.1.allow_empty=true") for x in ("-o", o)]
    out = CliRunner().invoke(app, ["run", *args, "--until", "validate"])
    assert out.exit_code == 1, out.output
    assert "pipeline stopped at validate:" in out.stderr and "prompts: expect_table_row_count" in out.stderr
    typo = CliRunner().invoke(app, ["run", *args, "--until", "valdate"])
    assert typo.exit_code == 2 and "until: Input should be 'ingest', 'validate'" in typo.stderr


def test_summary_table_names_every_policy_and_objective(pipeline):
    from rich.console import Console

    from paretoflow.report import print_summary

    root, _, (result, _) = pipeline
    console = Console(record=True, width=160)
    print_summary(result, console)
    text = console.export_text()
    for word in ("policy-0", "policy-2", "empathy", "concision", "hypervolume", "registered model", "mlflow ui"):
        assert word in text, word
