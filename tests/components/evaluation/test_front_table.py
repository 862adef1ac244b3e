"""The front table and what is read off it: intervals, reward-hacking indicators, the normalised hypervolume over
the start policy, judged and unjudged objectives, the figures, coherence per policy; on hand-made scores, so each
figure can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.common import pareto
from components.evaluation.front_table import BASE, coherence_block, coherence_metrics, display_table, front_table
from components.evaluation.heldout_replies import PRETRAINED
from paretoflow.config import load_params
from tests.conftest import REPO


def _scores(objectives):
    """Base and two policies, four replies each: policy-0 best on the first objective, policy-1 on the rest
    but below the base on the first."""
    rows = []
    for policy, first, rest, text, ended in [
        (BASE, 0.3, 0.3, "ok then", 1),
        ("policy-0", 0.9, 0.6, "I hear you, that is hard", 3),
        ("policy-1", 0.25, 0.75, "hm", 0),
    ]:
        for j in range(4):
            scores = {objectives[0]: first + 0.01 * j} | {o: rest + 0.01 * j for o in objectives[1:]}
            rows.append({"policy": policy, "prompt_id": f"p{j}", "completion": text, "ended": j < ended, **scores})
    return pd.DataFrame(rows)


def test_front_table_intervals_indicators_and_normalised_hypervolume_over_the_start_policy():
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {"a": 1}), ("policy-1", None, {"a": 0})]
    table = front_table(_scores(objectives), candidates, params)
    row = table.set_index("policy").loc["policy-0"]
    assert row[f"{objectives[0]}_ci_low"] <= row[objectives[0]] <= row[f"{objectives[0]}_ci_high"]
    assert row["length_growth"] == pytest.approx(6 / 2)
    assert table.set_index("policy")["end_of_turn_rate"].to_dict() == {BASE: 0.25, "policy-0": 0.75, "policy-1": 0.0}
    assert table.loc[~table["is_base"], "on_front"].all()
    base = table.loc[table["is_base"], objectives].to_numpy()[0]
    norm = table.attrs["normalisation"]
    assert norm.start == pytest.approx(tuple(base)) and norm.scale == (1.0,) * len(objectives)
    # policy-1 is below the base on the first objective: only policy-0's box above the base counts, each side its
    # gain over the base (on the scorers' whole range, 1)
    gain = table.set_index("policy").loc["policy-0", objectives].to_numpy() - base
    assert table.attrs["hypervolume"] == pytest.approx(np.prod(gain))
    ideal = load_params(REPO / "params.yaml", [f"evaluate.normalisation.ideal={{{objectives[0]}: 0.5}}"])
    halfway = front_table(_scores(objectives), candidates, ideal).attrs["hypervolume"]
    assert halfway == pytest.approx(np.prod(gain) / (0.5 - base[0]))  # the first side in shares of the way to 0.5


def test_interactive_front_shows_weights_scores_and_samples():
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {o: 0.25 for o in objectives}), ("policy-1", None, {})]
    table = front_table(_scores(objectives), candidates, params)
    page = pareto.plot_front_html(table, objectives, {"policy-0": ["I hear you <3"]}, "front")
    hovers = [text for trace in page.data for text in trace.text]
    shown = next(h for h in hovers if "policy-0" in h)
    assert "empathy=0.25" in shown and "I hear you &lt;3" in shown and f"{objectives[0]}: " in shown
    assert "[" in shown and "]" in shown  # the interval
    assert {trace.name for trace in page.data} == {"start policy", "front"}
    assert "<html>" in page.to_html(include_plotlyjs=False)


@pytest.mark.parametrize("count", [2, 4])
def test_png_front_shows_every_pairwise_projection(count):
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names[:count]
    candidates = [(BASE, None, None), ("policy-0", None, {}), ("policy-1", None, {})]
    table = front_table(_scores(params.objective_names), candidates, params)
    figure = pareto.plot_front(table, objectives, "front")
    drawn = [ax for ax in figure.axes if ax.axison]
    pairs = {(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1 :]}
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in drawn} == pairs  # 1 panel for 2 objectives, 6 for 4
    assert all(len(ax.collections) == len(table) for ax in drawn)  # every policy, the base included, in each


def test_front_table_scores_judged_objectives_and_keeps_unjudged_ones_flagged_with_their_training_reward():
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    judged = [objectives[0], "concision"]
    scores = _scores(objectives)
    for o in objectives:
        scores[f"{o}_training"] = scores[o] + 0.1 * (scores["policy"] == "policy-1")  # policy-1 pleases its rewards
    for o in set(objectives) - set(judged):
        scores[o] = None
    candidates = [(BASE, None, None), ("policy-0", None, {}), ("policy-1", None, {})]
    table = front_table(scores, candidates, params, judged=judged)
    rows = table.set_index("policy")
    unjudged = next(o for o in objectives if o not in judged)
    assert rows[unjudged].isna().all() and rows[f"{unjudged}_ci_low"].isna().all()
    assert rows.loc["policy-1", f"{unjudged}_training"] == pytest.approx(0.75 + 0.015 + 0.1)
    assert f"{unjudged}_scorer_gap" not in rows  # no evaluator gain to compare with
    assert rows.loc["policy-1", "concision_scorer_gap"] == pytest.approx(0.1)
    assert table.attrs["normalisation"].objectives == tuple(judged)
    base = rows.loc[BASE, judged].to_numpy(dtype=float)
    gains = {p: rows.loc[p, judged].to_numpy(dtype=float) - base for p in ("policy-0", "policy-1")}
    # the volume over the start policy on the judged objectives only: policy-1 is below it on the first
    assert table.attrs["hypervolume"] == pytest.approx(np.prod(gains["policy-0"]))
    assert rows.loc["policy-0", "utility"] == pytest.approx(rows.loc["policy-0", judged].mean())


def test_display_shows_judged_objectives_or_labels_training_rewards_when_fewer_than_two():
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    scores = _scores(objectives)
    for o in objectives:
        scores[f"{o}_training"] = scores[o]
    for o in objectives[:-1]:
        scores[o] = None
    candidates = [(BASE, None, None), ("policy-0", None, {}), ("policy-1", None, {})]
    table = front_table(scores, candidates, params, judged=["concision"])
    rows = table.set_index("policy")  # one judged objective: the front is its best policy, the volume its gain
    assert rows["on_front"].to_dict() == {BASE: False, "policy-0": False, "policy-1": True}
    assert table.attrs["hypervolume"] == pytest.approx(0.75 - 0.3)
    assert rows.loc["policy-1", "hv_contribution"] == pytest.approx(0.75 - 0.6)
    shown, axes = display_table(table, objectives, ["concision"])
    assert axes[-1] == "concision" and axes[0] == f"{objectives[0]} (training reward, unjudged)"
    figure = pareto.plot_front(shown, axes, "front")
    assert len([ax for ax in figure.axes if ax.axison]) == len(objectives) * (len(objectives) - 1) // 2
    two = front_table(_scores(objectives), candidates, params, judged=objectives[:2])
    assert display_table(two, objectives, objectives[:2])[1] == objectives[:2]


def _judged(objectives):
    """The hand-made scores with coherence flags: policy-1 drifts out of the prompt's language and as the seeker."""
    scores = _scores(objectives)
    drifting = scores["policy"] == "policy-1"
    scores["in_script"] = True
    scores["in_language"] = ~drifting | (scores["prompt_id"] == "p0")
    scores["role_marker"] = False
    scores["as_seeker"] = drifting & (scores["prompt_id"] != "p3")
    return scores


