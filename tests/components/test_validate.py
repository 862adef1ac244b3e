import json

import pytest

from components.canonical import read_table, write_table
from components.ingest import ingest
from components.validate import DataValidationError, validate
from paretoflow.config import load_params
from tests.conftest import tiny


@pytest.fixture
def ingested(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    ingest(params, project / "data_out")
    return params, project / "data_out"


def test_sample_tables_pass_every_expectation(ingested, project):
    params, data = ingested
    summary = validate(params, data, project / "val")
    assert summary["pairs"]["rows"] == 180 and summary["pairs"]["expectations"] >= 12
    saved = json.loads((project / "val" / "summary.json").read_text())
    assert saved["pairs"]["success"] and saved["prompts"]["success"]


def test_broken_tables_stop_the_run_naming_the_failed_expectations(ingested, project):
    params, data = ingested
    pairs = read_table(data / "pairs.parquet")
    pairs.loc[0, "prompt"] = pairs.loc[0, "prompt"] + [{"role": "assistant", "content": "dangling"}]
    pairs.loc[1, "rejected"] = pairs.loc[1, "chosen"]
    pairs.loc[2:, "split"] = "test"
    write_table(pairs, data / "pairs.parquet")
    with pytest.raises(DataValidationError) as err:
        validate(params, data, project / "val")
    message = str(err.value)
    assert "expect_column_values_to_be_in_set(last_role)" in message
    assert "expect_column_values_to_be_in_set(chosen_is_rejected)" in message
    assert "expect_column_mean_to_be_between(is_test)" in message
    assert "prompts:" not in message  # the prompts table is still fine
