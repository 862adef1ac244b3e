"""Strict parsing of generator and judge output: malformed items are dropped and counted, never accepted."""

from components.rubrics.parsing import format_rubric, parse_rubric, parse_score, parse_winner

GENERATOR_OUTPUT = """Here is the rubric you asked for:
1. The response uses at most 50 words. [Hard Rule]
2. The response acknowledges the feelings the person expressed. [Principle]
3. The response mentions that Sarah lost her job in March. [Principle]
4. The response is warmer than Response B. [Principle]
5. The response acknowledges the feelings the person expressed. [Principle]
6. Be kind. [Principle]
7. The response invites the person to say more with a gentle question.
8 The response avoids judging the person. [Principle]
9. The response avoids judging, minimising or dismissing the experience. [principle]
10. The response offers one concrete next step the person could take today. [Principle]
Thanks!"""


def test_well_formed_items_are_kept_and_every_malformed_one_is_counted_by_reason():
    parsed = parse_rubric(GENERATOR_OUTPUT)
    assert parsed.hard_rules == ["The response uses at most 50 words."]
    assert parsed.principles == [
        "The response acknowledges the feelings the person expressed.",
        "The response offers one concrete next step the person could take today.",
    ]
    assert parsed.dropped == {
        "not_abstract": 1,  # names and a month in a principle (item 3)
        "mentions_example": 1,  # item 4
        "duplicate": 1,  # item 5
        "malformed": 4,  # 6: no "The response"; 7: no tag; 8: no dot after the number; 9: lower-case tag
    }


def test_prose_without_numbered_items_yields_an_empty_rubric_not_an_invented_one():
    parsed = parse_rubric("I think the chosen response is better because it is kinder.")
    assert parsed.empty and not parsed.dropped
    assert parse_rubric("").empty


def test_over_the_item_limit_is_dropped_and_counted():
    text = "\n".join(f"{i}. The response is clear and useful in way {'abcdefgh'[i]}. [Principle]" for i in range(1, 6))
    parsed = parse_rubric(text, max_items=3)
    assert len(parsed.principles) == 3 and parsed.dropped == {"over_limit": 2}


def test_formatted_rubric_parses_back_to_itself():
    hard, principles = ["The response uses at most 40 words."], ["The response addresses the request directly."]
    parsed = parse_rubric(format_rubric(hard, principles))
    assert (parsed.hard_rules, parsed.principles, parsed.dropped) == (hard, principles, {})


def test_judge_verdicts_parse_strictly():
    assert parse_winner("analysis...\nWinner: Response B") == "B"
    assert parse_winner("Winner: **Response A**") == "A"
    assert parse_winner("Response A is better") is None
    assert parse_score("Score: 10") == 1.0 and parse_score("score: 1/10") == 0.0
    assert parse_score("I would give it 7") is None and parse_score("Score: 11") is None
