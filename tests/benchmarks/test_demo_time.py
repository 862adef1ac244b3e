"""demo_time's reading of a finished demo: did the weights steer an objective that is not length-based?"""

import json

import numpy as np
import pandas as pd
import yaml

from benchmarks.demo_time import weights_steer


def _demo(tmp_path, empathy_gain: float, judged: bool):
    rng = np.random.default_rng(0)
    prompts = [f"p{i}" for i in range(40)]
    start = rng.uniform(0.3, 0.7, len(prompts))
    rows = []
    for policy, shift in (("start", 0.0), ("policy-0", empathy_gain), ("policy-1", 0.0)):
        for pid, base in zip(prompts, start):
            value = base + shift + rng.normal(0, 0.01)
            rows.append(
                {
                    "policy": policy,
                    "prompt_id": pid,
                    "source": "sample",
                    "empathy": value,
                    "empathy_training": value,
                    "concision": 0.5,
                }
            )
    evaluation = tmp_path / "artifacts" / "evaluation"
    evaluation.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(evaluation / "scores.parquet")
    (evaluation / "evaluators.json").write_text(json.dumps({"empathy": {"judged": judged}}))
    policies = tmp_path / "artifacts" / "policies"
    policies.mkdir(parents=True)
    manifest = [
        {"name": "policy-0", "weights": {"empathy": 0.8, "concision": 0.2}},
        {"name": "policy-1", "weights": {"empathy": 0.2, "concision": 0.8}},
    ]
    (policies / "manifest.json").write_text(json.dumps(manifest))
    objectives = [{"name": "empathy", "scorer": "reward_model"}, {"name": "concision", "scorer": "concision"}]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"objectives": objectives}))
    return weights_steer(tmp_path)


def test_the_policy_weighted_towards_an_objective_moves_it_under_an_evaluator_that_counts(tmp_path):
    steer = _demo(tmp_path, empathy_gain=0.05, judged=True)
    assert list(steer["objectives"]) == ["empathy"]  # concision is length-based: not asked
    empathy = steer["objectives"]["empathy"]
    assert empathy["policy"] == "policy-0" and empathy["evaluator_gain"]["ci95"][0] > 0
    assert empathy["moves"] and steer["any_moves"]


def test_a_gain_under_an_evaluator_that_does_not_count_or_within_noise_does_not_move(tmp_path):
    assert not _demo(tmp_path / "unjudged", empathy_gain=0.05, judged=False)["any_moves"]
    assert not _demo(tmp_path / "flat", empathy_gain=0.0, judged=True)["any_moves"]
