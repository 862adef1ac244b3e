"""Dynamic reward weighting (algorithms.md section 5) as TrainerCallbacks that rewrite GRPOTrainer.reward_weights.

Both keep the weights on the simplex. A global multiplier of every reward cancels under TRL's std-normalised
advantages (section 5.4), so the hypervolume-guided variant turns the paper's one meta reward into one per
objective: only the relative mix of objectives changes, and that mix survives normalisation.

- hypervolume (5.1): every `update_every` steps the mean reward per objective over that window is a point v.
  The hypervolume gain of v over the buffer of earlier non-dominated points, relative to the buffer's
  hypervolume, is shared among the objectives that rose in the window:
  meta_k = 0.5 + 1.5 tanh(rel_gain * K * share_k), w = normalise(preference * meta). Objectives that drive
  Pareto progress gain up to 4x over stagnant ones; with no progress the weights fall back to the preference.
  The paper's reference is the first point; with several noisy objectives a later point rarely beats it in
  all of them at once and the weights would never move, so the reference here sits just below every point
  seen so far, and any point the buffer does not dominate counts as progress.
- gradient (5.2): per-objective advantages (same group baseline and scaling as TRL) give per-objective policy
  gradients g_k over the trainable parameters (the LoRA adapters under LoRA); influence_k = <g_k, sum_j g_j>,
  divided by ||sum_j g_j||^2 so the step is scale-free; log w += step_size * influence; w = softmax(log w).

The state (weights, trajectory, buffer) is written into every checkpoint and read back on resume.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from transformers import TrainerCallback

from components.common import pareto
from paretoflow import tracking

STATE_FILE = "dynamic_weights.json"
# The reference sits this far below the lowest point seen, so a tied (saturated) objective adds no zero volume.
REFERENCE_MARGIN = 1e-3


class DynamicWeights(TrainerCallback):
    """Shared plumbing: apply weights to the trainer, record the trajectory, save/restore with checkpoints."""

    method = ""

    def __init__(self, trainer, objectives: list[str], preference: dict[str, float], update_every: int, audit: int):
        self.trainer = trainer
        self.objectives = objectives
        total = sum(preference[o] for o in objectives)
        self.preference = np.array([preference[o] / total for o in objectives])
        self.weights = self.preference.copy()
        self.update_every = update_every
        self.audit = audit
        self.trajectory: list[dict] = []
        self.apply(step=0)

    def apply(self, step: int) -> None:
        import torch

        self.trainer.reward_weights = torch.tensor([*self.weights.tolist(), *[0.0] * self.audit], dtype=torch.float32)
        if not self.trajectory or self.trajectory[-1]["step"] != step:
            self.trajectory.append({"step": step, **dict(zip(self.objectives, self.weights.round(6).tolist()))})
        tracking.log_metrics({f"weight/{o}": w for o, w in zip(self.objectives, self.weights)}, step=step)

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            (folder / STATE_FILE).write_text(json.dumps(self.state_dict(), indent=2) + "\n")

    def state_dict(self) -> dict:
        return {"method": self.method, "weights": self.weights.tolist(), "trajectory": self.trajectory}

    def load_state_dict(self, state: dict) -> None:
        self.weights = np.array(state["weights"])
        self.trajectory = state["trajectory"]
        self.apply(step=self.trajectory[-1]["step"] if self.trajectory else 0)

    def restore(self, checkpoint: str | Path) -> None:
        path = Path(checkpoint) / STATE_FILE
        if not path.exists():
            raise FileNotFoundError(f"checkpoint {checkpoint} has no {STATE_FILE}; delete it to restart the run")
        self.load_state_dict(json.loads(path.read_text()))

    def final(self) -> dict[str, float]:
        return dict(zip(self.objectives, self.weights.tolist()))


class HypervolumeWeights(DynamicWeights):
    method = "hypervolume"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.window: list[list[float]] = []
        self.reference: list[float] | None = None
        self.buffer: list[list[float]] = []
        self.last: list[float] | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        keys = [f"rewards/{o}/mean" for o in self.objectives]
        if not logs or not all(k in logs for k in keys):
            return
        self.window.append([float(logs[k]) for k in keys])
        if len(self.window) >= self.update_every:
            self.weights = self.update(np.mean(self.window, axis=0))
            self.window = []
            self.apply(step=state.global_step)

    def update(self, point: np.ndarray) -> np.ndarray:
        """New weights from this window's mean rewards (see the module docstring)."""
        if self.reference is None:
            self.reference, self.last = (point - REFERENCE_MARGIN).tolist(), point.tolist()
            self.buffer = [point.tolist()]
            return self.preference.copy()
        reference = np.minimum(np.array(self.reference), point - REFERENCE_MARGIN)
        self.reference = reference.tolist()
        buffer = np.array(self.buffer).reshape(-1, len(point))
        before = pareto.hypervolume(buffer, reference)
        gain = max(0.0, pareto.hypervolume(np.vstack([buffer, point]), reference) - before)
        relative = gain / before if before > 0 else float(gain > 0)
        rise = np.maximum(0.0, point - np.array(self.last))
        share = rise / rise.sum() if rise.sum() > 0 else np.zeros_like(rise)
        meta = 0.5 + 1.5 * np.tanh(relative * len(point) * share)
        if gain > 0:
            self.buffer.append(point.tolist())
        self.last = point.tolist()
        weights = self.preference * meta
        return weights / weights.sum()

    def state_dict(self) -> dict:
        return super().state_dict() | {
            "window": self.window,
            "reference": self.reference,
            "buffer": self.buffer,
            "last": self.last,
        }

    def load_state_dict(self, state: dict) -> None:
        self.window, self.reference = state["window"], state["reference"]
        self.buffer, self.last = state["buffer"], state["last"]
        super().load_state_dict(state)


