import numpy as np
import pandas as pd
import pytest

from components.reward_models.evaluation import STUB_WORDS, calibration, calibration_figure, pairwise_report, stub_check


def test_accuracy_counts_ties_half_and_the_interval_brackets_it():
    report = pairwise_report([2, 1, 0, 5], [1, 1, 1, 0], [10, 5, 5, 20], [5, 5, 5, 5], bins=2, samples=200)
    assert report["accuracy"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert report["ties"] == 1 and report["n"] == 4
    low, high = report["ci95"]
    assert low <= report["accuracy"] <= high


def test_calibration_bins_split_pairs_evenly_by_margin():
    margin = np.array([-0.1, 0.2, 0.3, 3.0, 4.0, -5.0])
    rows = calibration(margin, bins=3)
    assert [r["n"] for r in rows] == [2, 2, 2]
    assert [r["accuracy"] for r in rows] == [0.5, 1.0, 0.5]
    assert rows[0]["predicted"] < rows[-1]["predicted"]


def test_length_bias_flags_a_scorer_that_pays_for_length():
    lengths_c, lengths_r = [5, 40, 8, 60], [30, 4, 50, 6]
    report = pairwise_report(lengths_c, lengths_r, lengths_c, lengths_r, bins=2, samples=100)
    bias = report["length_bias"]
    assert bias["spearman_reward_length"] == pytest.approx(1.0)
    assert bias["accuracy_when_chosen_longer"] == 1.0 and bias["accuracy_when_chosen_shorter"] == 0.0
    assert bias["longer_reply_baseline_accuracy"] == report["accuracy"] == 0.5


def test_mismatched_scores_are_refused():
    with pytest.raises(ValueError, match="as many chosen as rejected"):
        pairwise_report([1.0], [], [1], [])


def test_calibration_figure_has_a_line_per_objective():
    reports = {o: pairwise_report([1, 2, 3], [0, 3, 1], [1, 1, 1], [1, 1, 1], bins=2) for o in ("a", "b")}
    figure = calibration_figure(reports)
    assert len(figure.axes[0].lines) == 3


class _CountsWords:
    """A scorer that pays for words: every whole reply beats its stub."""

    def raw(self, prompts, replies):
        return [float(len(r.split())) for r in replies]


def test_the_stub_check_scores_whole_replies_against_their_first_words_and_skips_short_ones():
    long = " ".join(["word"] * (STUB_WORDS + 3))
    test = pd.DataFrame({"prompt": ["p1", "p2", "p3"], "chosen": [long, "too short", long]})
    scorer = _CountsWords()
    check = stub_check(scorer, test, scorer.raw(None, list(test["chosen"])), samples=100, seed=0)
    assert check["n"] == 2 and check["share"] == 1.0 and check["words"] == STUB_WORDS
    flat = stub_check(scorer, test, [0.0, 0.0, 0.0], samples=100, seed=0)  # whole replies scored like nothing
    assert flat["share"] == 0.0
    none = stub_check(scorer, test.iloc[1:2], [1.0], samples=100, seed=0)
    assert none["n"] == 0 and none["share"] is None
