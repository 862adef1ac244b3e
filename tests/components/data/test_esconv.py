"""ESConv pairs hold the topic fixed: a successful conversation against one matched low-empathy conversation of the
same emotion and problem type, turn against turn at the same relative place, each low-empathy conversation once."""

import json

import pytest

from components.data.adapters.esconv import ESCONV_IGNORE, adapt_esconv
from components.data.canonical import assign_split
from components.data.sources import read_rows
from tests.conftest import SHARED_DATA


def _conversation(name: str, replies: int, emotion="anxiety", problem="job crisis", empathy="5") -> dict:
    dialog = []
    for k in range(replies):
        dialog.append({"speaker": "usr", "text": f"{name} seeker {k}"})
        dialog.append({"speaker": "sys", "text": f"{name} reply {k}", "strategy": ("Question", "Others")[k % 2]})
    return {
        "emotion_type": emotion,
        "problem_type": problem,
        "situation": f"{name} situation",
        "survey_score": {"seeker": {"empathy": empathy}},
        "dialog": dialog,
    }


def _adapt(folder, files: dict[str, list[dict]]) -> tuple[list[dict], list[dict]]:
    folder.mkdir(exist_ok=True)
    for name, records in files.items():
        (folder / name).write_text(json.dumps(records))
    items = [item for _, item in adapt_esconv(read_rows(str(folder), (), ESCONV_IGNORE), "empathy")]
    assert all(isinstance(item, dict) for item in items), items
    return [i for i in items if "chosen" not in i], [i for i in items if "chosen" in i]


def test_each_turn_meets_the_matched_conversations_turn_at_the_same_relative_place(tmp_path):
    rated = _conversation("rated", 3)
    other_topic = _conversation("other", 2, emotion="sadness", problem="breakup with partner")
    failed = _conversation("failed", 5, empathy="")
    prompts, pairs = _adapt(tmp_path / "es", {"ESConv.json": [rated, other_topic], "FailedESConv.json": [failed]})
    assert len(prompts) == 3 + 2  # the failed conversation gives none; the unmatched one gives prompts only
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [
        ("rated reply 0", "failed reply 0"),  # opening against opening
        ("rated reply 1", "failed reply 2"),  # middle: 1 of 2 -> 2 of 4
        ("rated reply 2", "failed reply 4"),  # farewell against farewell
    ]
    assert [p["meta"]["rejected_strategies"] for p in pairs] == [["Question"], ["Question"], ["Question"]]
    assert [p["meta"]["strategies"] for p in pairs] == [["Question"], ["Others"], ["Question"]]
    assert {p["meta"]["rejected_from"] for p in pairs} == {f"{tmp_path / 'es' / 'FailedESConv.json'}#1"}
    assert {p["split_key"] for p in pairs} == {"rated situation\nrated seeker 0"}  # the chosen conversation's split


def test_a_low_empathy_conversation_is_matched_once_so_its_replies_cannot_cross_splits(tmp_path):
    first, second = _conversation("first", 2), _conversation("second", 2)
    low = _conversation("low", 2, empathy="1")
    _, pairs = _adapt(tmp_path / "one", {"ESConv.json": [first, second, low]})
    assert len(pairs) == 2 and len({p["split_key"] for p in pairs}) == 1  # one of the two rated ones, not both
    assert {p["rejected"] for p in pairs} == {"low reply 0", "low reply 1"}
    another = _conversation("another-low", 2, empathy="2")
    _, pairs = _adapt(tmp_path / "two", {"ESConv.json": [first, second, low, another]})
    by_conversation = {}
    for p in pairs:
        by_conversation.setdefault(p["split_key"], set()).add(p["meta"]["rejected_from"])
    assert len(by_conversation) == 2 and all(len(sources) == 1 for sources in by_conversation.values())
    assert len(set.union(*by_conversation.values())) == 2


def test_the_matching_depends_on_the_conversations_not_their_order_or_path(tmp_path):
    records = [_conversation(n, 3) for n in ("a", "b", "c")] + [_conversation(n, 4, empathy="1") for n in ("x", "y")]
    _, pairs = _adapt(tmp_path / "here", {"ESConv.json": records})
    _, again = _adapt(tmp_path / "elsewhere", {"renamed.json": records[::-1]})
    assert len(pairs) == 6
    assert {(p["chosen"], p["rejected"]) for p in pairs} == {(p["chosen"], p["rejected"]) for p in again}


def test_a_pair_of_two_identical_replies_is_dropped_but_its_prompt_kept(tmp_path):
    rated, low = _conversation("rated", 2), _conversation("low", 2, empathy="1")
    rated["dialog"][-1]["text"] = low["dialog"][-1]["text"] = "Take care, bye."
    prompts, pairs = _adapt(tmp_path / "es", {"ESConv.json": [rated, low]})
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("rated reply 0", "low reply 0")]
    assert len(prompts) == 4


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the project")
def test_real_pairs_share_emotion_and_problem_and_no_rejected_conversation_spans_two_splits():
    rows = list(read_rows(str(SHARED_DATA / "esconv"), (), ESCONV_IGNORE))
    records = {f"{r.file}#{r.number}": r.record for r in rows}
    pairs = [item for _, item in adapt_esconv(rows, "empathy") if "chosen" in item]
    assert len(pairs) == 2299  # data/README.md: 199 of the 205 low-empathy conversations find a match
    splits_of: dict[str, set] = {}
    for p in pairs:
        chosen, rejected = records[p["meta"]["conversation"]], records[p["meta"]["rejected_from"]]
        assert (chosen["emotion_type"], chosen["problem_type"]) == (rejected["emotion_type"], rejected["problem_type"])
        assert p["meta"]["seeker_empathy"] in ("4", "5") and p["meta"]["rejected_strategies"]
        split = assign_split(p["prompt"], "paretoflow", 0.2, p["split_key"])
        splits_of.setdefault(p["meta"]["rejected_from"], set()).add((p["split_key"], split))
    assert all(len(uses) == 1 for uses in splits_of.values())  # one chosen conversation, so one split
    assert len(splits_of) == 199 and sum("FailedESConv" in source for source in splits_of) == 191
