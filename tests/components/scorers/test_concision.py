"""The concision scorer, on plain and chat-formatted replies."""

from components.common.messages import reply_text
from components.scorers.concision import concision


def test_concision_prefers_short_non_empty_replies():
    score = concision(target_words=5)
    replies = ["one two three", "one two three four five six seven eight nine ten", "", "   "]
    assert score(["p"] * 4, replies) == [1.0, 0.5, 0.0, 0.0]


def test_chat_completions_are_read_as_text():
    assert reply_text([{"role": "assistant", "content": "hello there"}]) == "hello there"
    assert concision(1)(["p"], [[{"role": "assistant", "content": "hello there"}]]) == [0.5]
