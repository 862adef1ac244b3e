"""Register learns the inputs behind a front from the lineage files steps write as they run, not from the step
table (which sits above the components)."""

from __future__ import annotations

import json

from components.registry.register import coherence_context_tags, coherence_tags, side_by_side_tags, step_inputs_md5


def test_step_inputs_are_the_union_of_the_lineage_files(tmp_path):
    (tmp_path / "ingest.json").write_text(json.dumps({"components/data": "a.dir", "data/sample/pairs.jsonl": "b"}))
    (tmp_path / "validate.json").write_text(json.dumps({"components/data": "a.dir", "artifacts/data": "c.dir"}))
    assert step_inputs_md5(tmp_path) == {
        "components/data": "a.dir",
        "data/sample/pairs.jsonl": "b",
        "artifacts/data": "c.dir",
    }
    assert step_inputs_md5(tmp_path / "none") == {}


def test_coherence_tags_the_versions_own_and_the_start_and_pretrained_policies(tmp_path):
    row = {"policy": "policy-0", "end_of_turn_rate": 0.916666, "in_language": 1.0, "as_seeker": 0.0}
    row |= {"median_words": 14.5, "perplexity": None, "repetition": 0.1}
    assert coherence_tags(row) == {
        "coherence.end_of_turn_rate": 0.9167,
        "coherence.in_language": 1.0,
        "coherence.as_seeker": 0.0,
        "coherence.median_words": 14.5,
    }
    path = tmp_path / "coherence.json"
    assert coherence_context_tags(path) == {}
    start = {"role": "start policy", "end_of_turn_rate": 1.0, "in_language": 1.0, "as_seeker": 0.0}
    start |= {"median_words": 12, "perplexity": 7.25}
    pretrained = start | {"role": "pretrained (context only)", "end_of_turn_rate": 0.0, "perplexity": None}
    path.write_text(json.dumps({"policies": {"pretrained": pretrained, "start": start, "policy-0": start}}))
    assert coherence_context_tags(path) == {
        "coherence.start": "end_of_turn_rate 1.000, in_language 1.000, as_seeker 0.000, median_words 12, "
        "perplexity 7.250",
        "coherence.pretrained": "end_of_turn_rate 0.000, in_language 1.000, as_seeker 0.000, median_words 12",
    }


def test_side_by_side_tags_carry_the_champions_coherence_when_measured(tmp_path):
    champion = {"versions": ["3"], "run_id": "r", "heldout_md5": "m"}
    scores = {"policy": "policy-0", "empathy": 0.5, "end_of_turn_rate": 0.9, "in_language": 1.0}
    path = tmp_path / "champion.json"
    path.write_text(json.dumps(champion | {"scores": {"3": scores}}))
    tags = side_by_side_tags(path, ["empathy"])
    assert tags["sidebyside.v3.empathy"] == "0.5" and tags["sidebyside.v3.coherence.end_of_turn_rate"] == "0.9"
    assert tags["sidebyside.v3.coherence.in_language"] == "1.0"
    path.write_text(json.dumps(champion | {"scores": {"3": {"policy": "policy-0", "empathy": 0.5}}}))  # older run
    assert not any(".coherence." in k for k in side_by_side_tags(path, ["empathy"]))
