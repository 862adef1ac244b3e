"""Evaluation beyond the means: intervals, reward-hacking indicators, expected utility, the reference point,
the interactive front; on hand-made scores, so each figure can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.common import pareto
from components.evaluation.evaluate import BASE, _front_table
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
    table = _front_table(_scores(objectives), candidates, params)
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
    halfway = _front_table(_scores(objectives), candidates, ideal).attrs["hypervolume"]
    assert halfway == pytest.approx(np.prod(gain) / (0.5 - base[0]))  # the first side in shares of the way to 0.5


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
    assert {trace.name for trace in page.data} == {"start policy", "front"}
    assert "<html>" in page.to_html(include_plotlyjs=False)


def test_generation_repeats_with_the_seed_and_follows_the_decoding_params(model_cache):
    from transformers import AutoTokenizer

    from components.common.model_store import policy_dir
    from components.evaluation.evaluate import generate

    params = load_params(
        REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}", "evaluate.max_new_tokens=6"]
    )
    assert params.evaluate.do_sample, "the tiny profile samples (a random model repeats one token when greedy)"
    path = policy_dir(params.policy, params.cache_dir)
    prompts = [[{"role": "user", "content": f"I feel {w} today."}] for w in ("sad", "tired", "lost")]
    first, again = generate(path, prompts, params), generate(path, prompts, params)
    other = generate(path, prompts, params.model_copy(update={"seed": params.seed + 1}))
    assert first == again and first != other
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert all(r.tokens <= 6 and (r.ended or r.tokens == 6) for r in first)
    assert all(len(tokenizer(r.text, add_special_tokens=False)["input_ids"]) <= 6 + 2 for r in first)


def test_the_repetition_penalty_breaks_greedy_loops(model_cache):
    """A random tiny model repeats one token when greedy; the penalty on tokens already seen breaks the loop."""
    from components.common.model_store import policy_dir
    from components.common.replies import DecodeSettings, generate_replies

    params = load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}"])
    path = policy_dir(params.policy, params.cache_dir)
    prompts = [[{"role": "user", "content": f"I feel {w} today."}] for w in ("sad", "tired", "lost")]

    def distinct(penalty: float) -> float:
        settings = DecodeSettings(max_new_tokens=12, batch_size=3, seed=0, repetition_penalty=penalty)
        replies = generate_replies(path, prompts, settings)
        words = [r.text.split() for r in replies]
        return sum(len(set(w)) for w in words) / max(1, sum(len(w) for w in words))

    assert distinct(3.0) > distinct(1.0)


def test_vllm_sampling_follows_the_decoding_params():
    from components.evaluation.evaluate import vllm_sampling

    params = load_params(REPO / "params.yaml", ["evaluate.max_new_tokens=40", "evaluate.temperature=0.7"])
    assert params.evaluate.engine == "transformers" and not params.evaluate.do_sample
    penalty = params.evaluate.repetition_penalty
    assert vllm_sampling(params.evaluate, 5) == {
        **{"max_tokens": 40, "temperature": 0.0, "repetition_penalty": penalty, "seed": 5}  # greedy
    }
    sampled = params.evaluate.model_copy(update={"do_sample": True, "repetition_penalty": 1.3})
    assert vllm_sampling(sampled, 5) == {"max_tokens": 40, "temperature": 0.7, "repetition_penalty": 1.3, "seed": 5}
    gpu = load_params(REPO / "params.yaml", ["profile=gpu"]).evaluate
    assert gpu.engine == "vllm" and vllm_sampling(gpu, 0)["max_tokens"] == gpu.max_new_tokens


def test_vllm_engine_explains_what_is_missing_on_a_cpu_machine(monkeypatch, tmp_path):
    import importlib.util
    import sys
    import types

    import torch

    from components.evaluation.evaluate import generate

    installed = importlib.util.find_spec("vllm") is not None
    if installed and torch.cuda.is_available():
        pytest.skip("vllm can run on this machine: nothing is missing")
    params = load_params(REPO / "params.yaml", ["evaluate.engine=vllm"])
    prompts = [[{"role": "user", "content": "I feel sad."}]]
    if not installed:  # the missing package is named, with the way out
        with pytest.raises(RuntimeError, match="vllm is not installed.*evaluate.engine=transformers"):
            generate(tmp_path, prompts, params)
    if not torch.cuda.is_available():  # an importable vllm still needs a CUDA device
        monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
        with pytest.raises(RuntimeError, match="no CUDA device is visible.*evaluate.engine=transformers"):
            generate(tmp_path, prompts, params)


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


@pytest.mark.parametrize("count", [2, 4])
def test_png_front_shows_every_pairwise_projection(count):
    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names[:count]
    candidates = [(BASE, None, None), ("policy-0", None, {}), ("policy-1", None, {})]
    table = _front_table(_scores(params.objective_names), candidates, params)
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
    table = _front_table(scores, candidates, params, judged=judged)
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
    from components.evaluation.evaluate import display_table

    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    scores = _scores(objectives)
    for o in objectives:
        scores[f"{o}_training"] = scores[o]
    for o in objectives[:-1]:
        scores[o] = None
    candidates = [(BASE, None, None), ("policy-0", None, {}), ("policy-1", None, {})]
    table = _front_table(scores, candidates, params, judged=["concision"])
    rows = table.set_index("policy")  # one judged objective: the front is its best policy, the volume its gain
    assert rows["on_front"].to_dict() == {BASE: False, "policy-0": False, "policy-1": True}
    assert table.attrs["hypervolume"] == pytest.approx(0.75 - 0.3)
    assert rows.loc["policy-1", "hv_contribution"] == pytest.approx(0.75 - 0.6)
    shown, axes = display_table(table, objectives, ["concision"])
    assert axes[-1] == "concision" and axes[0] == f"{objectives[0]} (training reward, unjudged)"
    figure = pareto.plot_front(shown, axes, "front")
    assert len([ax for ax in figure.axes if ax.axison]) == len(objectives) * (len(objectives) - 1) // 2
    two = _front_table(_scores(objectives), candidates, params, judged=objectives[:2])
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
    from components.evaluation.evaluate import PRETRAINED, coherence_block, coherence_metrics

    monkeypatch.setattr(report, "run_url", lambda uri, run_id: f"{uri}/runs/{run_id}")

    params = load_params(REPO / "params.yaml")
    objectives = params.objective_names
    candidates = [(BASE, None, None), ("policy-0", None, {o: 0.25 for o in objectives}), ("policy-1", None, {})]
    table = _front_table(_judged(objectives), candidates, params, {BASE: 9.0, "policy-0": 8.0, "policy-1": None})
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