class GradientWeights(DynamicWeights):
    """Needs the step's batch and per-objective rewards: it wraps two trainer methods to keep the latest ones."""

    method = "gradient"

    def __init__(self, *args, step_size: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.step_size = step_size
        self.log_weights = np.log(self.weights)
        self.influence: list[np.ndarray] = []
        self._batch = None
        self._rewards = None
        generate, rewards = self.trainer._generate_and_score_completions, self.trainer._calculate_rewards

        def keep_batch(*a, **kw):
            self._batch = generate(*a, **kw)
            return self._batch

        def keep_rewards(*a, **kw):
            self._rewards = rewards(*a, **kw)
            return self._rewards

        self.trainer._generate_and_score_completions = keep_batch
        self.trainer._calculate_rewards = keep_rewards

    def on_step_end(self, args, state, control, **kwargs):
        if self._batch is None or self._rewards is None:
            return
        self.influence.append(self.batch_influence())
        if len(self.influence) >= self.update_every:
            self.log_weights = self.log_weights + self.step_size * np.mean(self.influence, axis=0)
            self.log_weights -= self.log_weights.max()
            self.weights = np.exp(self.log_weights) / np.exp(self.log_weights).sum()
            self.influence = []
            self.apply(step=state.global_step)

    def batch_influence(self) -> np.ndarray:
        """The objectives' gradient influence on the latest batch (policy-gradient loss at ratio 1)."""
        import torch

        trainer, batch = self.trainer, self._batch
        k = len(self.objectives)
        local = len(batch["completion_ids"])  # rewards are gathered over processes; this process's rows
        start = trainer.accelerator.process_index * local
        rewards = self._rewards[start : start + local, :k].float().cpu()
        advantages = objective_advantages(rewards, trainer.num_generations, trainer.scale_rewards)
        model = trainer.model
        params = [p for p in model.parameters() if p.requires_grad]
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        logps, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, batch["completion_ids"].size(1))
        cmask = batch["completion_mask"].float()
        sequence = (logps * cmask).sum(1) / cmask.sum(1).clamp(min=1)
        grads = []
        for j in range(k):
            loss = -(advantages[:, j].to(sequence.device) * sequence).mean()
            g = torch.autograd.grad(loss, params, retain_graph=j < k - 1, allow_unused=True)
            flat = [(x if x is not None else torch.zeros_like(p)).flatten() for x, p in zip(g, params)]
            grads.append(torch.cat(flat))
        influence = torch.tensor(gradient_influence(grads), device=trainer.accelerator.device)
        return trainer.accelerator.reduce(influence, reduction="mean").cpu().numpy()  # same weights on every process

    def state_dict(self) -> dict:
        influence = [i.tolist() for i in self.influence]
        return super().state_dict() | {"log_weights": self.log_weights.tolist(), "influence": influence}

    def load_state_dict(self, state: dict) -> None:
        self.log_weights = np.array(state["log_weights"])
        self.influence = [np.array(i) for i in state["influence"]]
        super().load_state_dict(state)


def gradient_influence(grads: list) -> np.ndarray:
    """<g_k, sum_j g_j> / ||sum_j g_j||^2 for flat per-objective gradients (they sum to 1; 0 without signal)."""
    import torch

    total = torch.stack(grads).sum(0).double()
    scale = float(total @ total)
    if scale <= 0 or not math.isfinite(scale):
        return np.zeros(len(grads))
    return np.array([float(g.double() @ total) / scale for g in grads])


def objective_advantages(rewards, group: int, scale: str):
    """Per-objective GRPO advantages: each reward column against its own group mean (and std unless `none`)."""
    import torch

    grouped = rewards.view(-1, group, rewards.size(1))
    centred = grouped - grouped.mean(1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(1, keepdim=True) + 1e-4)
    elif scale == "batch":
        centred = centred / (rewards.std(0) + 1e-4)
    return torch.nan_to_num(centred.view(-1, rewards.size(1)))


def make_callback(method: str, trainer, objectives, preference, update_every: int, step_size: float, audit: int):
    if method == "gradient":
        return GradientWeights(trainer, objectives, preference, update_every, audit, step_size=step_size)
    return HypervolumeWeights(trainer, objectives, preference, update_every, audit)


def plot_trajectory(trajectory: list[dict], objectives: list[str], title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for o in objectives:
        ax.plot([t["step"] for t in trajectory], [t[o] for t in trajectory], marker=".", label=o)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("reward weight")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
