"""Reward scales measured on the tiny start policy's own rollouts: sampled as GRPO samples, with the run seed,
cached under a key of the start policy and params, and applied to the rewards TRL receives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.grpo import reward_scales
from components.grpo.rewards import standardised, training_rewards, zero_variance_groups
from components.grpo.train import train_prompts
from components.sft.start import start_policy_dir
from tests.components.grpo.project_inputs import ingested
from tests.components.grpo.scale_inputs import tiny_params
from tests.conftest import REPO


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model_cache):
    return ingested(tiny_params(model_cache), tmp_path_factory.mktemp("data"))


def measure(params, data_dir, out_dir):
    rewards, _ = training_rewards(params, out_dir / "no-reward-models")
    base = start_policy_dir(params)
    inputs = {"prompts": "fixed"}
    return reward_scales.measure(params, base, train_prompts(data_dir), rewards, out_dir, inputs)


def test_scales_come_from_the_start_policys_rollouts_with_a_fixed_seed_and_are_cached(
    tmp_path, data_dir, model_cache, capsys
):
    params = tiny_params(model_cache)
    scales = measure(params, data_dir, tmp_path)
    assert scales["rollouts"] == 12 and scales["prompts"] == 6
    prompts, completions = reward_scales.start_rollouts(params, start_policy_dir(params), train_prompts(data_dir))
    assert len(prompts) == 12 and prompts[0] == prompts[1]  # each drawn prompt twice
    assert all(c[0]["role"] == "assistant" for c in completions)
    short = [min(1.0, 3 / len(c[0]["content"].split())) if c[0]["content"].split() else 0.0 for c in completions]
    stats = scales["objectives"]["short"]
    within = np.sqrt(np.mean(np.var(np.reshape(short, (6, 2)), axis=1, ddof=1)))  # GRPO's groups: one prompt each
    assert stats["mean"] == pytest.approx(np.mean(short)) and stats["std"] == pytest.approx(within)
    assert stats["std_overall"] == pytest.approx(np.std(short, ddof=1)) and stats["prompts"] == 6
    assert stats["std"] > 0 and not stats["constant"] and scales["objectives"]["anything"]["constant"]

    stored = json.loads((tmp_path / reward_scales.SCALES_FILE).read_text())
    assert stored == scales
    (tmp_path / reward_scales.SCALES_FILE).unlink()
    assert measure(params, data_dir, tmp_path) == scales  # measured again: the same rollouts, the same numbers
    capsys.readouterr()
    assert measure(params, data_dir, tmp_path) == scales
    assert "measured earlier" in capsys.readouterr().out
    assert measure(tiny_params(model_cache, "grpo.temperature=2.0"), data_dir, tmp_path)["key"] != scales["key"]
    assert "measured earlier" not in capsys.readouterr().out  # another sampling setting: measured anew
    shorter = measure(tiny_params(model_cache, "grpo.max_completion_length=2"), data_dir, tmp_path)
    assert shorter["objectives"]["short"]["mean"] > scales["objectives"]["short"]["mean"]
    reseeded = measure(params.model_copy(update={"seed": params.seed + 1}), data_dir, tmp_path)
    assert reseeded["objectives"]["short"] != scales["objectives"]["short"]


def test_rollouts_are_sampled_with_grpotrainers_own_generation_settings(data_dir, model_cache):
    """The GRPOTrainer the grpo step builds (build_trainer), given the step's sampling settings, samples as the
    scales' rollouts do."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig

    from components.grpo.train import build_trainer

    params = tiny_params(model_cache, "grpo.temperature=0.7", "grpo.max_completion_length=5")
    base = start_policy_dir(params)
    rewards, _ = training_rewards(params, REPO / "no-reward-models")
    cfg = params.grpo
    args = GRPOConfig(
        output_dir=str(data_dir / "unused"),
        per_device_train_batch_size=cfg.num_generations,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        use_cpu=True,
        report_to="none",
    )
    trainer, _ = build_trainer(params, base, train_prompts(data_dir), rewards, args)
    ours = reward_scales.generation_config(
        params, AutoModelForCausalLM.from_pretrained(base), AutoTokenizer.from_pretrained(base)
    )
    fields = ("max_new_tokens", "do_sample", "temperature", "top_p", "top_k", "eos_token_id", "pad_token_id")
    assert {f: getattr(ours, f) for f in fields} == {f: getattr(trainer.generation_config, f) for f in fields}
    assert (ours.max_new_tokens, ours.temperature) == (5, 0.7)


def test_standardised_rewards_use_the_scales_and_count_groups_without_variance(model_cache):
    params = tiny_params(model_cache)
    rewards, names = training_rewards(params, REPO / "no-reward-models")
    scales = {
        "objectives": {
            "short": {"mean": 0.5, "std": 0.25, "constant": False},
            "anything": {"mean": 1.0, "std": 0.0, "constant": True},
        }
    }
    short, anything = standardised(rewards, names, scales, group=2)
    replies = ["yes", "I hear you, that is a lot", "ok then", "so sorry"]  # 3/3, 3/7 words; 3/2, 3/2 words
    logged = []

    def log_metric(name, value):  # TRL's `log_metric` reward kwarg
        logged.append((name, value))

    values = short([[{"role": "user", "content": "hi"}]] * 4, replies, log_metric=log_metric)
    assert values == pytest.approx([(1 - 0.5) / 0.25, (3 / 7 - 0.5) / 0.25, 2.0, 2.0])
    assert ("zero_variance_groups/short", 1) in logged  # the second group: both replies within 3 words
    assert anything(["hi"] * 4, replies) == [0.0] * 4  # constant at the start: centred, not divided
    assert short.__name__ == "short" and anything.__name__ == "anything"


def test_zero_variance_groups_follow_trls_test_and_skip_unscored_values():
    values = np.array([1.0, 1.0, 0.2, 0.3, np.nan, 0.5, 0.4, 0.4 + 1e-12])
    assert zero_variance_groups(values, 2) == 3  # constant, varying, one scored value, equal within 1e-8


def test_the_scale_is_the_spread_within_a_prompt_and_unscored_rollouts_are_left_out():
    stats = reward_scales.statistics([0.1, 0.3, None, 0.5, 0.2, 0.2, 0.9, 0.9], group=2)
    # within-prompt variances 0.02, (one scored: skipped), 0, 0 -> pooled std sqrt(0.02 / 3)
    assert stats["std"] == pytest.approx(np.sqrt(0.02 / 3)) and stats["prompts"] == 3 and stats["scored"] == 7
    assert stats["std_overall"] > stats["std"]  # prompt 4 scores higher than the rest: between-prompt spread
    with pytest.raises(ValueError, match="no prompt has two scored start-policy rollouts"):
        reward_scales.statistics([0.1, None, None, 0.4], group=2)
