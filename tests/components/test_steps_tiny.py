"""Every component on the tiny profile, in pipeline order (see conftest.tiny_run)."""

import json

import mlflow
import pandas as pd

from components.data.canonical import prompt_id, read_table
from components.scorers.objectives import reward_functions
from paretoflow.steps import STEPS


def test_ingest_and_validate(tiny_run):
    root, _, results = tiny_run
    assert results["ingest"]["summary"]["pairs"] == 340
    assert (root / "artifacts/data/quarantine.jsonl").read_text() == ""
    assert json.loads((root / "artifacts/metrics/validate.json").read_text())["prompts"]["rows"] == 60


def test_rubrics_one_per_prompt_and_objective(tiny_run):
    root, params, _ = tiny_run
    rubrics = pd.read_parquet(root / "artifacts/rubrics/rubrics.parquet")
    pairs = pd.read_parquet(root / "artifacts/data/pairs.parquet")
    prompts = pd.read_parquet(root / "artifacts/data/prompts.parquet")
    # every prompt of the prompts table for every objective, and every pair's prompt for the pair's objective
    wanted = {(p, o) for p in prompts["id"] for o in params.objective_names}
    wanted |= {(prompt_id(json.loads(p)), o) for p, o in zip(pairs["prompt"], pairs["objective"])}
    assert set(zip(rubrics["prompt_id"], rubrics["objective"])) == wanted and len(rubrics) == len(wanted)
    assert rubrics["principles"].map(len).between(1, params.rubrics.max_principles).all()
    assert set(rubrics["consistency"]) <= {"consistent", "inconsistent", "no_pair"}
    split = {prompt_id(json.loads(p)): s for p, s in zip(pairs["prompt"], pairs["split"])}
    empathy = rubrics[rubrics["objective"] == "empathy"]  # every empathy prompt has pairs; only train ones are read
    assert ((empathy["consistency"] != "no_pair") == (empathy["prompt_id"].map(split) == "train")).all()


def test_reward_models_saved_with_heldout_accuracy(tiny_run):
    root, params, results = tiny_run
    metrics = results["reward_model"]["summary"]
    assert set(metrics) == {"empathy", "helpfulness", "harmlessness"}
    for objective, m in metrics.items():
        assert (root / "artifacts/reward_models" / objective / "model.safetensors").exists()
        assert 0.0 <= m["heldout_accuracy"] <= 1.0 and m["heldout_pairs"] > 0
    scores = reward_functions(params, root / "artifacts/reward_models")[0](
        [[{"role": "user", "content": "I feel alone."}]] * 2, ["I'm here with you.", "ok"]
    )
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)


def test_grpo_one_policy_per_weight_vector_with_curves(tiny_run):
    root, params, _ = tiny_run
    manifest = json.loads((root / "artifacts/policies/manifest.json").read_text())
    assert [m["weights"] for m in manifest] == params.grpo.weights
    for m in manifest:
        policy = root / "artifacts/policies" / m["name"]
        assert (policy / "model.safetensors").exists() and (policy / "tokenizer.json").exists()
        curves = json.loads((policy / "curves.json").read_text())
        assert len(curves) == params.grpo.max_steps and set(params.objective_names) <= set(curves[-1])
        assert set(m["zero_variance_groups"]) == set(params.objective_names)
    scales = json.loads((root / "artifacts/policies/reward_scales.json").read_text())
    assert set(scales["objectives"]) == set(params.objective_names) and scales["rollouts"] >= 2


def test_evaluate_scores_every_objective_and_finds_a_front(tiny_run):
    root, params, results = tiny_run
    scores = pd.read_parquet(root / "artifacts/evaluation/scores.parquet")
    assert set(scores["policy"]) == {"start", "policy-0", "policy-1", "policy-2"}
    checks = json.loads((root / "artifacts/evaluation/evaluators.json").read_text())
    judged = [o for o in params.objective_names if checks[o]["judged"]]
    assert scores[judged].apply(lambda c: c.between(0, 1).all()).all()
    assert scores[[o for o in params.objective_names if o not in judged]].isna().all().all()  # unjudged: not scored
    training = [f"{o}_training" for o in params.objective_names]
    assert scores[training].apply(lambda c: c.between(0, 1).all()).all()  # training rewards beside them
    metrics = results["evaluate"]["summary"]
    assert metrics["pareto/front_size"] >= 1 and metrics["pareto/hypervolume"] >= 0.0
    assert metrics["pareto/hypervolume_reference"].startswith("reference: the start policy (0 in every objective)")
    logged = mlflow.MlflowClient(params.tracking.uri).get_run(results["evaluate"]["run_id"]).data.params
    assert logged["pareto/hypervolume_reference"] == metrics["pareto/hypervolume_reference"]
    assert set(json.loads(logged["pareto/evaluators"])) == set(params.objective_names)
    assert (root / "artifacts/evaluation/pareto_front.png").stat().st_size > 10_000


