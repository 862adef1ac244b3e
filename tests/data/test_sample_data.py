"""Expectations on the sample data shipped in the repo: the demo depends on its size and shape."""

import json
from collections import Counter

from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample"


def _rows(name):
    return [json.loads(line) for line in (SAMPLE / name).read_text().splitlines() if line.strip()]


def test_pairs_cover_several_objectives_with_enough_rows():
    pairs = _rows("pairs.jsonl")
    counts = Counter(p["objective"] for p in pairs)
    assert len(pairs) >= 150 and len(counts) >= 2
    assert counts == {"empathy": 240, "helpfulness": 60, "harmlessness": 40}
    assert all(p["chosen"].strip() != p["rejected"].strip() for p in pairs)


def test_prompts_are_multi_turn_emotional_support_dialogues():
    prompts = _rows("prompts.jsonl")
    assert len(prompts) == 60
    for p in prompts:
        roles = [m["role"] for m in p["prompt"]]
        assert len(roles) >= 3 and roles[0] == roles[-1] == "user"
        assert all(a != b for a, b in zip(roles, roles[1:]))
        assert {"emotion", "problem", "situation"} <= set(p["meta"])


def test_empathy_pairs_contrast_replies_to_the_shipped_prompts():
    prompts = {json.dumps(p["prompt"]) for p in _rows("prompts.jsonl")}
    empathy = [p for p in _rows("pairs.jsonl") if p["objective"] == "empathy"]
    assert sum(json.dumps(p["prompt"]) in prompts for p in empathy) == 60


def test_length_alone_does_not_predict_the_label():
    pairs = _rows("pairs.jsonl")
    shorter_chosen = sum(len(p["chosen"]) < len(p["rejected"]) for p in pairs) / len(pairs)
    assert 0.2 < shorter_chosen < 0.8
