"""Each strategy trains on the tiny profile and leaves candidates downstream steps can load.

Objectives without reward models (concision, novelty) keep these runs to seconds; the reward-model path is
covered by test_steps_tiny.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import torch
from transformers import AutoModelForCausalLM

from components.grpo.train import train_candidates
from tests.components.grpo.project_inputs import ingested, project_params

pytestmark = pytest.mark.slow

TWO_OBJECTIVES = [
    "objectives=[{name: concision, scorer: concision, target_words: 5}, {name: novelty, scorer: novelty}]",
    "grpo.weights=[{concision: 0.7, novelty: 0.3}, {concision: 0.3, novelty: 0.7}]",
    "data.sources=[{name: prompts, uri: data/sample/prompts.jsonl}]",
    "grpo.max_steps=2",
    "grpo.num_generations=2",
    "sft.enabled=false",  # prompts only: the tiny policy is the start policy
]


def tiny_params(model_cache, *overrides):
    return project_params(model_cache, *TWO_OBJECTIVES, *overrides)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model_cache):
    return ingested(tiny_params(model_cache), tmp_path_factory.mktemp("data"))


def test_sweep_with_lora_exports_merged_models_logs_audit_rewards_and_samples(tmp_path, data_dir, model_cache):
    params = tiny_params(
        model_cache,
        "grpo.lora={r: 4, alpha: 8, dropout: 0.0}",
        "grpo.learning_rate=0.01",
        "grpo.audit=[{name: short, scorer: concision, target_words: 2}]",
        "grpo.log_completions_every=1",
        "grpo.multi_objective_aggregation=normalize_then_sum",
        "grpo.scale_rewards=batch",
    )
    out = tmp_path / "policies"
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("grpo-strategies")  # an earlier test's active experiment id names nothing in this store
    with mlflow.start_run() as parent:
        summary = train_candidates(params, data_dir, tmp_path / "no-reward-models", out)
    assert summary == summary | {"policies": 2, "trained": 2, "skipped_finished": 0, "strategy": "sweep"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(m["name"], m["weights"], m["strategy"]) for m in manifest] == [
        (f"policy-{i}", w, "sweep") for i, w in enumerate(params.grpo.weights)
    ]
    base = AutoModelForCausalLM.from_pretrained(summary["start_policy"]).state_dict()
    for m in manifest:
        policy = out / m["name"]
        assert not (policy / "adapter_config.json").exists() and not (policy / "checkpoints").exists()
        merged = AutoModelForCausalLM.from_pretrained(policy).state_dict()  # a plain model: LoRA merged in
        assert set(merged) == set(base) and any(not torch.equal(merged[k], base[k]) for k in base)
        curves = json.loads((policy / "curves.json").read_text())
        assert [c["step"] for c in curves] == [1, 2] and {"concision", "novelty", "short"} <= set(curves[-1])

    client = mlflow.MlflowClient()
    child = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")[0]
    assert {"reward/short/mean", "reward/novelty/mean"} <= set(child.data.metrics)
    table_file = mlflow.artifacts.download_artifacts(f"runs:/{child.info.run_id}/grpo/completions.json")
    table = json.loads(Path(table_file).read_text())
    assert {"step", "prompt", "completion", "concision", "novelty", "short"} <= set(table["columns"])
    assert {row[table["columns"].index("step")] for row in table["data"]} == {1, 2}

    again = train_candidates(params, data_dir, tmp_path / "no-reward-models", out)  # a re-run skips finished ones
    assert again["trained"] == 0 and again["skipped_finished"] == 2
    changed = tiny_params(model_cache, "grpo.lora={r: 4, alpha: 8, dropout: 0.0}", "grpo.max_steps=1")
    assert train_candidates(changed, data_dir, tmp_path / "no-reward-models", out)["trained"] == 2


@pytest.mark.parametrize("method", ["hypervolume", "gradient"])
def test_dynamic_weights_move_during_training_and_are_recorded(tmp_path, data_dir, model_cache, method):
    params = tiny_params(
        model_cache,
        "grpo.strategy=dynamic",
        f"grpo.dynamic.method={method}",
        "grpo.max_steps=3",
        "grpo.weights=[{concision: 0.5, novelty: 0.5}]",
        "grpo.dynamic.step_size=1.0",
    )
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("grpo-strategies")  # an earlier test's active experiment id names nothing in this store
    with mlflow.start_run() as parent:
        train_candidates(params, data_dir, tmp_path, tmp_path / "policies")
    (entry,) = json.loads((tmp_path / "policies/manifest.json").read_text())
    assert entry["name"] == "dynamic-0" and entry["dynamic_method"] == method
    trajectory = json.loads((tmp_path / "policies/dynamic-0/weight_trajectory.json").read_text())
    assert [t["step"] for t in trajectory] == [0, 1, 2, 3]
    assert all(t["concision"] + t["novelty"] == pytest.approx(1.0) for t in trajectory)
    assert sum(entry["final_weights"].values()) == pytest.approx(1.0)
    if method == "gradient":  # every step updates; the weights leave the preference
        assert entry["final_weights"] != pytest.approx({"concision": 0.5, "novelty": 0.5}, abs=1e-4)
    else:  # the preference stays; a validation before training and after each step sets the learning-rate factor
        assert entry["final_weights"] == {"concision": 0.5, "novelty": 0.5}
        assert entry["validations"] == 4 and entry["validation_seconds"] > 0 and entry["validation_prompts"] == 8
        metas = {t["step"]: t["meta"] for t in trajectory}
        assert metas[0] == 1.0 and all(0.5 <= m < 2 for m in metas.values())
        curves = json.loads((tmp_path / "policies/dynamic-0/curves.json").read_text())
        planned = {c["step"]: params.grpo.learning_rate * (4 - c["step"]) / 3 for c in curves}  # linear decay
        assert {c["step"]: c["learning_rate"] for c in curves} == pytest.approx(
            {step: rate * metas[step - 1] for step, rate in planned.items()}  # a step runs at the meta set before it
        )
    client = mlflow.MlflowClient()
    child = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")[0]
    history = client.get_metric_history(child.info.run_id, "weight/novelty")
    assert sorted(m.step for m in history) == [0, 1, 2, 3]
    assert "weights.png" in {a.path for a in client.list_artifacts(child.info.run_id)}


def test_soup_specialists_and_mixtures_are_plain_models(tmp_path, data_dir, model_cache):
    from components.evaluation.heldout_replies import generate

    params = tiny_params(
        model_cache,
        "grpo.strategy=soup",
        "grpo.soup.specialist_steps=1",
        "grpo.weights=[{concision: 0.5, novelty: 0.5}, {concision: 0.2, novelty: 0.8}]",
    )
    summary = train_candidates(params, data_dir, tmp_path, tmp_path / "policies")
    manifest = json.loads((tmp_path / "policies/manifest.json").read_text())
    assert [m["name"] for m in manifest] == ["specialist-concision", "specialist-novelty", "soup-0", "soup-1"]
    assert summary["trained"] == 2 and all(m["strategy"] == "soup" for m in manifest)
    a, b = (AutoModelForCausalLM.from_pretrained(tmp_path / "policies" / m["name"]).state_dict() for m in manifest[0:2])
    soup = AutoModelForCausalLM.from_pretrained(tmp_path / "policies/soup-1").state_dict()
    key = next(k for k in a if not torch.equal(a[k], b[k]))
    assert torch.allclose(soup[key], 0.2 * a[key] + 0.8 * b[key], atol=1e-6)
    replies = generate(tmp_path / "policies/soup-0", [[{"role": "user", "content": "hello"}]], params)
    assert len(replies) == 1
