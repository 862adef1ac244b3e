import json

import pytest

from components.data.canonical import read_table, write_table
from components.data.ingest import ingest
from components.data.validate import DataValidationError, validate
from paretoflow.config import load_params
from tests.conftest import tiny


@pytest.fixture
def ingested(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    ingest(params, project / "data_out")
    return params, project / "data_out"


def test_sample_tables_pass_every_expectation(ingested, project):
    params, data = ingested
    summary = validate(params, data, project / "val", project / "docs")
    assert summary["pairs"]["rows"] == 340 and summary["pairs"]["expectations"] >= 17
    saved = json.loads((project / "val" / "summary.json").read_text())
    assert saved["pairs"]["success"] and saved["prompts"]["success"]
    assert json.loads((project / "docs" / "pairs_gx_result.json").read_text())["success"]
    pages = [p.read_text() for p in (project / "docs" / "html" / "validations").rglob("*.html")]
    assert len(pages) == 2 and all("values must be unique" in page and "prompt_turns" in page for page in pages)
    assert (project / "docs" / "html" / "index.html").is_file()


def test_summary_is_byte_stable_across_runs(ingested, project):
    """Downstream cache keys hash the validation folder: timestamped GX output lives elsewhere."""
    params, data = ingested
    validate(params, data, project / "a", project / "docs")
    validate(params, data, project / "b", project / "docs")
    assert (project / "a" / "summary.json").read_bytes() == (project / "b" / "summary.json").read_bytes()


def test_broken_tables_stop_the_run_naming_the_failed_expectations(ingested, project):
    params, data = ingested
    pairs = read_table(data / "pairs.parquet")
    pairs.loc[0, "prompt"] = pairs.loc[0, "prompt"] + [{"role": "assistant", "content": "dangling"}]
    pairs.loc[1, "rejected"] = pairs.loc[1, "chosen"]
    pairs.loc[2:, "split"] = "test"
    write_table(pairs, data / "pairs.parquet")
    with pytest.raises(DataValidationError) as err:
        validate(params, data, project / "val", project / "docs")
    message = str(err.value)
    assert f"example rows (id): {pairs.loc[1, 'id']}" in message
    assert "expect_column_values_to_be_in_set(last_role)" in message
    assert "expect_column_values_to_be_in_set(chosen_is_rejected)" in message
    assert "expect_column_mean_to_be_between(is_test)" in message
    assert "prompts:" not in message  # the prompts table is still fine


def test_the_step_logs_gx_results_and_data_docs_to_mlflow(project, model_cache):
    import mlflow

    from paretoflow.steps import execute

    params = load_params("params.yaml", tiny(project, model_cache))
    execute("ingest", params)
    run_id = execute("validate", params)["run_id"]
    client = mlflow.MlflowClient(params.tracking.uri)
    logged = {a.path for a in client.list_artifacts(run_id, "validation")}
    assert {"validation/pairs_gx_result.json", "validation/data_docs"} <= logged
    docs = {a.path for a in client.list_artifacts(run_id, "validation/data_docs")}
    assert "validation/data_docs/index.html" in docs
    assert (project / "artifacts/reports/validation/html/index.html").is_file()
