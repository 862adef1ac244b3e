"""The CPU fast path of training: bf16 rollouts from a synced copy, and the LM head scoring labelled positions only."""

from __future__ import annotations

import pytest
import torch

from components.common.fused_head import score_labelled_positions, scores_labelled_positions_only
from components.common.precision import bf16_rollouts, use_bf16


@pytest.fixture
def tiny_lm(model_cache):
    from transformers import AutoModelForCausalLM

    from components.common.model_store import policy_dir
    from paretoflow.schema import TinyModel

    path = policy_dir(TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2), model_cache)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


def test_precision_settings():
    assert use_bf16("bf16") and not use_bf16("fp32")


def test_rollouts_sample_from_a_bf16_copy_that_follows_the_trained_weights(tiny_lm):
    import copy

    prompt = torch.tensor([[5, 6, 7, 8]])
    reference = copy.deepcopy(tiny_lm)
    bf16_rollouts(tiny_lm)
    with torch.no_grad():
        for p in tiny_lm.parameters():  # an optimizer step: the next rollout must see it
            p.add_(0.05 * torch.randn_like(p))
        for p_ref, p in zip(reference.parameters(), tiny_lm.parameters(), strict=True):
            p_ref.copy_(p)
    expected = reference.to(torch.bfloat16).generate(prompt, max_new_tokens=6, do_sample=False)
    assert torch.equal(tiny_lm.generate(prompt, max_new_tokens=6, do_sample=False), expected)
    assert all(p.dtype == torch.float32 for p in tiny_lm.parameters())  # training keeps fp32 weights
    assert set(tiny_lm.state_dict()) == set(reference.state_dict())  # the copy is never saved with the policy


def test_scoring_labelled_positions_only_keeps_log_probs_and_gradients(tiny_lm):
    from trl.trainer.utils import add_fused_lm_head

    add_fused_lm_head(tiny_lm, outputs=("log_probs", "entropy"))
    ids = torch.randint(3, 100, (2, 12))
    labels = ids.clone()
    labels[:, :8] = -100  # the prompt carries no label

    def run():
        tiny_lm.zero_grad()
        out = tiny_lm(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        return out.log_probs.detach(), [p.grad.clone() for p in tiny_lm.parameters()]

    try:
        score_labelled_positions(False)
        assert not scores_labelled_positions_only()
        every_position = run()
        score_labelled_positions()
        assert scores_labelled_positions_only()
        labelled_only = run()
    finally:
        score_labelled_positions()
    torch.testing.assert_close(labelled_only[0], every_position[0])
    for a, b in zip(labelled_only[1], every_position[1], strict=True):
        torch.testing.assert_close(a, b)
