"""Evaluation beyond the means: intervals, reward-hacking indicators, expected utility, the reference point,
the interactive front; on hand-made scores, so each figure can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components import pareto
from components.evaluate import BASE, _front_table
from components.evaluation_stats import bootstrap_mean_ci, distinct_n, indicators, repetition
from paretoflow.config import load_params
from tests.conftest import REPO


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(size=20), rng.uniform(size=2000)
    low, high = bootstrap_mean_ci(small, samples=1000, seed=1)
    assert low < small.mean() < high
    wide, narrow = high - low, np.subtract(*bootstrap_mean_ci(large, samples=1000, seed=1)[::-1])
    assert narrow < wide / 4
    assert bootstrap_mean_ci(small, 1000, 1) == (low, high), "same seed, same interval"
    assert bootstrap_mean_ci([0.3], 1000, 1) == (0.3, 0.3)


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


def _scores(objectives):
    """Base and two policies, four replies each: policy-0 best on the first objective, policy-1 on the rest
    but below the base on the first."""
    rows = []
    for policy, first, rest, text in [
        (BASE, 0.3, 0.3, "ok then"),
        ("policy-0", 0.9, 0.6, "I hear you, that is hard"),
        ("policy-1", 0.25, 0.75, "hm"),
    ]:
        for j in range(4):
            scores = {objectives[0]: first + 0.01 * j} | {o: rest + 0.01 * j for o in objectives[1:]}
            rows.append({"policy": policy, "prompt_id": f"p{j}", "completion": text, **scores})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("reference", [None, "base"])
def test_front_table_intervals_indicators_and_reference_point(reference):
    params = load_params(REPO / "params.yaml", [f"evaluate.reference_point={reference or 'null'}"])
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {"a": 1}), ("policy-1", None, {"a": 0})]
    table = _front_table(_scores(objectives), candidates, params)
    row = table.set_index("policy").loc["policy-0"]
    assert row[f"{objectives[0]}_ci_low"] <= row[objectives[0]] <= row[f"{objectives[0]}_ci_high"]
    assert row["length_growth"] == pytest.approx(6 / 2)
    assert table.loc[~table["is_base"], "on_front"].all()
    base = table.loc[table["is_base"], objectives].to_numpy()[0]
    if reference == "base":
        assert table.attrs["reference_point"] == pytest.approx(base.tolist())
        # policy-1 is below the base on the first objective: only policy-0's box above the base counts
        gain = table.set_index("policy").loc["policy-0", objectives].to_numpy() - base
        assert table.attrs["hypervolume"] == pytest.approx(np.prod(gain))
    else:
        assert table.attrs["reference_point"] == [0.0] * len(objectives) and table.attrs["hypervolume"] > 0


def test_interactive_front_shows_weights_scores_and_samples():
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {o: 0.25 for o in objectives}), ("policy-1", None, {})]
    table = _front_table(_scores(objectives), candidates, params)
    page = pareto.plot_front_html(table, objectives, {"policy-0": ["I hear you <3"]}, "front")
    hovers = [text for trace in page.data for text in trace.text]
    shown = next(h for h in hovers if "policy-0" in h)
    assert "empathy=0.25" in shown and "I hear you &lt;3" in shown and f"{objectives[0]}: " in shown
    assert "[" in shown and "]" in shown  # the interval
    assert {trace.name for trace in page.data} == {"base", "front"}
    assert "<html>" in page.to_html(include_plotlyjs=False)
