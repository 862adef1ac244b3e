"""`paretoflow run` takes the manual-retrain form's fields as flags: checked by the same request model before
anything starts, and handed to the flow as that request."""

from __future__ import annotations

import inspect
from pathlib import Path

import mlflow
import pytest
import yaml
from typer.testing import CliRunner

from flows.pipeline import training_pipeline
from paretoflow import cli, run_request
from paretoflow.config import load_params
from tests.conftest import REPO, tiny

runner = CliRunner()


def test_the_run_flags_are_the_request_fields_and_the_flow_parameters():
    model = run_request.retrain_model(load_params(REPO / "params.yaml"), "params.yaml")
    fields = set(model.model_fields)
    flags = set(inspect.signature(cli.run).parameters) | {"params_file", "overrides"}
    assert flags - {"params", "override"} == fields
    assert set(inspect.signature(training_pipeline.fn).parameters) == fields


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--max-steps", "0"], "max_steps: Input should be greater than or equal to 1 (got 0)"),
        (["--strategy", "swep"], "strategy: Input should be 'sweep', 'dynamic' or 'soup' (got 'swep')"),
        (["--until", "valdate"], "until: Input should be 'ingest', 'validate', 'sft'"),
        (["--weights", "empathy=1"], "weights.0.helpfulness: Field required"),
        (["--weights", "empathy"], "'empathy' is not objective=weight"),
        (["--source", "{name: x, uri: y, format: hh-rlhf}"], "format hh-rlhf needs an objective"),
    ],
)
def test_a_bad_flag_is_refused_before_anything_starts(flags, problem):
    out = runner.invoke(cli.app, ["run", "--params", str(REPO / "params.yaml"), *flags])
    assert out.exit_code == 2, out.output
    assert problem in out.stderr and "Traceback" not in out.output


@pytest.mark.slow
def test_run_flags_reach_the_flow_as_its_request(project, model_cache, tmp_path_factory):
    from prefect.testing.utilities import prefect_test_harness

    overrides = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    flags = ["--until", "ingest", "--max-steps", "3", "--strategy", "soup", "--learning-rate", "2e-5"]
    flags += ["--weights", "empathy=1,helpfulness=0,harmlessness=0,concision=0"]
    flags += ["--source", "{name: only-pairs, uri: data/sample/pairs.jsonl}"]
    with prefect_test_harness(server_startup_timeout=120):
        out = runner.invoke(cli.app, ["run", *overrides, *flags])
    assert out.exit_code == 0, out.output
    store = mlflow.MlflowClient(f"sqlite:///{project}/mlflow.db")
    (parent,) = store.search_runs(
        [store.get_experiment_by_name("paretoflow").experiment_id], "tags.`paretoflow.step` = 'pipeline'"
    )
    folder = tmp_path_factory.mktemp("used-params")
    resolved = yaml.safe_load(
        Path(store.download_artifacts(parent.info.run_id, "params.yaml", str(folder))).read_text()
    )
    grpo = resolved["grpo"]
    assert (grpo["max_steps"], grpo["strategy"], grpo["learning_rate"]) == (3, "soup", 2e-5)
    assert grpo["weights"] == [{"empathy": 1.0, "helpfulness": 0.0, "harmlessness": 0.0, "concision": 0.0}]
    assert [s["name"] for s in resolved["data"]["sources"]] == ["only-pairs"]
    assert resolved["profile"] == "tiny" and "ingest" in out.stdout
