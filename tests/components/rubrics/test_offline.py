"""The offline rubric backend, the label-consistency filter and the rubric reward on real pairs from ../shared/data."""

from __future__ import annotations

import pandas as pd
import pytest

from components.data.canonical import assign_split
from components.evaluation.agreement import read_pairs
from components.rubrics import offline as rubric_offline
from components.rubrics.label_filter import kept_fraction, pairwise_preference, score_preference
from components.scorers.rubric import RubricJudge, RubricReward
from tests.conftest import SHARED_DATA

ESCONV = SHARED_DATA / "esconv"


@pytest.fixture(scope="module")
def esconv_pairs() -> pd.DataFrame:
    """40 held-out and 40 train ESConv empathy pairs (split by prompt hash, as ingest does)."""
    pairs, _ = read_pairs(ESCONV, "esconv")  # valid.jsonl alone matches 19 pairs
    pairs["split"] = [assign_split(p, "rubric-test", 0.5) for p in pairs["prompt"]]
    return pairs.groupby("split").head(40)


@pytest.fixture(scope="module")
def judge(tmp_path_factory) -> RubricJudge:
    return RubricJudge("offline", tmp_path_factory.mktemp("rubric-cache"))


@pytest.mark.slow
def test_offline_rubrics_beat_chance_on_held_out_empathy_pairs(esconv_pairs, judge):
    train, test = esconv_pairs[esconv_pairs["split"] == "train"], esconv_pairs[esconv_pairs["split"] == "test"]
    mined = rubric_offline.mine_principles(train, judge.encoder, 4)
    assert 1 <= len(mined) <= 4 and set(mined) <= set(rubric_offline.BANK)
    reward = RubricReward("empathy", judge, principles=mined)
    prefs = score_preference(
        reward(list(test["prompt"]), list(test["chosen"])), reward(list(test["prompt"]), list(test["rejected"]))
    )
    assert sum(prefs) / len(prefs) >= 0.65  # measured 0.8 on 150 held-out pairs (benchmarks/rubric_judges.py)


@pytest.mark.slow
def test_label_consistency_filter_keeps_rubrics_that_prefer_chosen(esconv_pairs, judge):
    test = esconv_pairs[esconv_pairs["split"] == "test"].head(20)
    rubrics = [
        rubric_offline.offline_rubric(p, "empathy", rubric_offline.DEFAULTS["empathy"], None, m.get("strategy"))
        for p, m in zip(test["prompt"], test["meta"])
    ]
    chosen = judge.score(list(test["prompt"]), list(test["chosen"]), rubrics)
    rejected = judge.score(list(test["prompt"]), list(test["rejected"]), rubrics)
    outcomes = ["consistent" if p > 0.5 else "inconsistent" for p in score_preference(chosen, rejected)]
    kept = kept_fraction(outcomes)
    assert 0.5 < kept < 1.0  # the filter really drops some: not every rubric agrees with the labels
    assert kept == sum(c > r for c, r in zip(chosen, rejected)) / len(chosen)


def test_both_orders_cancel_a_judge_that_always_picks_the_first_reply():
    class FirstSlot:  # a real (if useless) judge policy: position bias and nothing else
        model = "first-slot"

        def chat(self, conversations, *, max_tokens, temperature=0.0):
            return ["Winner: Response A" for _ in conversations]

    prefs, unparsed = pairwise_preference(FirstSlot(), ["q"] * 3, ["c"] * 3, ["r"] * 3, [{}] * 3)
    assert prefs == [0.5, 0.5, 0.5] and unparsed == 0  # never "consistent": both orders must pick chosen


def test_probability_verdicts_average_p_chosen_over_both_orders():
    class Scripted:  # P(first is better) by which reply is shown first
        model, scoring = "scripted", "winner-probability/test"

        def verdicts(self, conversations, verdict):
            first = [c[0]["content"].split("<response_a>\n")[1].split("\n")[0] for c in conversations]
            return [{"c": 0.9, "r": 0.4, "x": None}[f] for f in first]

    prefs, unparsed = pairwise_preference(Scripted(), ["q"] * 2, ["c", "x"], ["r", "c"], [{}] * 2)
    assert prefs[0] == pytest.approx((0.9 + (1 - 0.4)) / 2)
    assert prefs[1] == pytest.approx((0 + (1 - 0.9)) / 2) and unparsed == 1  # no verdict gives chosen nothing


def test_hard_rules_come_from_the_prompt_and_gate_the_score():
    text = "I failed my exam. Please answer in under 10 words and don't tell me to relax"
    prompt = [{"role": "user", "content": text}]
    rules = rubric_offline.hard_rules_from(prompt)
    assert rules == ["The response uses at most 10 words.", "The response does not tell me to relax."]
    assert rubric_offline.check_hard_rule(rules[0], "That sounds really hard, I'm sorry.") == 1.0
    assert rubric_offline.check_hard_rule(rules[1], "Just try to relax and move on from it.") == 0.0
    assert rubric_offline.check_hard_rule("The response cites a 2024 source.", "anything") is None


@pytest.mark.slow
def test_reward_takes_the_rubric_column_as_a_keyword_and_stays_in_unit_range(judge):
    reward = RubricReward("empathy", judge)
    text = "My dog died yesterday and I can't stop crying. Keep it under 12 words."
    prompts = [[{"role": "user", "content": text}]] * 3
    replies = [
        "I'm so sorry. Losing your dog hurts; your tears make sense.",
        "I'm so sorry about your dog. Grief like this is heavy, and crying is a natural way to let it out.",
        "Dogs are popular pets.",
    ]
    strict = {"hard_rules": ["The response uses at most 12 words."], "principles": rubric_offline.DEFAULTS["empathy"]}
    as_text = (
        "1. The response uses at most 12 words. [Hard Rule]\n"
        "2. The response acknowledges the feelings the person expressed. [Principle]"
    )
    by_objective = {"empathy": strict, "concision": {"principles": ["The response is brief and free of filler."]}}
    for column in ([strict] * 3, [as_text] * 3, [by_objective] * 3):
        completions = [[{"role": "assistant", "content": r}] for r in replies]
        scores = reward(prompts, completions, rubric=column, trainer_state=None)
        assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
        assert scores[0] > scores[1]  # the long reply breaks the 12-word hard rule
        assert scores[0] > scores[2]
    assert reward.__name__ == "empathy"
    without = reward(prompts, replies)  # evaluation: no column, rubric from the prompt (hard rule found there)
    assert without[0] > without[1]


@pytest.mark.slow
def test_a_rerun_is_answered_from_the_cache(esconv_pairs, tmp_path):
    sample = esconv_pairs.head(10)
    first = RubricJudge("offline", tmp_path)
    reward = RubricReward("empathy", first)
    scores = reward(list(sample["prompt"]), list(sample["chosen"]))
    assert first.calls == 10
    again = RubricJudge("offline", tmp_path, encoder=first.encoder)  # a new process would reload the same file
    assert RubricReward("empathy", again)(list(sample["prompt"]), list(sample["chosen"])) == scores
    assert again.calls == 0 and again.cache.hit_rate == 1.0