def test_coherence_per_policy_in_the_front_table_block_metrics_and_report(monkeypatch):
    from components.evaluation import report

    monkeypatch.setattr(report, "run_url", lambda uri, run_id: f"{uri}/runs/{run_id}")

    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {o: 0.25 for o in objectives}), ("policy-1", None, {})]
    table = front_table(_judged(objectives), candidates, params, {BASE: 9.0, "policy-0": 8.0, "policy-1": None})
    rows = table.set_index("policy")
    assert rows["in_language"].to_dict() == {BASE: 1.0, "policy-0": 1.0, "policy-1": 0.25}
    assert rows["as_seeker"].to_dict() == {BASE: 0.0, "policy-0": 0.0, "policy-1": 0.75}
    assert rows.loc["policy-0", "median_words"] == 6 and rows.loc[BASE, "perplexity"] == 9.0
    pretrained = pd.DataFrame(
        {"completion": ["User: I am scared", "I don't know. I am lost."], "ended": [False, False]}
        | {"in_script": [True, True], "in_language": [True, True], "role_marker": [True, False]}
        | {"as_seeker": [True, True]}
    )
    block = coherence_block(table, (pretrained, {"perplexity": 40.0, "tokens": 30}), {BASE: {"tokens": 30}}, [{}] * 3)
    assert list(block["policies"]) == [PRETRAINED, BASE, "policy-0", "policy-1"]
    context = block["policies"][PRETRAINED]
    assert (context["role"], context["as_seeker"], context["end_of_turn_rate"]) == ("pretrained (context only)", 1, 0)
    assert block["policies"]["policy-1"]["perplexity"] is None and block["perplexity_reference"]["tokens"] == 30
    assert block["language_id"].startswith("py3langid ")
    metrics = coherence_metrics(block)
    assert metrics["coherence/pretrained/perplexity"] == 40.0 and metrics["coherence/policy-1/in_language"] == 0.25
    assert "coherence/policy-1/perplexity" not in metrics  # not measured: no metric rather than NaN
    summary = {
        "pareto/hypervolume": 0.1,
        "pareto/eum": 0.5,
        "pareto/front_size": 2,
        "pareto/candidates": 2,
        "front": [],
        "coherence": block,
    }
    shown = report.markdown({"summary": summary, "run_id": "r"}, objectives, "http://mlflow:5000")
    assert "| pretrained (context) | 100% | 100% | 50% | 0% | 5 |" in shown
    assert "| start (start policy) | 100% | 0% | 0% | 25% |" in shown
    assert shown.split("| policy-1 |")[1].split("\n")[0].endswith("| – |")  # perplexity not measured
    assert "given the templated prompt (3 replies, 30 tokens)" in shown
