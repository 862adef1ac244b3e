import pytest

from components.data.canonical import RecordError, assign_split, check_messages, prompt_id


def _prompt(i: int) -> list[dict]:
    return [{"role": "user", "content": f"I have been struggling with thing number {i}."}]


def test_split_depends_only_on_prompt_text_and_salt():
    splits = [assign_split(_prompt(i), "s", 0.2) for i in range(2000)]
    assert 0.17 < splits.count("test") / len(splits) < 0.23
    assert splits == [assign_split(_prompt(i), "s", 0.2) for i in range(2000)]  # same input, same split
    assert splits != [assign_split(_prompt(i), "other-salt", 0.2) for i in range(2000)]


def test_ids_are_content_hashes():
    assert prompt_id(_prompt(1)) == prompt_id(_prompt(1)) != prompt_id(_prompt(2))


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([], "non-empty list"),
        ([{"role": "user"}], "exactly role and content"),
        ([{"role": "bot", "content": "x"}], "not one of"),
        ([{"role": "user", "content": "  "}], "content is empty"),
        (
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            "end with a user message",
        ),
    ],
)
def test_bad_messages_name_the_reason(messages, reason):
    with pytest.raises(RecordError, match=reason):
        check_messages(messages)
