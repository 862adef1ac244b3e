"""What benchmarks/alignment.py concludes from the evaluate step's outputs, on outputs written here with known values:
paired gains, the verdict per led policy, led policies that differ, and the declared bounds."""

import numpy as np
import pandas as pd

from benchmarks.alignment_measures import BOUNDS, bounds_met, gains, led_pairs_differ, policy_names, verdicts

OBJECTIVES = ["empathy", "helpfulness", "harmlessness", "concision"]
PROMPTS = [f"p{i:02d}" for i in range(40)]


def _scores(tmp_path):
    """start; policy-0 (empathy-led) +0.1 empathy on every prompt under the evaluator, training reward +0.2;
    policy-1 (helpfulness-led) identical to start; helpfulness unjudged (no evaluator column values)."""
    rng = np.random.default_rng(0)
    base = {o: rng.uniform(0.2, 0.6, len(PROMPTS)) for o in OBJECTIVES}
    rows = []
    for policy, lift in (("start", 0.0), ("policy-0", 0.1), ("policy-1", 0.0)):
        for i, prompt in enumerate(PROMPTS):
            row = {"policy": policy, "prompt_id": prompt, "completion": "ok", "ended": True}
            for o in OBJECTIVES:
                judged = o != "helpfulness"
                row[o] = base[o][i] + (lift if o == "empathy" else 0.0) if judged else None
                row[f"{o}_training"] = base[o][i] + (2 * lift if o == "empathy" else 0.0)
            rows.append(row)
    pd.DataFrame(rows).to_parquet(tmp_path / "scores.parquet")
    heldout = pd.DataFrame({"id": PROMPTS, "source": ["esconv"] * 20 + ["hh-helpful"] * 20})
    return heldout


def test_paired_gains_verdicts_and_differences(tmp_path):
    heldout = _scores(tmp_path)
    table = gains(tmp_path, heldout, OBJECTIVES)
    empathy = table["policy-0"]["empathy"]
    assert empathy["evaluator"]["gain"] == 0.1 and empathy["evaluator"]["ci95"] == [0.1, 0.1]  # paired: no noise
    assert empathy["training"]["gain"] == 0.2
    assert set(empathy["evaluator"]["by_source"]) == {"esconv", "hh-helpful"}
    assert "evaluator" not in table["policy-0"]["helpfulness"]  # unjudged: the training reward only
    names = policy_names(
        [
            {"name": "policy-0", "weights": dict(zip(OBJECTIVES, (0.6, 0.2, 0.1, 0.1)))},
            {"name": "policy-1", "weights": dict(zip(OBJECTIVES, (0.2, 0.6, 0.1, 0.1)))},
        ]
    )
    assert names == {"policy-0": "empathy-led", "policy-1": "helpfulness-led"}
    evaluators = {o: {"judged": o != "helpfulness"} for o in OBJECTIVES}
    verdict = verdicts(table, names, evaluators)
    assert verdict["empathy-led"]["improves"] and verdict["empathy-led"]["evaluator_counts"]
    assert not verdict["helpfulness-led"]["improves"] and verdict["helpfulness-led"]["evaluator_gain"] is None
    evaluators["empathy"]["judged"] = False  # the same gain under an evaluator that does not count proves nothing
    assert not verdicts(table, names, evaluators)["empathy-led"]["improves"]
    differ = {d["objective"]: d for d in led_pairs_differ(tmp_path, names, OBJECTIVES)}
    assert set(differ) == {"empathy", "harmlessness"}  # judged, non-length objectives
    assert differ["empathy"]["differ"] and differ["empathy"]["gain"] == 0.1 and not differ["harmlessness"]["differ"]


def test_bounds_against_the_start_policy():
    start = {"policy": "start", "is_base": True, "length_growth": 1.0, "repetition": 0.1, "distinct_2": 0.8}
    start |= {"end_of_turn_rate": 0.95, "in_language": 1.0, "as_seeker": 0.0, "role_marker": 0.0}
    fine = start | {"policy": "policy-0", "is_base": False, "length_growth": 1.2, "empathy_scorer_gap": 0.01}
    bad = start | {"policy": "policy-1", "is_base": False, "length_growth": 2.0, "end_of_turn_rate": 0.7}
    bad |= {"as_seeker": 0.1, "empathy_scorer_gap": 0.3}
    checks = bounds_met(pd.DataFrame([start, fine, bad]), OBJECTIVES)
    assert all(c["met"] for c in checks["policy-0"].values())
    failed = {k for k, c in checks["policy-1"].items() if not c["met"]}
    assert failed == {"length_growth", "end_of_turn_rate_drop", "as_seeker_rise", "empathy_scorer_gap"}
    assert checks["policy-1"]["end_of_turn_rate_drop"]["value"] == 0.25
    assert BOUNDS["coherence"]["end_of_turn_rate_max_drop"] < 0.25
