"""The registry and the pipeline run as people read them, on a real tiny-profile front in a real MLflow store:
version descriptions, a few filterable tags, one complete lineage artifact, the front on the pipeline run, and the
version page of a real `mlflow server` in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from components.evaluation.report import markdown
from components.registry.descriptions import MAX_DESCRIPTION
from components.registry.register import describe_scorer
from paretoflow import tracking
from paretoflow.steps import STEPS
from tests import browser
from tests.components.registry.registry_server import sqlite_mlflow_server

pytestmark = pytest.mark.slow
MAX_TAGS = 25
FILTERED = ("pipeline.run_id", "git.commit", "data.md5", "heldout_set.md5", "lineage", "judge_attack.fpr")


def _versions(tiny_run):
    root, params, results = tiny_run
    client = MlflowClient(params.tracking.uri)
    summary = results["register"]["summary"]
    return [client.get_model_version(summary["model_name"], v["version"]) for v in summary["versions"]]


def _front(root) -> dict[str, dict]:
    return {r["policy"]: r for r in json.loads((root / "artifacts/evaluation/front.json").read_text())}


def test_each_version_says_its_weights_scores_run_and_evaluators_in_a_few_tags(tiny_run):
    root, params, results = tiny_run
    front, objectives = _front(root), params.objective_names
    for version in _versions(tiny_run):
        tags, text, row = version.tags, version.description, front[version.tags["policy"]]
        assert len(tags) <= MAX_TAGS, sorted(tags)
        assert not [k for k in tags if k.startswith("dvc.md5.")], "code and data md5s belong in the lineage file"
        assert set(FILTERED) | {f"weight.{o}" for o in objectives} | {f"heldout.{o}" for o in objectives} <= set(tags)
        assert tags["pipeline.run_id"] == results["register"]["run_id"]  # no parent run here: the step's own
        checks = json.loads((root / "artifacts/evaluation/evaluators.json").read_text())
        for o in objectives:  # the evaluator's score (None: unjudged) is what the tag and the gates read
            assert tags[f"heldout.{o}"] == ("None" if row[o] is None else str(row[o]))
        assert 0 < len(text) <= MAX_DESCRIPTION
        assert "trained with weights " + " · ".join(f"{o} {row['weights'][o]:g}" for o in objectives) in text
        for o in objectives:  # mean and interval (or unjudged), evaluator, training reward: one table row each
            scores = "**unjudged**, not scored | –" if row[o] is None else f"{row[o]:.3f} | [{row[f'{o}_ci_low']:.3f}, "
            assert f"| {o} | {scores}" in text
            training = describe_scorer(next(x for x in params.objectives if x.name == o))
            assert f"| {training}: {row[f'{o}_training']:.3f} |" in text
            assert checks[o]["evaluator"] is None or checks[o]["evaluator"] in text
        assert f"pipeline run `{tags['pipeline.run_id']}`" in text and f"`{tags['lineage']}`" in text
        assert "judge-attack probes" in text and "start policy: end_of_turn_rate" in text
        assert "paretoflow select --weights empathy=0.7,helpfulness=0.3" in text
    model = MlflowClient(params.tracking.uri).get_registered_model(params.register.model_name)
    assert "**Pareto front**" in model.description and "`paretoflow select --weights" in model.description
    versions = ", ".join(v["version"] for v in results["register"]["summary"]["versions"])
    assert f"Latest front: versions {versions} of {params.register.model_name}" in model.description


def test_one_lineage_artifact_holds_every_input_md5_of_every_step(tiny_run):
    root, params, results = tiny_run
    mlflow.set_tracking_uri(params.tracking.uri)
    for version in _versions(tiny_run):
        uri = version.tags["lineage"]
        assert uri == f"runs:/{results['register']['run_id']}/lineage.json"
        lineage = mlflow.artifacts.load_dict(uri)
        assert lineage == json.loads((root / "artifacts/registry/lineage.json").read_text())
        assert lineage["pipeline_run_id"] == version.tags["pipeline.run_id"]
        assert lineage["git_commit"] == version.tags["git.commit"]
        assert set(lineage["steps"]) == set(STEPS)
        for name, step in STEPS.items():  # what the step recorded as it ran (dvc.lock's deps): data, outputs, code
            assert lineage["steps"][name] == json.loads((root / step.lineage).read_text()), name
            assert set(step.dependencies(params)) == set(lineage["steps"][name]), name  # every code package too
        assert lineage["steps"]["ingest"]["data/sample/pairs.jsonl"]
        assert lineage["steps"]["register"]["artifacts/data"] == version.tags["data.md5"]


def test_pipeline_run_shows_the_front_and_its_headline_metrics_and_the_report_links_them(tiny_run, tmp_path):
    _, params, results = tiny_run
    parent = tracking.start_pipeline_run(params, None)
    tracking.end_pipeline_run(parent, {n: r | {"cached": False} for n, r in results.items()}, "FINISHED")
    client = MlflowClient(params.tracking.uri)
    assert {a.path for a in client.list_artifacts(parent, "pareto")} == set(tracking.FRONT_ARTIFACTS)
    evaluate_run = results["evaluate"]["run_id"]
    for path in tracking.FRONT_ARTIFACTS:
        ours = Path(client.download_artifacts(parent, path, str(tmp_path / "parent")))
        theirs = Path(client.download_artifacts(evaluate_run, path, str(tmp_path / "evaluate")))
        assert ours.read_bytes() == theirs.read_bytes(), path
    metrics = client.get_run(parent).data.metrics
    summary = results["evaluate"]["summary"]
    for key in ("pareto/hypervolume", "pareto/hypervolume/ci95_low", "pareto/hypervolume/ci95_high", "pareto/eum"):
        assert metrics[key] == pytest.approx(summary[key]), key
    assert 0 <= metrics["pareto/hypervolume/ci95_low"] <= metrics["pareto/hypervolume/ci95_high"]
    experiment = client.get_run(parent).info.experiment_id
    ranked = client.search_runs([experiment], "metrics.`pareto/hypervolume/ci95_low` >= 0", order_by=["start_time"])
    assert parent in [r.info.run_id for r in ranked]  # a metric like any other: filterable, comparable across runs
    text = markdown(results["evaluate"], params.objective_names, params.tracking.uri, pipeline_run_id=parent)
    page = f"/#/experiments/{experiment}/runs/{parent}"
    assert f"[Pareto front](http://127.0.0.1:5000{page}/artifactPath/pareto/front.png)" in text
    assert f"[interactive front](http://127.0.0.1:5000{page}/artifactPath/pareto/front.html)" in text
    low, high = summary["pareto/hypervolume/ci95_low"], summary["pareto/hypervolume/ci95_high"]
    assert f"hypervolume {summary['pareto/hypervolume']:.4f} [{low:.4f}, {high:.4f}], EUM" in text


@pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))
def test_mlflow_ui_version_page_shows_the_description_in_a_browser(tiny_run):
    root, params, results = tiny_run
    name, version = params.register.model_name, results["register"]["summary"]["alias_version"]
    server = sqlite_mlflow_server(root).start()
    try:
        page = browser.dom(f"{server.health_url.removesuffix('/health')}/#/models/{name}/versions/{version}")
    finally:
        server.stop()
    assert f"Version {version}" in page
    policy = MlflowClient(params.tracking.uri).get_model_version(name, version).tags["policy"]
    for shown in (f"<strong>{policy}</strong>, trained with weights", "held-out mean", "independent check"):
        assert shown in page, shown
