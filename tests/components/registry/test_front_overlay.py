"""`paretoflow fronts`: fronts of pipeline runs, logged by evaluate's own logging code into a tmp MLflow store,
read back and overlaid in one PNG and one HTML page with a series per run; runs measured by other evaluators or
under another normalisation are left out, and the output says why."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.common import pareto
from components.evaluation.evaluate import _log
from components.evaluation.front_evaluators import front_evaluators, measurement_params
from components.evaluation.front_table import BASE, front_table
from paretoflow.cli import app
from paretoflow.config import load_params
from tests.conftest import REPO


def _scores(objectives: list[str], shift: float) -> pd.DataFrame:
    """Base and two trained policies (a specialist on the first objective, one on the rest), 4 replies each."""
    rows = []
    for policy, first, rest in [(BASE, 0.3, 0.3), ("policy-0", 0.8 + shift, 0.4), ("policy-1", 0.35, 0.7 + shift)]:
        for j in range(4):
            scores = {objectives[0]: first + 0.01 * j} | {o: rest + 0.01 * j for o in objectives[1:]}
            rows.append({"policy": policy, "prompt_id": f"p{j}", "completion": "I hear you.", "ended": True, **scores})
    return pd.DataFrame(rows)


# the two runs that compare, then one with another concision scorer, one with another ideal for empathy
MEASURED = [
    (0.0, []),
    (0.1, []),
    (0.1, ["objectives.3.target_words=30"]),
    (0.1, ["evaluate.normalisation.ideal={empathy: 0.9}"]),
]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Pipeline runs, each with an evaluate step run that logged its front table and how it was measured like the
    real step does: the first two alike, two more measured otherwise."""
    tmp_path = tmp_path_factory.mktemp("fronts")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("paretoflow")
    ids = []
    for shift, overrides in MEASURED:
        params = load_params(REPO / "params.yaml", [f"tracking.uri={store}", *overrides])
        objectives = params.objective_names
        weights = [None, {o: 0.25 for o in objectives}, {o: 0.25 for o in objectives}]
        candidates = [(name, None, w) for name, w in zip((BASE, "policy-0", "policy-1"), weights)]
        table = front_table(_scores(objectives, shift), candidates, params)
        with mlflow.start_run(run_name="training_pipeline") as parent:
            with mlflow.start_run(run_name="evaluate", nested=True, tags={"paretoflow.step": "evaluate"}) as step:
                metrics = {"pareto/hypervolume": table.attrs["hypervolume"]}
                _log(table, metrics, pareto.plot_front(table, objectives, "front"), objectives)
                evaluators = front_evaluators(params, tmp_path / "reward_models")
                mlflow.log_params(measurement_params(table.attrs["normalisation"], evaluators))
            mlflow.set_tag("step.evaluate.run_id", step.info.run_id)
        ids.append(parent.info.run_id)
    return store, ids, objectives, tmp_path


def test_fronts_overlays_two_runs_in_one_png_and_html(two_runs):
    store, ids, objectives, tmp_path = two_runs
    ids = ids[:2]
    out = CliRunner().invoke(app, ["fronts", *ids, "-o", f"tracking.uri={store}", "--out", str(tmp_path / "fronts")])
    assert out.exit_code == 0, out.output
    png, page = tmp_path / "fronts/fronts.png", (tmp_path / "fronts/fronts.html").read_text()
    assert png.stat().st_size > 10_000
    for run_id in ids:
        assert out.stdout.count(run_id[:8]) == 3  # a table row per policy (base, policy-0, policy-1)
        assert f'"name":"{run_id[:8]}"' in page  # its own series in the interactive page
    assert page.count('"type":"splom"') == 2 and "empathy=0.25" in page
    client = mlflow.MlflowClient(store)
    hypervolumes = [client.get_run(client.get_run(i).data.tags["step.evaluate.run_id"]) for i in ids]
    assert f"{hypervolumes[1].data.metrics['pareto/hypervolume']:.4f}" in out.stdout


def test_fronts_explains_a_run_without_a_front(two_runs):
    store, ids, _, tmp_path = two_runs
    args = ["-o", f"tracking.uri={store}", "--out", str(tmp_path / "fronts")]
    missing = CliRunner().invoke(app, ["fronts", "0" * 32, *args])
    assert missing.exit_code == 2 and "no MLflow run" in missing.stderr
    client = mlflow.MlflowClient(store)
    other = client.create_run(client.get_run(ids[0]).info.experiment_id, run_name="ingest").info.run_id
    wrong = CliRunner().invoke(app, ["fronts", other, *args])
    assert wrong.exit_code == 2 and "neither a pipeline run that reached evaluate" in wrong.stderr


def test_fronts_leaves_out_runs_measured_otherwise_and_says_why(two_runs):
    store, ids, _, tmp_path = two_runs
    out = CliRunner().invoke(app, ["fronts", *ids, "-o", f"tracking.uri={store}", "--out", str(tmp_path / "mixed")])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "mixed/fronts.html").read_text()
    assert page.count('"type":"splom"') == 2  # only the two runs measured alike share the picture
    assert all(i[:8] in out.stdout for i in ids[:2]) and not any(i[:8] in out.stdout for i in ids[2:])
    assert f"left out {ids[2][:8]}" in out.stderr and "evaluator of concision: 'concision (target 30" in out.stderr
    assert f"left out {ids[3][:8]}" in out.stderr and "normalisation of empathy: 'ideal 0.9' vs 'range 1'" in out.stderr
    reference = "reference: start policy = 0; per objective (score - start) / scale, 1 = empathy range 1, helpfulness"
    assert reference in " ".join(out.stdout.split()) and reference.replace("/", "\\u002f") in page  # plotly escapes /
