"""The format adapters on the real datasets in ../shared/data: exact counts per source, stable splits."""

import json

import pandas as pd
import pytest

from components.data.canonical import read_table
from components.data.ingest import ingest
from paretoflow.config import load_params
from tests.conftest import SHARED_DATA, tiny

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the project")

HH = SHARED_DATA / "hh-rlhf"
HELPFUL = f"{{name: helpful, uri: {HH}/helpful-base.dev.jsonl.gz, format: hh-rlhf, objective: helpfulness}}"
HARMLESS = f"{{name: harmless, uri: {HH}/harmless-base.dev.jsonl.gz, format: hh-rlhf, objective: harmlessness}}"
ESCONV = f"{{name: esconv, uri: {SHARED_DATA}/esconv, format: esconv}}"
COUNSEL = f"{{name: counselchat, uri: {SHARED_DATA}/counsel-chat/counsel_chat.dev.csv, format: counselchat}}"


def _params(project, cache, *sources):
    return load_params("params.yaml", tiny(project, cache, f"data.sources=[{', '.join(sources)}]"))


@pytest.fixture(scope="module")
def real(tmp_path_factory, model_cache):
    from tests.conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("real"))
    params = _params(project, model_cache, HELPFUL, HARMLESS, ESCONV, COUNSEL)
    report = ingest(params, project / "out")
    return project, params, report


def test_counts_per_source_match_the_files(real):
    _, _, report = real
    assert report["sources"] == {
        "helpful": {"read": 1907, "accepted": 1889, "quarantined": 18, "duplicates": 0},
        "harmless": {"read": 1825, "accepted": 1814, "quarantined": 11, "duplicates": 0},
        "esconv": {"read": 14646, "accepted": 14353, "quarantined": 0, "duplicates": 293},
        "counselchat": {"read": 3088, "accepted": 3088, "quarantined": 0, "duplicates": 0},
    }
    assert report["input_rows"] == {"helpful": 1907, "harmless": 1825, "esconv": 910 + 195 + 196, "counselchat": 2012}
    for counts in report["sources"].values():
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"]


def test_hh_rlhf_prompt_is_the_messages_before_the_final_assistant_turn(real):
    project, _, _ = real
    pairs = read_table(project / "out" / "pairs.parquet")
    hh = pairs[pairs["source"].isin(["helpful", "harmless"])]
    assert dict(hh.groupby("source")["objective"].first()) == {"helpful": "helpfulness", "harmless": "harmlessness"}
    for prompt in hh["prompt"]:
        assert [m["role"] for m in prompt] == ["user", "assistant"] * (len(prompt) // 2) + ["user"]
    first = hh.iloc[0]
    assert first["prompt"][0]["content"].startswith("Do you know why turkeys became the official food")
    assert "Human:" not in first["chosen"] and "Assistant:" not in first["chosen"]
    quarantine = [json.loads(x) for x in (project / "out" / "quarantine.jsonl").read_text().splitlines()]
    reasons = {q["reason"] for q in quarantine}
    assert {q["source"] for q in quarantine} == {"helpful", "harmless"}
    assert all(q["line"] >= 1 and q["file"].endswith(".jsonl.gz") for q in quarantine)
    assert "chosen and rejected transcripts differ before their final Assistant turn" in reasons


def test_esconv_prompts_per_supporter_turn_and_pairs_against_low_empathy_turns(real):
    project, _, _ = real
    prompts = read_table(project / "out" / "prompts.parquet")
    pairs = read_table(project / "out" / "pairs.parquet")
    es_prompts, es_pairs = prompts[prompts["source"] == "esconv"], pairs[pairs["source"] == "esconv"]
    assert (len(es_prompts), len(es_pairs)) == (12054, 2299)
    meta = es_prompts["meta"].iloc[0]
    assert {"emotion", "problem", "situation", "strategy", "strategies", "conversation"} <= set(meta)
    assert all(m["role"] != prompt[i + 1]["role"] for prompt in es_prompts["prompt"] for i, m in enumerate(prompt[:-1]))
    assert set(es_pairs["objective"]) == {"empathy"}
    assert all(m["seeker_empathy"] in ("4", "5") for m in es_pairs["meta"])
    assert not any("FailedESConv" in m["conversation"] for m in es_prompts["meta"])
    assert any("FailedESConv" in m["rejected_from"] for m in es_pairs["meta"])
    by_conversation = es_prompts.groupby(es_prompts["meta"].map(lambda m: m["conversation"]))["split"].nunique()
    assert (by_conversation == 1).all()  # no conversation leaks across splits


def test_counselchat_pairs_answers_with_different_upvotes(real):
    project, _, _ = real
    pairs = read_table(project / "out" / "pairs.parquet")
    cc = pairs[pairs["source"] == "counselchat"]
    assert len(cc) == 2312 and set(cc["objective"]) == {"empathy"}
    upvotes = cc["meta"].map(lambda m: m["upvotes"])
    assert all(hi > lo for hi, lo in upvotes)
    margin_one = (cc["meta"].map(lambda m: m["upvote_margin"]) == 1).mean()
    assert 0.7 < margin_one < 0.8  # the noise quoted in data/README.md: 74% of pairs differ by one upvote


def test_real_tables_pass_the_validation_suites_once_long_answers_are_allowed(real, model_cache):
    from components.data.validate import DataValidationError, validate

    project, params, _ = real
    with pytest.raises(DataValidationError, match=r"expect_column_values_to_be_between\(chosen_chars\)"):
        validate(params, project / "out", project / "validation")  # some CounselChat answers exceed 4000 chars
    sources = f"data.sources=[{HELPFUL}, {HARMLESS}, {ESCONV}, {COUNSEL}]"
    relaxed = load_params("params.yaml", tiny(project, model_cache, sources, "data.validation.max_chars=20000"))
    validate(relaxed, project / "out", project / "validation")


def test_appending_real_sources_never_moves_existing_rows(real, model_cache, tmp_path):
    project, _, _ = real
    before = _params(project, model_cache, HELPFUL)
    ingest(before, tmp_path / "before")
    old = pd.read_parquet(tmp_path / "before" / "pairs.parquet").set_index("id")["split"]
    new = pd.read_parquet(project / "out" / "pairs.parquet").set_index("id")["split"]
    assert len(old) == 1889 and (new.loc[old.index] == old).all()


def test_the_same_rows_under_two_sources_are_counted_as_duplicates(real, model_cache, tmp_path):
    project, _, _ = real
    again = HELPFUL.replace("name: helpful", "name: helpful-again")
    report = ingest(_params(project, model_cache, HELPFUL, again), tmp_path / "out")
    assert report["sources"]["helpful-again"] == {"read": 1907, "accepted": 0, "quarantined": 18, "duplicates": 1889}
