import numpy as np
import pytest

from components.reward_models.evaluation import calibration, calibration_figure, pairwise_report


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
