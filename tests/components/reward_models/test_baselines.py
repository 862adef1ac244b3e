"""The no-model baselines a reward model must beat: topicality (real MiniLM), length, strategy labels."""

import numpy as np
import pandas as pd
import pytest

from components.common.encoder import minilm
from components.reward_models import baselines
from components.reward_models.evaluation import heldout_report
from paretoflow.config import load_params
from tests.conftest import REPO


def _pairs(rows: list[tuple], strategies: list[tuple] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["prompt", "chosen", "rejected"])
    frame["prompt"] = [[{"role": "user", "content": p}] for p in frame["prompt"]]
    labels = strategies or [(None, None)] * len(rows)
    frame["meta"] = [{"strategies": c, "rejected_strategies": r} if c else {} for c, r in labels]
    frame["source"] = "esconv"
    return frame


def test_topicality_prefers_the_reply_about_the_prompt():
    test = _pairs(
        [
            ("I failed my driving test again.", "Failing the test again must sting.", "Paris is in France."),
            ("My cat died this morning.", "Tomatoes grow well in summer.", "Losing your cat is heartbreaking."),
        ]
    )
    assert baselines.topicality_credit(test, minilm()).tolist() == [1.0, 0.0]


def test_prompt_text_keeps_the_latest_words_without_roles():
    messages = [{"role": "user", "content": "old " * 200}, {"role": "assistant", "content": "new words"}]
    text = baselines.prompt_text(messages)
    assert len(text.split()) == baselines.TOPIC_WORDS and text.endswith("old new words")


def test_strategy_regression_learns_which_strategy_wins_and_scores_only_labelled_pairs():
    train = _pairs([("p", "a", "b")] * 6, [(["Reflection of feelings"], ["Providing Suggestions"])] * 6)
    test = _pairs(
        [("q", "a", "b")] * 4,
        [
            (["Reflection of feelings"], ["Providing Suggestions"]),
            (["Providing Suggestions"], ["Reflection of feelings"]),
            (["Question"], ["Question"]),
            (None, None),
        ],
    )
    credit = baselines.strategy_credit(train, test)
    assert credit[:3].tolist() == [1.0, 0.0, 0.5] and np.isnan(credit[3])
    assert np.isnan(baselines.strategy_credit(None, test)).all()
    assert np.isnan(baselines.strategy_credit(_pairs([("p", "a", "b")]), test)).all()  # no labels to fit on


def test_report_gives_the_models_paired_lead_and_says_when_a_baseline_scores_nothing():
    model, length = np.ones(10), np.array([1.0, 1.0] + [0.0] * 8)
    report = baselines.report({"length": length, "strategy": np.full(10, np.nan)}, model, 200, 0)
    assert report["length"]["accuracy"] == 0.2 and report["length"]["model_lead"] == pytest.approx(0.8)
    low, high = report["length"]["model_lead_ci95"]
    assert 0.5 < low <= 0.8 <= high
    assert report["strategy"] == {"accuracy": None, "n": 0, "why": "no held-out pair carries what this baseline reads"}


def test_intervals_resample_whole_conversations():
    """Ten pairs from two conversations are two draws: the lead's interval widens to take in no lead at all."""
    model, length = np.ones(10), np.array([1.0] * 5 + [0.0] * 5)
    pairs = _pairs([("same prompt", "a", "b")] * 10)
    pairs["meta"] = [{"conversation": "one"}] * 5 + [{"conversation": "two"}] * 5
    groups = baselines.clusters(pairs)
    grouped = baselines.report({"length": length}, model, 200, 0, groups)["length"]
    assert grouped["clusters"] == 2 and grouped["model_lead_ci95"] == [0.0, 1.0]
    assert baselines.report({"length": length}, model, 200, 0)["length"]["model_lead_ci95"][0] > 0.1
    assert baselines.clusters(_pairs([("p", "a", "b"), ("q", "a", "b")])).tolist() == ["user: p", "user: q"]


class LengthScorer:
    """A real scorer that rewards words and nothing else: the length baseline dressed as a model."""

    def raw(self, prompts, replies):
        return [float(len(r.split())) for r in replies]


def test_heldout_report_puts_the_baselines_beside_the_model_on_the_same_pairs():
    rows = [("I lost my job.", "That sounds really hard, I am sorry.", "ok"), ("I am lonely.", "hm", "Do you?")]
    test = _pairs(rows, [(["Question"], ["Others"]), (["Others"], ["Question"])])
    train = _pairs([("x", "a", "b")] * 3, [(["Question"], ["Others"])] * 3)
    params = load_params(REPO / "params.yaml", ["profile=tiny", "reward_model.calibration_bins=2"])
    report = heldout_report(LengthScorer(), test, params, train)
    length = report["baselines"]["length"]
    assert length["accuracy"] == report["accuracy"] == 0.5 and length["model_lead_ci95"] == [0.0, 0.0]
    assert report["baselines"]["strategy"]["accuracy"] == 0.5 and report["baselines"]["strategy"]["n"] == 2
    assert set(report["by_source"]["esconv"]["baselines"]) == {"topicality", "length", "strategy"}
    assert report["by_source"]["esconv"]["baselines"]["length"]["accuracy"] == pytest.approx(0.5)
