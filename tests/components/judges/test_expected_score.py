"""Expected scores from token probabilities: the arithmetic, and reading OpenAI's `logprobs` block."""

from __future__ import annotations

import math

import pytest

from components.judges.expected_score import WINNER, first_better, from_openai_logprobs, normalised, split_ten


def _entry(token: str, alternatives: dict[str, float] | None = None) -> dict:
    alts = [{"token": t, "logprob": math.log(p)} for t, p in (alternatives or {token: 1.0}).items()]
    return {"token": token, "logprob": alts[0]["logprob"], "top_logprobs": alts}


def test_expected_score_is_renormalised_over_the_labels_and_mapped_like_a_parsed_score():
    assert normalised({"1": 1.0}) == 0.0 and normalised({"10": 0.2}) == 1.0
    assert normalised({"4": 0.25, "8": 0.25, "x": 0.5}) == pytest.approx((6 - 1) / 9)
    assert normalised({"x": 1.0}) is None
    assert normalised({"2": 0.5, "5": 0.5}, ("1", "2", "3", "4", "5")) == pytest.approx((3.5 - 1) / 4)  # other scales


def test_split_ten_moves_the_one_then_zero_mass_to_ten():
    split = split_ten({"1": 0.5, "5": 0.5}, p_zero_after_one=0.4)
    assert split["1"] == pytest.approx(0.3) and split["10"] == pytest.approx(0.2) and split["5"] == 0.5


def test_reads_the_number_after_score_from_top_logprobs():
    content = [_entry("Score"), _entry(":"), _entry(" "), _entry("7", {"7": 0.5, "9": 0.25, "x": 0.25})]
    assert from_openai_logprobs(content) == pytest.approx((23 / 3 - 1) / 9)
    # a tokenizer with whole numbers: "10" is one label of its own, the leading space belongs to the token
    content = [_entry("Score"), _entry(":"), _entry(" 10", {" 10": 0.5, " 2": 0.5})]
    assert from_openai_logprobs(content) == pytest.approx((6 - 1) / 9)


def test_one_then_zero_counts_as_ten():
    content = [_entry("Score"), _entry(": "), _entry("1", {"1": 0.8, "3": 0.2}), _entry("0", {"0": 0.5, "\n": 0.5})]
    expected = 0.4 * 1 + 0.4 * 10 + 0.2 * 3
    assert from_openai_logprobs(content) == pytest.approx((expected - 1) / 9)


def test_numbers_outside_a_verdict_and_missing_alternatives():
    assert from_openai_logprobs([_entry("I"), _entry(" give"), _entry(" 7", {" 7": 0.9, " 1": 0.1})]) is None
    assert from_openai_logprobs(None) is None and from_openai_logprobs([]) is None
    bare = [{"token": "Score:", "logprob": 0.0}, {"token": " 4", "logprob": -0.2}]  # no top_logprobs: the token
    assert from_openai_logprobs(bare) == pytest.approx(3 / 9)


def test_winner_is_the_first_labels_share_of_the_two_labels():
    assert first_better({"A": 0.3, "B": 0.1, "x": 0.6}) == pytest.approx(0.75)
    assert first_better({"x": 1.0}) is None
    content = [_entry("A"), _entry(" good"), _entry("Winner"), _entry(":"), _entry(" Response")]
    content.append(_entry(" B", {" B": 0.2, " A": 0.6, "x": 0.2}))
    assert from_openai_logprobs(content, WINNER) == pytest.approx(0.75)  # the "A" before the verdict is not read
    assert from_openai_logprobs([_entry("Winner: Response"), _entry(" C")], WINNER) is None


def test_the_scoring_method_is_part_of_the_rubric_judge_version(tmp_path):
    from types import SimpleNamespace

    from components.scorers.rubric import RubricJudge

    def version(scoring):
        return RubricJudge("hf", tmp_path, client=SimpleNamespace(model="m", scoring=scoring), encoder=object()).version

    assert len({version("expected-score/a"), version("expected-score/b"), version(None)}) == 3
