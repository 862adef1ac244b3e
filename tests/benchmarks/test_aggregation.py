"""benchmarks/aggregation.py: the paired comparison it judges steering by, read from evaluate's scores table."""

import numpy as np
import pandas as pd

from benchmarks.aggregation import compare, recommend


def _scores(toward: np.ndarray, away: np.ndarray, unjudged: str = "helpfulness") -> pd.DataFrame:
    n = len(toward)
    rows = []
    for policy, values in (("policy-0", toward), ("policy-1", away)):
        for i in range(n):
            rows.append(
                {"prompt_id": f"p{i}", "policy": policy, "empathy": values[i], "empathy_training": values[i] + 0.1}
                | {unjudged: None, f"{unjudged}_training": 0.5}
            )
    return pd.DataFrame(rows)


def test_the_policy_weighted_towards_an_objective_steers_when_its_paired_interval_is_above_zero():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 40)
    scores = _scores(base + 0.05 + rng.normal(0, 0.01, 40), base)
    signs = {"empathy": 1, "helpfulness": -1}
    evaluators = compare(scores, "policy-0", "policy-1", {"empathy": "empathy", "helpfulness": "helpfulness"}, signs, 0)
    empathy = evaluators["difference"]["empathy"]
    assert empathy["steers"] and empathy["ci95"][0] > 0 and abs(empathy["mean"] - 0.05) < 0.01
    assert evaluators["difference"]["helpfulness"] == {"unjudged": True, "steers": False}
    training = compare(
        scores, "policy-0", "policy-1", {"empathy": "empathy_training", "helpfulness": "helpfulness_training"}, signs, 0
    )
    assert not training["difference"]["helpfulness"]["steers"]  # equal scores: the interval is [0, 0]


def test_no_steering_recommends_no_default():
    flat = {"seeds": {"42": {"independent": {"difference": {"empathy": {"mean": 0.0, "steers": False}}}}}}
    assert (
        recommend(
            {"sum_then_normalize": {"steers_on_both": 0, **flat}, "normalize_then_sum": {"steers_on_both": 0, **flat}}
        )
        is None
    )


def test_reply_shares_show_when_the_guard_zeroed_nearly_every_reply():
    from benchmarks.aggregation import reply_shares

    scores = _scores(np.array([0.0, 0.0, 0.0, 0.4]), np.array([0.0, 0.0, 0.0, 0.0])).assign(ended=False)
    scores["completion"] = ["I hear you", "that sounds hard to carry", "ok", "tell me more"] * (len(scores) // 4)
    shares = reply_shares(scores, ["empathy", "helpfulness"])
    assert {p: {k: v for k, v in s.items() if k != "median_words"} for p, s in shares.items()} == {
        "policy-0": {"ended": 0.0, "empathy_zero": 0.75},
        "policy-1": {"ended": 0.0, "empathy_zero": 1.0},
    }
    assert all(s["median_words"] > 0 for s in shares.values())


def test_samples_put_each_policys_reply_to_the_same_prompt_side_by_side():
    from benchmarks.aggregation import samples

    scores = pd.DataFrame(
        {
            "prompt_id": ["b", "a", "a", "b", "c"],
            "policy": ["start", "start", "policy-0", "policy-0", "start"],
            "completion": ["s-b", "s-a", "p-a", "p-b", "s-c"],
        }
    )
    assert samples(scores, 2) == [
        {"prompt_id": "a", "start": "s-a", "policy-0": "p-a"},
        {"prompt_id": "b", "start": "s-b", "policy-0": "p-b"},
    ]
