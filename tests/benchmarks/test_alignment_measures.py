"""Parts of alignment.json computed from a finished run: the reward-model section and the time budget."""

import json

from benchmarks.alignment_measures import reward_model_section


def _source(accuracy, lead_low):
    baseline = {"accuracy": 0.6, "ci95": [0.55, 0.65], "model_lead_ci95": [lead_low, 0.1], "n": 100}
    return {
        "accuracy": accuracy,
        "ci95": [accuracy - 0.05, accuracy + 0.05],
        "n": 100,
        "baselines": {"length": baseline},
    }


def test_goals_read_each_source_of_each_objective(tmp_path):
    reports = {
        "helpfulness": {
            "accuracy": 0.66,
            "ci95": [0.6, 0.7],
            "n": 100,
            "by_source": {"hh-helpful": _source(0.66, 0.01)},
        },
        "harmlessness": {
            "accuracy": 0.6,
            "ci95": [0.55, 0.65],
            "n": 100,
            "by_source": {"hh-harmless": _source(0.6, 0.0)},
        },
        "empathy": {
            "accuracy": 0.7,
            "ci95": [0.65, 0.75],
            "n": 200,
            "by_source": {"esconv": _source(0.7, 0.02), "counselchat": _source(0.62, -0.01)},
        },
    }
    (tmp_path / "heldout_report.json").write_text(json.dumps(reports))
    (tmp_path / "metrics.json").write_text(json.dumps({o: {"train_pairs": 1000} for o in reports}))
    goals = reward_model_section(tmp_path)["goals"]
    assert goals == {
        "hh-helpful accuracy >= 0.65": True,
        "hh-harmless accuracy >= 0.62": False,
        "esconv above every baseline (lead interval above 0)": True,
        "counselchat above every baseline (lead interval above 0)": False,
    }


def test_a_cached_rerun_counts_the_seconds_its_steps_took_when_they_ran():
    from benchmarks.alignment_measures import budget

    steps = {"sft": (200.0, True), "reward_model": (600.0, True), "grpo": (2000.0, True), "evaluate": (1500.0, False)}
    result = {"wall_seconds": 1510.0, "steps": {n: {"seconds": s, "cached": c} for n, (s, c) in steps.items()}}
    spent = budget(result)
    assert spent["seconds_reward_models_aside"] == 200 + 2000 + 1500 + 10  # reward models apart, 10 s of overhead
    assert spent["served_from_cache"] == ["grpo", "reward_model", "sft"] and not spent["within"]


def test_bounds_catch_replies_that_grow_and_replies_that_shrink_to_stubs():
    import pandas as pd

    from benchmarks.alignment_measures import bounds_met

    steady = {"repetition": 0.2, "distinct_2": 0.4, "end_of_turn_rate": 0.9, "in_language": 1.0, "as_seeker": 0.05}
    steady |= {"role_marker": 0.0}
    rows = [
        {"policy": "start", "is_base": True, "length_growth": 1.0, "median_words": 24} | steady,
        {"policy": "stub", "is_base": False, "length_growth": 0.3, "median_words": 6} | steady,
        {"policy": "rambling", "is_base": False, "length_growth": 1.8, "median_words": 43} | steady,
    ]
    met = bounds_met(pd.DataFrame(rows), ["concision"])
    assert {k for k, v in met["stub"].items() if not v["met"]} == {"median_words"}
    assert {k for k, v in met["rambling"].items() if not v["met"]} == {"length_growth"}
