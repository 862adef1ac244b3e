"""Which evaluator scores each objective and whether it may: defaults, overrides, the agreement check against human
labels (a 95% interval above 0.5), and rules that need none; with real scorers on hand-made pairs."""

from __future__ import annotations

import pandas as pd
import pytest

from components.evaluation.front_evaluators import RULE, check, choose, front_evaluators, panel
from components.scorers.specs import scorer_from_spec
from paretoflow.config import load_params
from tests.conftest import REPO

PROMPT = [{"role": "user", "content": "I feel low today."}]


def _pairs(objective: str, n: int, short_wins: bool, prompts: int | None = None) -> pd.DataFrame:
    """Held-out pairs whose human label prefers the short reply (or the long one); `prompts` distinct prompts."""
    short, long = "I hear you.", "I hear you, and " + "that sounds really hard to carry, " * 6
    rows = []
    for i in range(n):
        prompt = [{"role": "user", "content": f"I feel low today ({i % (prompts or n)})."}]
        chosen, rejected = (short, long) if short_wins else (long, short)
        rows.append({"id": f"{objective}-{i}", "prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pd.DataFrame(rows).assign(objective=objective, split="test")


def test_defaults_reward_models_get_their_evaluator_model_rules_judge_themselves(tmp_path):
    params = load_params(REPO / "params.yaml")
    rm = tmp_path / "reward_models"
    by_name = {o.name: o for o in params.objectives}
    missing = choose(by_name["empathy"], params, rm)
    assert missing.spec is None and not missing.rule and "run `paretoflow train-rm`" in missing.missing
    (tmp_path / "evaluators" / "empathy").mkdir(parents=True)
    (tmp_path / "evaluators" / "empathy" / "config.json").write_text("{}")
    found = choose(by_name["empathy"], params, rm)
    assert found.spec == f"rm:{(tmp_path / 'evaluators' / 'empathy').as_posix()}" and not found.rule
    assert choose(by_name["concision"], params, rm).rule
    judged = load_params(REPO / "params.yaml", ["evaluate.independent={empathy: 'rubric:offline#empathy'}"])
    assert choose(by_name["empathy"], judged, rm).spec == "rubric:offline#empathy"
    off = load_params(REPO / "params.yaml", ["reward_model.evaluator.enabled=false"])
    assert "reward_model.evaluator.enabled is false" in choose(by_name["helpfulness"], off, rm).missing


def test_an_evaluator_counts_only_when_its_agreement_interval_clears_chance():
    params = load_params(REPO / "params.yaml")
    brevity = scorer_from_spec("brevity:chars=40", params)  # a real scorer that prefers short replies
    agrees = check(brevity, _pairs("empathy", 30, short_wins=True), params.seed)
    assert agrees["judged"] and agrees["agreement"]["agreement"] == 1.0 and "lower end above 0.5" in agrees["why"]
    disagrees = check(brevity, _pairs("empathy", 30, short_wins=False), params.seed)
    assert not disagrees["judged"] and disagrees["agreement"]["agreement"] == 0.0
    mixed = pd.concat([_pairs("empathy", 6, True), _pairs("empathy", 4, False).assign(id=lambda d: d["id"] + "x")])
    unsure = check(brevity, mixed, params.seed)  # 60% agreement on 10 pairs: the interval reaches below 0.5
    assert unsure["agreement"]["agreement"] == pytest.approx(0.6) and not unsure["judged"]
    assert unsure["agreement"]["ci95"][0] <= 0.5 and "not above 0.5" in unsure["why"]
    nothing = check(brevity, _pairs("empathy", 0, True), params.seed)
    assert not nothing["judged"] and "no held-out pairs" in nothing["why"]


def test_pairs_of_one_prompt_are_resampled_together():
    params = load_params(REPO / "params.yaml")
    brevity = scorer_from_spec("brevity:chars=40", params)
    mixed = pd.concat([_pairs("empathy", 12, True, prompts=3), _pairs("empathy", 8, False, prompts=2)])
    mixed = mixed.assign(id=[f"p{i}" for i in range(len(mixed))])
    independent = check(brevity, mixed.assign(prompt=[[{"role": "user", "content": str(i)}] for i in range(20)]), 0)
    grouped = check(brevity, mixed, 0)
    assert grouped["agreement"]["prompts"] == 3 and independent["agreement"]["prompts"] == 20
    width = lambda r: r["agreement"]["ci95"][1] - r["agreement"]["ci95"][0]  # noqa: E731
    assert width(grouped) > width(independent)


def test_panel_judges_rules_without_a_check_and_leaves_objectives_without_an_evaluator_unjudged(tmp_path):
    params = load_params(
        REPO / "params.yaml",
        ["evaluate.independent={empathy: 'brevity:chars=40'}", "reward_model.evaluator.enabled=false"],
    )
    pairs = pd.concat([_pairs("empathy", 20, True), _pairs("helpfulness", 20, True)])

    def concision(prompts, completions, **kwargs):
        return [1.0] * len(completions)

    training = {o: concision for o in params.objective_names}
    found = panel(params, tmp_path / "reward_models", pairs, training)
    assert found.report["empathy"]["kind"] == "rule" and found.report["empathy"]["agreement"] is None
    assert found.report["concision"]["why"] == RULE and found.scorers["concision"] is concision
    assert found.unjudged == ["helpfulness", "harmlessness"]
    assert "reward_model.evaluator.enabled is false" in found.report["helpfulness"]["why"]
    described = front_evaluators(params, tmp_path / "reward_models", tuple(found.unjudged))
    assert described["helpfulness"] == "unjudged" and described["concision"].startswith("concision (target 12 words)")
    assert described["empathy"] == "brevity:chars=40 (rule)"