def test_evaluate_scores_with_evaluators_grpo_never_saw_and_checks_them_against_human_labels(tiny_run):
    root, params, results = tiny_run
    checks = json.loads((root / "artifacts/evaluation/evaluators.json").read_text())
    metrics = results["evaluate"]["summary"]
    assert checks["concision"]["kind"] == "rule" and checks["concision"]["judged"]
    assert "no agreement check is needed" in checks["concision"]["why"]
    pairs = read_table(root / "artifacts/data/pairs.parquet")
    for objective in ("empathy", "helpfulness", "harmlessness"):
        check = checks[objective]
        assert check["kind"] == "model" and check["evaluator"].startswith(f"rm:artifacts/evaluators/{objective} ")
        measured = check["agreement"]
        held = pairs[(pairs["objective"] == objective) & (pairs["split"] == "test")]
        assert measured["n"] == min(len(held), params.evaluate.agreement_pairs) > 0
        assert check["judged"] is (measured["ci95"][0] > 0.5)  # counts only above chance
        assert metrics[f"evaluator/{objective}/judged"] == float(check["judged"])
        assert metrics[f"evaluator/{objective}/ci95_low"] == measured["ci95"][0]
        assert ("unjudged" in metrics["evaluators"][objective]) is not check["judged"]
        assert f"train_reward/{objective}/mean" in metrics
    judged = [o for o in params.objective_names if checks[o]["judged"]]
    assert metrics["evaluator/judged"] == len(judged)
    logged = mlflow.MlflowClient(params.tracking.uri).get_run(results["evaluate"]["run_id"]).data.params
    evaluators = json.loads(logged["pareto/evaluators"])
    assert all((evaluators[o] == "unjudged") is (o not in judged) for o in params.objective_names)
    paired = mlflow.artifacts.load_dict(f"runs:/{results['evaluate']['run_id']}/evaluation/paired_scores.json")
    assert paired["objectives"] == judged and set(paired["scores"]) == {"start", "policy-0", "policy-1", "policy-2"}
    assert all(len(v) == len(paired["prompt_ids"]) for s in paired["scores"].values() for v in s.values())
    assert paired["scores"]["start"]["concision"] and abs(sum(paired["scores"]["start"]["concision"])) < 1e-3
    precision = json.loads((root / "artifacts/evaluation/precision.json").read_text())
    assert set(precision) == set(judged) and precision["concision"]["prompts"] == len(paired["prompt_ids"])


def test_evaluate_measures_coherence_per_policy_with_the_pretrained_for_context(tiny_run):
    root, params, results = tiny_run
    evaluation = root / "artifacts/evaluation"
    scores = pd.read_parquet(evaluation / "scores.parquet")
    assert {"in_script", "in_language", "role_marker", "as_seeker"} <= set(scores.columns)
    coherence = json.loads((evaluation / "coherence.json").read_text())
    assert list(coherence["policies"]) == ["pretrained", "start", "policy-0", "policy-1", "policy-2"]
    assert coherence["policies"]["pretrained"]["role"] == "pretrained (context only)"
    assert coherence["perplexity_reference"]["examples"] == params.evaluate.perplexity_examples
    for policy, row in coherence["policies"].items():
        assert 0 <= row["in_language"] <= 1 and 0 <= row["end_of_turn_rate"] <= 1, policy
        assert 1 < row["perplexity"] < 10 * 800, policy  # a random tiny model: near its vocabulary, never below 1
    front = {r["policy"]: r for r in json.loads((evaluation / "front.json").read_text())}
    assert "pretrained" not in front
    assert abs(front["start"]["perplexity"] - coherence["policies"]["start"]["perplexity"]) < 1e-4
    pretrained = pd.read_parquet(evaluation / "pretrained_replies.parquet")
    assert list(pretrained["prompt_id"]) == list(scores.loc[scores["policy"] == "start", "prompt_id"])
    shown = json.loads((evaluation / "side_by_side.json").read_text())
    assert len(shown) == min(params.evaluate.side_by_side_prompts, scores["prompt_id"].nunique())
    assert all(list(row["replies"]) == list(coherence["policies"]) for row in shown)
    assert "**start**" in (evaluation / "side_by_side.md").read_text()
    summary = results["evaluate"]["summary"]
    assert summary["coherence/pretrained/perplexity"] == coherence["policies"]["pretrained"]["perplexity"]
    assert (
        abs(summary["coherence/in_language/min"] - min(front[p]["in_language"] for p in front if p != "start")) < 1e-9
    )
    client = mlflow.MlflowClient(params.tracking.uri)
    logged = client.get_run(results["evaluate"]["run_id"]).data.metrics
    assert logged["coherence/start/median_words"] == coherence["policies"]["start"]["median_words"]


def test_register_puts_the_front_in_the_registry(tiny_run):
    root, params, results = tiny_run
    summary = results["register"]["summary"]
    front = [r for r in json.loads((root / "artifacts/evaluation/front.json").read_text()) if r["on_front"]]
    assert len(summary["versions"]) == len(front)
    client = mlflow.MlflowClient(params.tracking.uri)
    version = client.get_model_version_by_alias(params.register.model_name, "candidate")
    assert str(version.version) == summary["alias_version"]
    assert {f"weight.{o}" for o in params.objective_names} <= set(version.tags)
    assert version.tags["data.md5"].endswith(".dir")
    mlflow.set_tracking_uri(params.tracking.uri)
    lineage = mlflow.artifacts.load_dict(version.tags["lineage"])["steps"]  # one artifact, not a tag per md5
    assert lineage == {name: step.deps_md5(params) for name, step in STEPS.items()}
    for name, step in STEPS.items():  # each step recorded its inputs as it ran
        assert json.loads((root / step.lineage).read_text()) == step.deps_md5(params), name
