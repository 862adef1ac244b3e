"""grpo.precision: bf16 trains with fp32 weights under autocast and samples from a synced bf16 copy on a CPU;
fp32 leaves the trainer as TRL builds it."""

from __future__ import annotations

import pytest
import torch

from components.common.model_store import policy_dir
from components.grpo.rewards import training_rewards
from components.grpo.train import Run, _trainer, train_prompts
from tests.components.grpo.test_train import data_dir, tiny_params  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_precision_decides_autocast_and_rollout_copy(tmp_path, data_dir, model_cache, precision):  # noqa: F811
    params = tiny_params(model_cache, f"grpo.precision={precision}", "grpo.max_steps=1")
    rewards, _ = training_rewards(params, tmp_path)
    run = Run("policy-0", params.grpo.weights[0], "sweep", 1)
    base = policy_dir(params.policy, params.cache_dir)
    trainer, _ = _trainer(params, run, base, train_prompts(data_dir), rewards, tmp_path / "out")
    bf16 = precision == "bf16"
    assert trainer.args.bf16 is bf16
    assert ("generate" in vars(trainer.model)) is bf16  # the bf16 rollout copy replaces generate on a CPU
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    after = trainer.model.state_dict()
    assert all(v.dtype == torch.float32 for v in after.values())  # master weights stay fp32
    assert any(not torch.equal(before[k], after[k]) for k in before)
