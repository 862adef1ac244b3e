"""Dynamic reward weighting (Lu et al., arXiv 2509.11452; algorithms.md section 5) as TrainerCallbacks.

Where a lever survives TRL (1.16, `GRPOTrainer._generate_and_score_completions`):
- `sum_then_normalize`: A = (sum_k w_k r_k - group mean) / (group std + 1e-4), or / (batch std + 1e-4) with
  `scale_rewards: batch`. A common factor c on every reward cancels (up to the 1e-4); only with `scale_rewards:
  none` does c reach the advantages.
- `normalize_then_sum`: each reward is z-scored within its group, weighted, summed, and the sum is divided by
  its batch std: c cancels whatever `scale_rewards` says.
- Where c does reach the loss (scale_rewards none), AdamW divides each gradient by its running RMS (beta2 =
  0.999, about the last thousand steps), so a constant factor cancels there too and a varying one acts only
  relative to its own running RMS.
So the paper's `r_i = meta * sum_k w_k s_k` does nothing here (note 5.4). The relative mix of objectives, w_k
against w_j, survives both aggregations; the learning rate multiplies AdamW's normalised update directly.
Hence the two rules act on those two levers:

- HypervolumeMeta (5.1): user preference w fixed; every `update_every` (k) optimizer steps the policy answers a
  fixed set of `validation_prompts` (m) train prompts greedily, each objective scored by its training reward
  (standardised by the start policy's rollouts, reward_scales) and normalised as pareto.Normalisation does
  (start policy's validation means = 0, scale 1: one start-policy reward std). The hypervolume gain of that
  point over the accumulated front B, reference fixed at the start policy, gives meta = 0.5 + 1.5 tanh(gain ...)
  and meta multiplies the learning rate until the next validation. The weights never change.
- GradientWeights (5.2): per-objective policy gradients; log w += step * influence, w = softmax(log w). The
  weights reach TRL as `reward_weights`, i.e. as the relative mix, which survives normalisation.

The state (weights or meta, front, trajectory, validation cost) is written into every checkpoint and read back
on resume; the learning rate's meta factor travels in the optimizer's and scheduler's own checkpointed state.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from transformers import TrainerCallback

from components.common import pareto
from paretoflow import tracking

STATE_FILE = "dynamic_weights.json"


class DynamicWeights(TrainerCallback):
    """Shared plumbing: the reward weights given to the trainer, the trajectory, save/restore with checkpoints."""

    method = ""

    def __init__(self, trainer, objectives: list[str], preference: dict[str, float], update_every: int, audit: int):
        self.trainer = trainer
        self.objectives = objectives
        total = sum(preference[o] for o in objectives)
        self.weights = np.array([preference[o] / total for o in objectives])
        self.update_every = update_every
        self.audit = audit
        self.trajectory: list[dict] = []
        self.apply(step=0)

    def give_weights(self) -> None:
        """Hand the weights to TRL; audit rewards stay at 0."""
        import torch

        self.trainer.reward_weights = torch.tensor([*self.weights.tolist(), *[0.0] * self.audit], dtype=torch.float32)

    def apply(self, step: int, **extra) -> None:
        """Hand the weights to TRL and record them with `extra` for this step (one entry and metric per step)."""
        self.give_weights()
        entry = {"step": step, **dict(zip(self.objectives, self.weights.round(6).tolist())), **extra}
        if self.trajectory and self.trajectory[-1]["step"] == step:
            self.trajectory[-1] |= entry
            return
        self.trajectory.append(entry)
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
        self.give_weights()

    def restore(self, checkpoint: str | Path) -> None:
        path = Path(checkpoint) / STATE_FILE
        if not path.exists():
            raise FileNotFoundError(f"checkpoint {checkpoint} has no {STATE_FILE}; delete it to restart the run")
        self.load_state_dict(json.loads(path.read_text()))

    def summary(self) -> dict:
        """What the run's manifest entry keeps of the adaptation."""
        return {"final_weights": dict(zip(self.objectives, self.weights.tolist()))}


