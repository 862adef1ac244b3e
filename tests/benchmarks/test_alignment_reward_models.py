"""The reward-model section of alignment.json: accuracy per source beside the baselines, and issue 19's goals."""

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
