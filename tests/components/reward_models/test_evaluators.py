"""Evaluator reward models on the tiny profile: trained on train prompts the training model never sees, with
another seed and backbone, in their own folder, and measured on the held-out pairs."""

import json

import pytest

from components.data.canonical import read_table
from components.reward_models.train import objective_splits, train_reward_models
from tests.components.reward_models.conftest import ONE_RM, tiny_params


def _prompts(frame) -> set[str]:
    return {json.dumps(p, sort_keys=True) for p in frame["prompt"]}


def test_the_evaluator_share_is_disjoint_from_the_training_models_and_from_the_test_pairs(sample_data, model_cache):
    params = tiny_params(model_cache)
    pairs = read_table(sample_data / "pairs.parquet")
    for objective in ("empathy", "helpfulness", "harmlessness"):
        split = objective_splits(pairs, objective, params)
        assert len(split["evaluator"]) > 0 and len(split["train"]) > 0
        assert not _prompts(split["evaluator"]) & _prompts(split["train"])
        assert not _prompts(split["evaluator"]) & _prompts(split["test"])
        everything = pairs[(pairs["objective"] == objective) & (pairs["split"] == "train")]
        assert len(split["evaluator"]) + len(split["train"]) == len(everything)  # nothing lost, nothing shared
    split = objective_splits(pairs, "empathy", params)
    unsplit = objective_splits(pairs, "empathy", tiny_params(model_cache, "reward_model.evaluator.enabled=false"))
    assert unsplit["evaluator"].empty and len(unsplit["train"]) == len(split["train"]) + len(split["evaluator"])


@pytest.mark.slow
def test_evaluators_are_trained_with_another_seed_and_backbone_in_their_own_folder(sample_data, model_cache, tmp_path):
    params = tiny_params(model_cache, *ONE_RM)
    summary = train_reward_models(params, sample_data, tmp_path / "reward_models")["empathy"]
    recorded = json.loads((tmp_path / "evaluators" / "evaluators.json").read_text())["empathy"]
    assert (tmp_path / "evaluators" / "empathy" / "model.safetensors").exists()
    assert not (tmp_path / "reward_models" / "evaluators").exists()  # GRPO's folder holds the training models only
    assert recorded["seed"] == params.seed + 1 and recorded["backbone"]["hidden_size"] == 48
    assert recorded["train_prompts_md5"] != recorded["training_model_prompts_md5"]
    assert summary["evaluator_train_pairs"] == recorded["train_pairs"] > 0
    low, high = recorded["heldout_ci95"]
    assert low <= summary["evaluator_heldout_accuracy"] == recorded["heldout_accuracy"] <= high
    trained = json.loads((tmp_path / "evaluators" / "empathy" / "config.json").read_text())
    training = json.loads((tmp_path / "reward_models" / "empathy" / "config.json").read_text())
    assert trained["hidden_size"] == 48 and training["hidden_size"] == 32
    off = tiny_params(model_cache, *ONE_RM, "reward_model.evaluator.enabled=false")
    assert "evaluator_train_pairs" not in train_reward_models(off, sample_data, tmp_path / "reward_models")["empathy"]
    assert json.loads((tmp_path / "evaluators" / "evaluators.json").read_text()) == {}
