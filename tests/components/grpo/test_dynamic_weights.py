"""Dynamic weighting's rules without training (seconds): the hypervolume meta reward (5.1) acting on the step
size, its validation schedule and checkpointed state, and the gradient rule's pieces (5.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from components.grpo.dynamic_weights import (
    HypervolumeMeta,
    gradient_influence,
    meta_reward,
    objective_advantages,
    progress,
    validation_prompts,
)


class _Trainer:
    """Holds reward_weights like GRPOTrainer does; the callbacks only assign it."""

    reward_weights = None


class _Scripted(HypervolumeMeta):
    """HypervolumeMeta whose validations return scripted means instead of generating."""

    def __init__(self, points, preference=(0.7, 0.3), update_every=2):
        super().__init__(
            _Trainer(), ["a", "b"], dict(zip("ab", preference)), update_every, audit=1, validation_prompts=[]
        )
        self.points = [np.array(p, dtype=float) for p in points]

    def validate(self):
        self.validation_seconds.append(0.01)
        return self.points.pop(0)


def _optimiser(lr=1e-3, steps=10):
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(3))], lr=lr)
    return optimizer, get_linear_schedule_with_warmup(optimizer, 0, steps)


def _step(cb, step, optimizer, scheduler):
    cb.on_step_end(None, type("S", (), {"global_step": step})(), None, optimizer=optimizer, lr_scheduler=scheduler)


def test_progress_counts_only_volume_the_front_lacks_above_the_start_policy():
    empty = np.zeros((0, 2))
    assert progress(empty, np.array([0.2, 0.1])) == pytest.approx(0.02)
    assert progress(empty, np.array([0.2, -0.1])) == 0.0  # worse than the start policy in b: no volume
    front = np.array([[0.2, 0.1]])
    assert progress(front, np.array([0.1, 0.05])) == 0.0  # dominated by the front
    assert progress(front, np.array([0.1, 0.3])) == pytest.approx(0.1 * 0.3 - 0.1 * 0.1)  # a trade-off adds


def test_meta_is_half_without_progress_and_rises_towards_two_whatever_the_objective_count():
    assert meta_reward(0.0, 2) == 0.5
    assert 0.5 < meta_reward(0.01, 2) < meta_reward(0.5, 2) < meta_reward(50.0, 2) < 2.0
    assert meta_reward(0.3**4, 4) == pytest.approx(meta_reward(0.3**2, 2))  # the same per-objective gain


def test_meta_scales_the_learning_rate_on_top_of_the_schedule_without_compounding():
    optimizer, scheduler = _optimiser()
    cb = _Scripted([[0.0, 0.0]])
    for _ in range(3):  # the schedule runs on, as the trainer steps it
        optimizer.step()
        scheduler.step()
    planned = optimizer.param_groups[0]["lr"]
    cb.scale_step(2.0, optimizer, scheduler)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2 * planned)
    assert scheduler.get_last_lr()[0] == pytest.approx(2 * planned)  # the rate the trainer logs
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2 * 1e-3 * 6 / 10)  # step 4 of 10: 2 x linear decay
    cb.scale_step(0.5, optimizer, scheduler)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * 1e-3 * 6 / 10)  # relative to the plan, not to 2x


def test_validation_every_k_steps_against_the_start_policy_moves_meta_and_never_the_weights():
    start = [0.3, 0.3]
    # raw validation means; normalised they are these minus the start policy's
    points = [start, [0.4, 0.5], [0.35, 0.45], [0.2, 0.9], [0.5, 0.4]]
    cb = _Scripted(points, update_every=2)
    optimizer, scheduler = _optimiser()
    cb.on_train_begin(None, type("S", (), {"global_step": 0})(), None)
    assert cb.start == start and cb.meta == 1.0
    metas = {}
    for step in range(1, 9):
        _step(cb, step, optimizer, scheduler)
        metas[step] = cb.meta
        assert cb.trainer.reward_weights.tolist() == pytest.approx([0.7, 0.3, 0.0])  # the preference, always
    assert [t["step"] for t in cb.trajectory] == [0, 2, 4, 6, 8] and metas[1] == 1.0  # validated every 2nd step
    assert metas[2] > 0.5 and len(cb.front) == 2  # steps 2 and 8 added volume
    assert metas[4] == 0.5  # dominated by the step-2 point: no progress, half the step
    assert metas[6] == 0.5  # better in b, worse than the start policy in a: no volume
    assert metas[8] > 0.5  # a trade-off the front lacked
    assert cb.front[0] == pytest.approx([0.1, 0.2])
    assert cb.summary()["validations"] == 5 and cb.summary()["validation_seconds"] == pytest.approx(0.05)


def test_a_restored_run_keeps_its_reference_front_and_meta_and_does_not_revalidate(tmp_path):
    cb = _Scripted([[0.3, 0.3], [0.4, 0.5]], update_every=1)
    optimizer, scheduler = _optimiser()
    cb.on_train_begin(None, type("S", (), {"global_step": 0})(), None)
    _step(cb, 1, optimizer, scheduler)
    (tmp_path / "checkpoint-1").mkdir()
    cb.on_save(type("A", (), {"output_dir": str(tmp_path)})(), type("S", (), {"global_step": 1})(), None)
    restored = _Scripted([])  # no scripted point left: a validation would fail
    restored.restore(tmp_path / "checkpoint-1")
    restored.on_train_begin(None, type("S", (), {"global_step": 1})(), None)
    assert (restored.start, restored.front, restored.meta) == (cb.start, cb.front, cb.meta)
    assert restored.trajectory == cb.trajectory and restored.validation_seconds == cb.validation_seconds


def test_validation_prompts_are_a_fixed_seeded_draw_of_the_train_prompts():
    trainer = type("T", (), {"train_dataset": {"prompt": [f"p{i}" for i in range(20)]}})()
    first = validation_prompts(trainer, 5, seed=3)
    assert first == validation_prompts(trainer, 5, seed=3) and len(set(first)) == 5
    assert first != validation_prompts(trainer, 5, seed=4)
    with pytest.raises(ValueError, match="validation_prompts is 21"):
        validation_prompts(trainer, 21, seed=3)


def test_gradient_influence_rewards_aligned_objectives():
    torch.manual_seed(0)
    shared = torch.randn(50)
    grads = [shared + 0.1 * torch.randn(50), shared + 0.1 * torch.randn(50), -0.5 * shared]
    influence = gradient_influence(grads)
    assert influence.sum() == pytest.approx(1.0)
    assert influence[0] > 0 and influence[1] > 0 and influence[2] < 0
    assert gradient_influence([torch.zeros(5), torch.zeros(5)]).tolist() == [0.0, 0.0]


def test_objective_advantages_normalise_each_objective_within_its_group():
    rewards = torch.tensor([[1.0, 0.0], [3.0, 0.0], [10.0, 1.0], [20.0, 3.0]])
    adv = objective_advantages(rewards, group=2, scale="group")
    assert torch.allclose(adv.view(2, 2, 2).mean(1), torch.zeros(2, 2), atol=1e-6)
    assert adv[0, 0] == pytest.approx(-adv[1, 0]) and adv[0, 1] == 0  # a constant reward gives no signal
    assert objective_advantages(rewards, 2, "none")[2, 0] == pytest.approx(-5.0)
