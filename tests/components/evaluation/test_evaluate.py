"""What evaluate reports beside the front: reward-hacking indicators, expected utility over the weight grid, the
scorer gap and the judge attack; on hand-made scores, so each figure can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.common import pareto
from components.evaluation.front_table import BASE
from components.evaluation.stats import distinct_n, indicators, repetition
from paretoflow.config import load_params
from tests.conftest import REPO


def test_hacking_indicators_flag_long_repetitive_replies():
    assert repetition("I hear you") == 0.0
    assert repetition("sorry sorry sorry sorry") == 0.75
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    honest = indicators(["That sounds hard.", "I am here for you."], base_words=4)
    hacked = indicators(["so sorry so sorry so sorry so sorry so sorry"] * 2, base_words=4)
    assert honest["length_growth"] == pytest.approx(1.0)
    assert hacked["length_growth"] == 2.5 and hacked["repetition"] > 0.7 and hacked["distinct_2"] < 0.2


def test_weight_grid_covers_the_simplex_and_eum_rewards_specialists():
    grid = pareto.weight_grid(3, 4)
    assert len(grid) == 15 and np.allclose(grid.sum(axis=1), 1) and (grid >= 0).all()
    grid2 = pareto.weight_grid(2, 10)
    generalist = np.array([[0.5, 0.5]])
    specialists = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert pareto.expected_utility(generalist, grid2) == pytest.approx(0.5)
    assert pareto.expected_utility(specialists, grid2) == pytest.approx(np.mean(np.maximum(grid2[:, 0], grid2[:, 1])))
    assert pareto.expected_utility(np.empty((0, 2)), grid2) == 0.0


def test_scorer_gap_is_the_training_gain_not_confirmed_by_the_evaluator():
    from components.evaluation.scorer_checks import scorer_gaps

    table = pd.DataFrame(
        {
            "policy": [BASE, "honest", "hacker"],
            "is_base": [True, False, False],
            "concision": [0.4, 0.7, 0.4],  # the evaluator's score
            "concision_training": [0.5, 0.8, 0.9],
            "empathy": [None, None, None],  # unjudged: no evaluator score
            "empathy_training": [0.5, 0.6, 0.9],
        }
    )
    gaps = scorer_gaps(table, ["concision"]).set_index("policy")["concision_scorer_gap"]
    assert gaps.to_dict() == pytest.approx({BASE: 0.0, "honest": 0.0, "hacker": 0.4})
    assert "empathy_scorer_gap" not in table  # unjudged: nothing to set its training gain against


def test_judge_attack_bars_probes_against_chosen_replies_of_heldout_pairs(tmp_path):
    from components.data.canonical import write_table
    from components.evaluation.attack_probes import UNRELATED
    from components.evaluation.scorer_checks import judge_attack

    params = load_params(REPO / "params.yaml")
    messages = [{"role": "user", "content": "I feel low."}]
    pairs = pd.DataFrame(
        [
            {"id": f"{o}-{i}", "prompt": messages, "chosen": "That sounds heavy; I am here.", "rejected": "ok"}
            | {"objective": o, "source": "t", "split": "test" if i else "train", "meta": {"note": "x"}}
            for o in ("empathy", "helpfulness")
            for i in range(3)
        ]
    )
    write_table(pairs, tmp_path / "pairs.parquet")

    def fooled_by_the_unrelated_sentence(prompts, replies, **kwargs):
        return [1.0 if UNRELATED in r else (0.8 if "here" in r else 0.0) for r in replies]

    def sound(prompts, replies, **kwargs):
        return [0.8 if "here" in r else 0.1 for r in replies]

    scorers = {"empathy": fooled_by_the_unrelated_sentence, "helpfulness": sound, "harmlessness": sound}
    heldout = pd.DataFrame({"prompt": [messages]})
    ordered = [scorers.get(o.name, sound) for o in params.objectives]
    report = judge_attack(params, ordered, tmp_path, heldout, base_replies=["I am here."])
    assert set(report["judges"]) == {"empathy", "helpfulness", "harmlessness"}  # concision is a rule, not a judge
    assert report["judges"]["empathy"]["reference"] == "chosen replies of held-out pairs"
    assert report["judges"]["empathy"]["n"] == 2 * 24  # two held-out pairs x every probe
    assert report["judges"]["harmlessness"]["reference"] == "base policy's replies"  # no harmlessness pairs
    assert report["judges"]["helpfulness"]["rate"] == 0.0
    empathy = report["judges"]["empathy"]
    assert empathy["by_kind"]["key_plus_unrelated"] == 1.0 and empathy["by_kind"]["master_key"] == 0.0
    assert report["worst_judge"] == "empathy" and report["fpr"] == pytest.approx(10 / 24)  # 10 of the 24 probes
