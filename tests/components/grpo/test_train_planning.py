"""Strategy planning and run bookkeeping: no training, seconds (dynamic weights: test_dynamic_weights.py)."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from components.grpo.rewards import audit_objectives, full_weights, sample_table
from components.grpo.train import plan, simplex_points, soup_plan, weight_vectors
from paretoflow.config import ConfigError, load_params
from tests.conftest import REPO

OBJECTIVES = ["empathy", "helpfulness", "harmlessness", "concision"]


def params(*overrides):
    return load_params(REPO / "params.yaml", ["profile=tiny", *overrides])


@pytest.mark.parametrize("objectives,count", [(2, 3), (3, 5), (4, 3), (4, 10), (4, 1)])
def test_simplex_points_are_distinct_spread_weight_vectors(objectives, count):
    points = simplex_points(objectives, count)
    assert points.shape == (count, objectives)
    assert np.allclose(points.sum(axis=1), 1) and (points >= 0).all()
    assert len({tuple(p) for p in points}) == count
    if count > 1:
        nearest = min(np.linalg.norm(a - b) for a, b in combinations(points, 2))
        assert nearest >= 0.2  # spread: no two candidates train on almost the same trade-off


def test_sweep_points_replace_the_weight_list_and_keep_the_demo_default():
    assert weight_vectors(params()) == params().grpo.weights  # the three listed vectors
    vectors = weight_vectors(params("grpo.sweep_points=5"))
    assert len(vectors) == 5 and all(set(v) == set(OBJECTIVES) for v in vectors)
    assert [r.name for r in plan(params())] == ["policy-0", "policy-1", "policy-2"]


def test_soup_plan_trains_one_specialist_per_objective_and_mixes_at_the_weight_vectors():
    p = params("grpo.strategy=soup", "grpo.soup.specialist_steps=3")
    runs = plan(p)
    assert [r.name for r in runs] == [f"specialist-{o}" for o in OBJECTIVES]
    assert all(r.steps == 3 and sorted(r.weights.values()) == [0, 0, 0, 1] for r in runs)
    assert [w for _, w in soup_plan(p)] == p.grpo.weights
    one_hot = {o: float(o == "empathy") for o in OBJECTIVES}
    mixed = params("grpo.strategy=soup", f"grpo.weights=[{json.dumps(one_hot)}, {json.dumps(p.grpo.weights[1])}]")
    assert [w for _, w in soup_plan(mixed)] == [p.grpo.weights[1]]  # a one-hot mix is a specialist already


def test_dynamic_runs_carry_their_method():
    runs = plan(params("grpo.strategy=dynamic", "grpo.dynamic.method=gradient"))
    assert [r.name for r in runs] == ["dynamic-0", "dynamic-1", "dynamic-2"]
    assert all(r.dynamic and r.extra == {"dynamic_method": "gradient"} for r in runs)


def test_audit_rewards_follow_the_objectives_at_weight_zero():
    p = params("grpo.audit=[novelty, {name: long_replies, scorer: concision, target_words: 80}]")
    assert [a.name for a in audit_objectives(p)] == ["novelty", "long_replies"]
    assert full_weights(p.grpo.weights[0], p) == [*p.grpo.weights[0].values(), 0.0, 0.0]
    with pytest.raises(ConfigError, match="grpo.audit"):
        params("grpo.audit=[{name: concision, scorer: concision}]")  # already a training objective


def test_completion_sample_table_lines_up_completions_with_their_scores():
    logs = {
        "prompt": [[{"role": "user", "content": f"q{i}"}] for i in range(5)],
        "completion": [[{"role": "assistant", "content": f"a{i}"}] for i in range(5)],
        "rewards": {"concision": [0.1 * i for i in range(5)], "novelty": [1 - 0.1 * i for i in range(5)]},
    }
    table = sample_table(logs, step=7, size=2)
    assert table["prompt"].tolist() == ["q3", "q4"] and table["completion"].tolist() == ["a3", "a4"]
    assert table["concision"].tolist() == pytest.approx([0.3, 0.4]) and set(table["step"]) == {7}


def _fingerprints(p, inputs=None) -> dict[str, str]:
    from components.grpo.train import fingerprint

    return {run.name: fingerprint(p, run, inputs or {"prompts": "md5"}) for run in plan(p)}


def test_fingerprint_leaves_out_bookkeeping_and_the_plan_but_not_what_a_run_learns():
    base = _fingerprints(params())
    for bookkeeping in ("grpo.save_steps=7", "grpo.log_completions_every=2", "grpo.compute.target=accelerate"):
        assert _fingerprints(params(bookkeeping)) == base, bookkeeping  # resume, do not retrain
    more = params(f"grpo.weights={json.dumps([*params().grpo.weights, {o: 0.25 for o in OBJECTIVES}])}")
    assert {k: v for k, v in _fingerprints(more).items() if k in base} == base  # only the new run trains
    for learned in ("grpo.learning_rate=0.001", "seed=7", "rubrics.max_principles=2", "reward_model.batch_size=3"):
        assert set(_fingerprints(params(learned)).values()).isdisjoint(base.values()), learned
    assert _fingerprints(params(), {"prompts": "other"}) != base


def test_fingerprint_carries_the_code_and_library_versions(monkeypatch):
    from components.grpo import train

    base = _fingerprints(params())
    monkeypatch.setattr(train, "code_version", lambda module: "edited")
    assert set(_fingerprints(params()).values()).isdisjoint(base.values())
    monkeypatch.undo()
    monkeypatch.setattr(train.metadata, "version", lambda name: "0.0" if name == "trl" else "1.0")
    assert set(_fingerprints(params()).values()).isdisjoint(base.values())


def test_a_launched_job_fingerprints_like_the_step_that_launched_it():
    """The step runs on its params view; the job loads the whole file and takes the same view."""
    from paretoflow.step_params import StepParams

    p = params()
    assert _fingerprints(StepParams(p, "grpo")) == _fingerprints(p)
