"""The rubrics step builds rubrics only for a run that reads them (rubrics.build: auto)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from components.rubrics.synthesize import rubric_users, synthesize_rubrics
from components.scorers.rubric import stored_rubrics
from paretoflow.config import load_params
from tests.conftest import tiny


def test_a_run_without_rubric_judges_writes_an_empty_table_and_says_why(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    assert rubric_users(params) == []  # the default objectives: reward models and the concision rule
    summary = synthesize_rubrics(params)  # no data read: ingest has not even run
    out = project / "artifacts/rubrics"
    assert summary["built"] is False and "rubric judge" in summary["reason"]
    assert pd.read_parquet(out / "rubrics.parquet").empty
    assert json.loads((out / "summary.json").read_text()) == summary
    assert json.loads((out / "principles.json").read_text()) == {}


def test_only_rubric_objectives_need_rubrics_and_an_audit_reward_on_a_skipped_table_is_refused(project, model_cache):
    rubric_objective = "objectives=[{name: empathy, scorer: rubric}, {name: concision, scorer: concision}]"
    both = load_params(
        "params.yaml", tiny(project, model_cache, rubric_objective, "grpo.weights=[{empathy: 1, concision: 1}]")
    )
    assert rubric_users(both) == ["empathy"]
    params = load_params("params.yaml", tiny(project, model_cache))
    synthesize_rubrics(params)
    with pytest.raises(ValueError, match="rubrics.build: always"):
        stored_rubrics(project / "artifacts/rubrics", "judged")  # a grpo.audit rubric reward reads the table