class HypervolumeMeta(DynamicWeights):
    """Algorithm 5.1, hypervolume-guided adaptation: the meta reward of Pareto progress on a validation set.

    Departures from the paper, and why:
    - meta scales the learning rate, not the rewards: TRL's normalisation and AdamW cancel a reward factor (module
      docstring). For plain SGD on REINFORCE the two are the same update.
    - validation every k steps (the paper: every step) on m train prompts (the paper: a held-out set such as
      MATH500): the test split is the front's held-out set and stays unseen; the trainer may draw a validation
      prompt for training too (rarely: m of the train prompts). Greedy decoding, as verl validates by default.
    - the gain enters tanh as gain^(1/K), the side of the cube of equal volume: a volume shrinks as the K-th power
      of the per-objective gains, so with K = 4 and gains of 0.3 std the paper's tanh(gain) = tanh(0.008) would
      hold meta at 0.5 whatever the progress. The paper's extremes stay: 0.5 with no progress, towards 2 with
      much.
    - points are normalised (start policy = 0) and only points better than the start policy in every objective
      add volume (pareto.hypervolume), algorithms.md 5.1 [ours]; the paper raises on negative contributions.
    """

    method = "hypervolume"

    def __init__(self, trainer, objectives, preference, update_every: int, audit: int, validation_prompts: list):
        super().__init__(trainer, objectives, preference, update_every, audit)
        self.prompts = validation_prompts
        self.start: list[float] | None = None  # the start policy's validation means: the fixed reference
        self.front: list[list[float]] = []  # B: normalised points that added volume (never pruned, as the paper)
        self.meta = 1.0  # the paper's initial meta; 1 = the configured learning rate
        self.validation_seconds: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if self.start is None:  # a resumed run has its reference from the checkpoint
            self.start = self.validate().tolist()
            self.apply(step=state.global_step, meta=self.meta, validation=dict.fromkeys(self.objectives, 0.0))

    def on_step_end(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        if state.global_step % self.update_every:
            return
        point = self.normalisation().apply(self.validate())
        gain = progress(np.array(self.front).reshape(-1, len(point)), point)
        if gain > 0:
            self.front.append(point.tolist())
        self.scale_step(meta_reward(gain, len(point)), optimizer, lr_scheduler)
        extra = {"meta": round(self.meta, 6), "hypervolume_gain": gain}
        self.apply(step=state.global_step, **extra, validation=dict(zip(self.objectives, point.round(6).tolist())))
        tracking.log_metrics({"dynamic/meta": self.meta, "dynamic/hypervolume_gain": gain}, step=state.global_step)

    def validate(self) -> np.ndarray:
        """The policy's mean training reward per objective on the validation prompts (greedy), timed."""
        import torch

        from components.common.replies import DecodeSettings, generate_replies

        trainer = self.trainer
        model = trainer.accelerator.unwrap_model(trainer.model)
        started = time.perf_counter()
        model.eval()  # no dropout while validating
        try:
            with torch.random.fork_rng():  # whatever decoding draws, the training run's random stream stays as it was
                decoding = DecodeSettings(
                    max_new_tokens=trainer.max_completion_length, batch_size=len(self.prompts), seed=0
                )
                replies = generate_replies(
                    None, self.prompts, decoding, model=model, tokenizer=trainer.processing_class
                )
        finally:
            model.train()
        completions = [[{"role": "assistant", "content": r.text}] for r in replies]
        funcs = trainer.reward_funcs[: len(self.objectives)]
        values = np.array([np.nanmean(np.array(f(self.prompts, completions), dtype=float)) for f in funcs])
        self.validation_seconds.append(round(time.perf_counter() - started, 3))
        tracking.log_metrics({"dynamic/validation_seconds": self.validation_seconds[-1]})
        return values

    def normalisation(self) -> pareto.Normalisation:
        """Start policy = 0; 1 = one start-policy std of the (standardised) training reward."""
        return pareto.normalisation(self.objectives, self.start, ideal={}, scale=dict.fromkeys(self.objectives, 1.0))

    def scale_step(self, meta: float, optimizer, lr_scheduler) -> None:
        """Learning rate = configured schedule x meta: the current rate at once, and the scheduler's base rates
        for the steps after (LambdaLR-style schedulers multiply them by the schedule's factor)."""
        ratio = meta / self.meta
        for group in optimizer.param_groups:
            group["lr"] *= ratio
        lr_scheduler.base_lrs = [rate * ratio for rate in lr_scheduler.base_lrs]
        lr_scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # what the trainer logs next
        self.meta = meta

    def state_dict(self) -> dict:
        return super().state_dict() | {
            "start": self.start,
            "front": self.front,
            "meta": self.meta,
            "validation_seconds": self.validation_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        self.start, self.front, self.meta = state["start"], state["front"], state["meta"]
        self.validation_seconds = state["validation_seconds"]
        super().load_state_dict(state)

    def summary(self) -> dict:
        seconds = self.validation_seconds
        return super().summary() | {
            "final_meta": self.meta,
            "start_validation": dict(zip(self.objectives, self.start or [])),  # the reference, before normalising
            "front_points": len(self.front),
            "validation_prompts": len(self.prompts),
            "validations": len(seconds),
            "validation_seconds": round(sum(seconds), 2),
            "seconds_per_validation": round(sum(seconds) / len(seconds), 3) if seconds else None,
        }


def progress(front: np.ndarray, point: np.ndarray) -> float:
    """5.1's dHV: the volume `point` adds to the accumulated front, reference the start policy (0)."""
    reference = np.zeros(len(point))
    return max(0.0, pareto.hypervolume(np.vstack([front, point]), reference) - pareto.hypervolume(front, reference))


def meta_reward(gain: float, objectives: int) -> float:
    """5.1's meta = 0.5 + 1.5 tanh(.), of the gain's K-th root (HypervolumeMeta's departures): in [0.5, 2)."""
    return 0.5 + 1.5 * math.tanh(gain ** (1 / objectives))


class GradientWeights(DynamicWeights):
    """Algorithm 5.2, gradient-based weights: objectives whose policy gradient agrees with the total gain weight.

    Departures: the weights start at the preference (the paper: uniform, no preference given); the gradient is of
    the policy-gradient loss at ratio 1 without the KL term (the paper: PPO-clip + KL), over every trainable
    parameter (the LoRA adapters under LoRA; the paper: a layer subset to bound memory); the influence is divided
    by ||sum_j g_j||^2, so `step_size` is scale-free (the paper: eta_t / lambda times the raw dot products, whose
    size depends on the model). It needs the step's batch and per-objective rewards, so it wraps two trainer
    methods to keep the latest ones."""

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
        """5.2's update, influence averaged over `update_every` steps (the paper's weight_accumulation_steps)."""
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
        """5.2's M = G G^T row sums on the latest batch: <g_k, sum_j g_j> per objective."""
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
    """5.2's A_k: each reward column against its own group mean (and std unless `none`), TRL's estimator."""
    import torch

    grouped = rewards.view(-1, group, rewards.size(1))
    centred = grouped - grouped.mean(1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(1, keepdim=True) + 1e-4)
    elif scale == "batch":
        centred = centred / (rewards.std(0) + 1e-4)
    return torch.nan_to_num(centred.view(-1, rewards.size(1)))


def validation_prompts(trainer, count: int, seed: int) -> list:
    """5.1's fixed validation set: `count` prompts of the training dataset, drawn once with the run seed."""
    prompts = trainer.train_dataset["prompt"]
    if count > len(prompts):
        raise ValueError(
            f"grpo.dynamic.validation_prompts is {count} but there are {len(prompts)} train prompts; lower it"
        )
    chosen = np.random.default_rng(seed).choice(len(prompts), size=count, replace=False)
    return [prompts[int(i)] for i in sorted(chosen)]


def make_callback(cfg, trainer, objectives: list[str], preference: dict[str, float], audit: int, seed: int):
    """The callback of `grpo.dynamic` (schema DynamicWeighting) for one run."""
    if cfg.method == "gradient":
        return GradientWeights(trainer, objectives, preference, cfg.update_every, audit, step_size=cfg.step_size)
    prompts = validation_prompts(trainer, cfg.validation_prompts, seed)
    return HypervolumeMeta(trainer, objectives, preference, cfg.update_every, audit, prompts)


def plot_trajectory(trajectory: list[dict], objectives: list[str], title: str):
    """Weights per objective over steps; with hypervolume adaptation, the learning-rate factor meta beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [t["step"] for t in trajectory]
    for o in objectives:
        ax.plot(steps, [t[o] for t in trajectory], marker=".", label=o)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("reward weight")
    if any("meta" in t for t in trajectory):
        meta = ax.twinx()
        meta.plot(steps, [t.get("meta", 1.0) for t in trajectory], color="black", linestyle="--", label="meta")
        meta.set_ylabel("learning-rate factor (meta)")
        meta.set_ylim(0, 2.1)
        meta.legend(fontsize=8, loc="upper right")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    plt.close(fig)
    return fig
