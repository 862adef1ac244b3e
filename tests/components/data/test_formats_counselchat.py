"""CounselChat pairs are topic-matched by construction: two answers to the same question, more upvotes chosen."""

import pandas as pd
import pytest

from components.data.adapters.formats import COUNSEL_COLUMNS, counselchat_rows
from components.data.sources import read_rows
from tests.conftest import SHARED_DATA

COUNSEL = SHARED_DATA / "counsel-chat" / "counsel_chat.dev.csv"


def _pairs(path) -> list[dict]:
    items = [item for _, item in counselchat_rows(read_rows(str(path), COUNSEL_COLUMNS), "empathy")]
    return [i for i in items if "chosen" in i]


def test_pairs_only_ever_join_answers_to_one_question(tmp_path):
    rows = pd.DataFrame(
        {
            "questionID": ["q1", "q1", "q1", "q2", "q2"],
            "questionTitle": ["Sad", "Sad", "Sad", "Angry", "Angry"],
            "questionText": ["I am sad.", "I am sad.", "I am sad.", "I am angry.", "I am angry."],
            "answerText": ["Tell me more.", "Go out.", "It passes.", "Breathe first.", "Count to ten."],
            "upvotes": ["3", "0", "0", "1", "1"],  # q1: one answer above two equal; q2: a tie, so no pair
        }
    )
    rows.to_csv(tmp_path / "cc.csv", index=False)
    pairs = _pairs(tmp_path / "cc.csv")
    assert [(p["chosen"], p["rejected"], p["meta"]["question_id"]) for p in pairs] == [
        ("Tell me more.", "Go out.", "q1"),
        ("Tell me more.", "It passes.", "q1"),
    ]
    assert all(p["prompt"] == [{"role": "user", "content": "Sad\n\nI am sad."}] for p in pairs)


@pytest.mark.skipif(not COUNSEL.is_file(), reason="../shared/data is not beside the project")
def test_every_real_pair_answers_its_own_question_and_the_more_upvoted_answer_wins():
    answers = pd.read_csv(COUNSEL, dtype=str)
    columns = answers["questionID"], answers["answerText"], answers["upvotes"]
    upvotes = {(question, answer.strip()): int(votes) for question, answer, votes in zip(*columns)}
    pairs = _pairs(COUNSEL)
    assert len(pairs) == 2312
    for p in pairs:
        question = p["meta"]["question_id"]
        assert upvotes[(question, p["chosen"])] > upvotes[(question, p["rejected"])]
