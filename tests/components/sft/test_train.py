"""The sft step on the tiny profile: it trains the start policy, GRPO starts from it, it caches, it can be off."""

import json

import pytest

from components.sft.start import start_policy_dir
from components.sft.train import train_sft
from paretoflow.config import load_params
from paretoflow.steps import STEPS
from tests.conftest import tiny


def test_sft_trains_the_start_policy_that_grpo_starts_from(tiny_run):
    root, params, results = tiny_run
    summary = results["sft"]["summary"]
    assert summary["enabled"] and summary["examples"]["train"] == params.sft.max_examples
    policy = root / "artifacts/sft/policy"
    assert (policy / "model.safetensors").exists() and (policy / "tokenizer.json").exists()
    assert summary["heldout"]["pretrained"]["loss"] > 0 and summary["heldout"]["sft"]["loss"] > 0
    assert summary["steps"] == -(-params.sft.max_examples // params.sft.batch_size)
    report = json.loads((root / "artifacts/sft/sft.json").read_text())
    assert len(report["samples"]) == report["replies"]["sft"]["n"] > 0
    assert results["grpo"]["summary"]["start_policy"] == "artifacts/sft/policy"
    generation = json.loads((policy / "generation_config.json").read_text())
    assert {"<end_of_turn>", "<start_of_turn>"} <= _tokens(policy, generation["eos_token_id"])


def _tokens(policy, ids) -> set[str]:
    from transformers import AutoTokenizer

    return set(AutoTokenizer.from_pretrained(policy).convert_ids_to_tokens(ids))


def test_the_cache_key_follows_sft_settings_and_not_grpo_ones(project, model_cache):
    for folder in ("artifacts/data", "artifacts/validation"):  # the step's inputs, as earlier steps leave them
        (project / folder).mkdir(parents=True)
        (project / folder / "table.parquet").write_text(folder)
    key = STEPS["sft"].cache_key
    base = key(load_params("params.yaml", tiny(project, model_cache)))
    assert key(load_params("params.yaml", tiny(project, model_cache, "grpo.learning_rate=0.5"))) == base
    assert key(load_params("params.yaml", tiny(project, model_cache, "sft.learning_rate=0.5"))) != base
    assert key(load_params("params.yaml", tiny(project, model_cache, "policy.hidden_size=64"))) != base
    (project / "artifacts/data/table.parquet").write_text("new data")
    assert key(load_params("params.yaml", tiny(project, model_cache))) != base


def test_disabled_passes_the_pretrained_policy_on_and_says_so(project, model_cache, capsys):
    params = load_params("params.yaml", tiny(project, model_cache, "sft.enabled=false"))
    summary = train_sft(params, project / "artifacts/data", project / "artifacts/sft")
    assert summary["enabled"] is False
    assert "sft: disabled" in capsys.readouterr().out
    assert str(start_policy_dir(params, project / "artifacts/sft")) == summary["start_policy"]
    assert (project / "artifacts/sft/sft.json").exists()


def test_grpo_refuses_to_start_without_the_sft_policy(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    with pytest.raises(FileNotFoundError, match="run `paretoflow sft` first"):
        start_policy_dir(params, project / "artifacts/sft")
