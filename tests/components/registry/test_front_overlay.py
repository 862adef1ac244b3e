"""`paretoflow fronts`: fronts of two pipeline runs, logged by evaluate's own logging code into a tmp MLflow
store, read back and overlaid in one PNG and one HTML page with a series per run."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.common import pareto
from components.evaluation.evaluate import BASE, _front_table, _log
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


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two pipeline runs, each with an evaluate step run that logged its front table like the real step does."""
    tmp_path = tmp_path_factory.mktemp("fronts")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    params = load_params(REPO / "params.yaml", [f"tracking.uri={store}"])
    objectives = params.objective_names
    weights = [None, {o: 0.25 for o in objectives}, {o: 0.25 for o in objectives}]
    candidates = [(name, None, w) for name, w in zip((BASE, "policy-0", "policy-1"), weights)]
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("paretoflow")
    ids = []
    for shift in (0.0, 0.1):
        table = _front_table(_scores(objectives, shift), candidates, params)
        with mlflow.start_run(run_name="training_pipeline") as parent:
            with mlflow.start_run(run_name="evaluate", nested=True, tags={"paretoflow.step": "evaluate"}) as step:
                metrics = {"pareto/hypervolume": table.attrs["hypervolume"]}
                _log(table, metrics, pareto.plot_front(table, objectives, "front"), objectives)
            mlflow.set_tag("step.evaluate.run_id", step.info.run_id)
        ids.append(parent.info.run_id)
    return store, ids, objectives, tmp_path


def test_fronts_overlays_two_runs_in_one_png_and_html(two_runs):
    store, ids, objectives, tmp_path = two_runs
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
