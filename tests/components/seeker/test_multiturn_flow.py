"""Multi-turn GRPO and whole-conversation evaluation through the Prefect flow on the tiny profile: an `emotion`
objective turns the grpo step's rollouts into whole conversations with the simulated seeker (the tiny random model
through the `hf` backend: greedy, so the conversations repeat), the per-reply objective (a tiny reward model) is
averaged over the policy's turns, and evaluate plays held-out personas with every policy."""

from __future__ import annotations

import json
import os

import mlflow
import pytest

from tests.conftest import copy_project, tiny

pytestmark = pytest.mark.slow

MULTI_TURN = [
    "objectives=[{name: emotion, scorer: emotion}, {name: empathy, scorer: reward_model}]",
    "grpo.weights=[{emotion: 0.7, empathy: 0.3}]",
    "grpo.audit=[{name: tactics, scorer: conversation_novelty}]",
    "evaluate.independent={}",
    "grpo.max_steps=1",
    "grpo.num_generations=2",
    "grpo.reward_scale={prompts: 2, completions_per_prompt: 2}",
    "sft.enabled=false",
]


def test_a_multi_turn_grpo_step_and_its_evaluation_run_through_the_flow(tmp_path, model_cache):
    from prefect.testing.utilities import prefect_test_harness

    from flows.pipeline import training_pipeline

    root = copy_project(tmp_path)
    old = os.getcwd()
    os.chdir(root)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            result = training_pipeline(
                params_file="params.yaml", overrides=tiny(root, model_cache, *MULTI_TURN), until="evaluate"
            )
    finally:
        os.chdir(old)
    assert not result["steps"]["grpo"]["cached"]
    policies = root / "artifacts" / "policies"
    manifest = json.loads((policies / "manifest.json").read_text())
    assert [m["name"] for m in manifest] == ["policy-0"]
    curves = json.loads((policies / "policy-0" / "curves.json").read_text())
    assert {"emotion", "empathy", "tactics"} <= set(curves[-1])
    scales = json.loads((policies / "reward_scales.json").read_text())
    assert set(scales["objectives"]) == {"emotion", "empathy"}
    client = mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db")
    runs = client.search_runs(client.search_experiments()[0].experiment_id, "tags.mlflow.runName = 'grpo/policy-0'")
    metrics = runs[0].data.metrics
    assert {"reward/emotion/mean", "reward/tactics/mean"} <= set(metrics)
    assert "seeker.template.all" in runs[0].data.params  # the prompts' hash, recorded with the run
    assert 1.0 <= metrics["seeker/turns"] <= 2.0  # conversations of up to seeker.max_turns (2 on tiny) were played
    played = json.loads((root / "artifacts" / "evaluation" / "conversations.json").read_text())
    assert set(played["policies"]) == {"start", "policy-0"}
    for summary in played["policies"].values():
        assert summary["conversations"] == 3 and 1.0 <= summary["turns"] <= 2.0  # seeker.eval_personas, max_turns
        assert set(summary["objectives"]) == {"emotion", "empathy"}
        assert summary["final_emotion"]["ci95"][0] <= summary["final_emotion"]["mean"]
        assert summary["objectives"]["emotion"]["mean"] == pytest.approx(summary["final_emotion"]["mean"] / 100)
    assert played["transcripts"]["policy-0"][0]["turns"]
    evaluation = client.search_runs(client.search_experiments()[0].experiment_id, "tags.mlflow.runName = 'evaluate'")[0]
    assert "conversation/policy-0/final_emotion/mean" in evaluation.data.metrics
    artifacts = {a.path for a in client.list_artifacts(evaluation.info.run_id, "evaluation")}
    assert {"evaluation/conversations.json", "evaluation/transcripts.md"} <= artifacts
