"""Register learns the inputs behind a front from the lineage files steps write as they run, not from the step
table (which sits above the components); the gates' inputs fit in a few tags; descriptions stay within what a
PostgreSQL-backed registry stores."""

from __future__ import annotations

import json

from components.registry.descriptions import MAX_DESCRIPTION, fit_description
from components.registry.fronts import side_by_side_scores
from components.registry.register import served_decoding, side_by_side_tags, step_inputs_md5


def test_step_inputs_are_kept_per_step_from_the_lineage_files(tmp_path):
    (tmp_path / "ingest.json").write_text(json.dumps({"components/data": "a.dir", "data/sample/pairs.jsonl": "b"}))
    (tmp_path / "validate.json").write_text(json.dumps({"components/data": "old.dir", "artifacts/data": "c.dir"}))
    assert step_inputs_md5(tmp_path) == {
        "ingest": {"components/data": "a.dir", "data/sample/pairs.jsonl": "b"},
        "validate": {"components/data": "old.dir", "artifacts/data": "c.dir"},  # a cached step on older code
    }
    assert step_inputs_md5(tmp_path / "none") == {}


def test_side_by_side_scores_are_one_tag_promotion_reads_back(tmp_path):
    champion = {"versions": ["3", "4"], "run_id": "r", "heldout_md5": "m"}
    scores = {
        "3": {"policy": "policy-0", "empathy": 0.5, "concision": 0.25, "end_of_turn_rate": 0.9, "in_language": 1.0},
        "4": {"policy": "policy-1", "empathy": 0.75, "concision": 0.5},  # an older evaluate: no coherence
    }
    tags = side_by_side_tags(champion | {"scores": scores}, ["empathy", "concision"])
    assert set(tags) == {"sidebyside.champion_versions", "sidebyside.run_id", "sidebyside.scores"}
    assert tags["sidebyside.champion_versions"] == "3,4" and tags["sidebyside.run_id"] == "r"
    assert side_by_side_scores(tags) == {
        "3": {"empathy": 0.5, "concision": 0.25, "coherence.end_of_turn_rate": 0.9, "coherence.in_language": 1.0},
        "4": {"empathy": 0.75, "concision": 0.5},
    }
    assert side_by_side_tags(champion | {"versions": [], "scores": {}}, ["empathy"]) == {}
    assert side_by_side_tags(None, ["empathy"]) == {}


def test_a_description_longer_than_the_registry_stores_is_cut_and_says_so():
    assert fit_description("short") == "short"
    cut = fit_description("x" * (MAX_DESCRIPTION * 2))
    assert len(cut) == MAX_DESCRIPTION and cut.endswith("the evaluation's files hold the rest)")


def test_the_served_decoding_is_the_evaluated_one_and_names_only_what_is_set():
    from pathlib import Path

    from paretoflow.config import load_params

    params_file = Path(__file__).resolve().parents[3] / "params.yaml"
    plain = served_decoding(load_params(params_file, ["evaluate.max_new_tokens=64"]))
    assert plain == {"max_new_tokens": 64, "do_sample": False}
    sampled = load_params(
        params_file,
        ["evaluate.do_sample=true", "evaluate.temperature=0.7", "evaluate.repetition_penalty=1.2"]
        + ["evaluate.no_repeat_ngram_size=3"],
    )
    assert served_decoding(sampled) == {
        "max_new_tokens": sampled.evaluate.max_new_tokens,
        "do_sample": True,
        "temperature": 0.7,
        "repetition_penalty": 1.2,
        "no_repeat_ngram_size": 3,
    }
