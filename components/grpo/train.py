"""grpo: candidate policies for the Pareto front with TRL's GRPOTrainer, one reward function per objective.

`grpo.strategy` decides how the candidates come about (each lands in out_dir/<name> as a plain transformers
model, listed in manifest.json with its weights and strategy):
- sweep: one run per weight vector (`grpo.weights`, or `grpo.sweep_points` spread over the simplex);
- dynamic: one run per weight vector, whose reward weights a callback adapts during training (dynamic_weights);
- soup: one specialist per objective, then one soup per weight vector, mixed from the specialists (soups).
Runs checkpoint every `grpo.save_steps`; a re-run skips finished policies and resumes the others
(grpo_checkpoints). With `grpo.lora` the adapters are trained and the export is the merged model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from components.common.fused_head import score_labelled_positions
from components.common.lora import lora_config
from components.common.messages import latest_turns
from components.common.precision import bf16_rollouts, use_bf16
from components.common.replies import stop_token_ids
from components.data.canonical import read_table
from components.grpo import checkpoints as ckpt
from components.grpo import reward_scales
from components.grpo.compute import dispatch as compute
from components.grpo.compute.environment import require_cuda_for_vllm, vllm_args
from components.grpo.rewards import (
    audit_objectives,
    completion_samples_callback,
    full_weights,
    standardised,
    training_rewards,
    unfinished_as_worst,
    zero_variance_summary,
)
from components.seeker import rollout as multiturn
from components.seeker.simulator import seeker_for
from components.sft.start import start_policy_dir
from paretoflow import paths, tracking
from paretoflow.code_deps import code_version
from paretoflow.hashing import dvc_md5, text_sha
from paretoflow.schema import Params
from paretoflow.step_params import SECTIONS, result_settings

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Run:
    """One GRPO training run (a candidate itself, or a soup ingredient)."""

    name: str
    weights: dict[str, float]
    strategy: str
    steps: int
    extra: dict = field(default_factory=dict)

    @property
    def dynamic(self) -> bool:
        """Its reward weights adapt during training."""
        return self.strategy == "dynamic"


def train_policies(
    params: Params,
    data_dir: Path = paths.DATA,
    reward_models_dir: Path = paths.REWARD_MODELS,
    out_dir: Path = paths.POLICIES,
) -> dict:
    remote = compute.dispatch(params, data_dir, reward_models_dir, out_dir)  # accelerate / sagemaker targets
    if remote is not None:
        return remote
    return train_candidates(params, data_dir, reward_models_dir, out_dir)


def train_candidates(params: Params, data_dir: Path, reward_models_dir: Path, out_dir: Path) -> dict:
    """Every run of the strategy (finished ones skipped), the soups, and the manifest: the step's whole work,
    callable in process or from a job entry point."""
    require_cuda_for_vllm(params)
    data_dir, reward_models_dir, out_dir = Path(data_dir), Path(reward_models_dir), Path(out_dir)
    train = train_prompts(data_dir, params.grpo.prompt_sources)
    tracking.log_table_input(train, data_dir / "prompts.parquet", "prompts-train", "training")
    rewards, names = training_rewards(params, reward_models_dir)
    if multiturn.enabled(params):  # whole conversations: per-reply rewards averaged over the policy's turns
        rewards = [multiturn.over_turns(f) for f in rewards]
    base = start_policy_dir(params, reward_models_dir.parent / paths.SFT.name)
    train = latest_context(train, base, params.grpo.max_prompt_tokens)
    runs = plan(params)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # written last: an interrupted step never looks complete
    _remove_strays(out_dir, {r.name for r in runs} | {n for n, _ in soup_plan(params)})
    inputs = {"prompts": dvc_md5(data_dir / "prompts.parquet")}
    if params.sft.enabled:  # the start policy is an output of the sft step
        inputs["start_policy"] = dvc_md5(base)
    scored_by = {o.scorer for o in [*params.objectives, *audit_objectives(params)]}
    if "reward_model" in scored_by:
        inputs["reward_models"] = dvc_md5(reward_models_dir)
    if "rubric" in scored_by:  # the rubric rewards read the rubrics step's table, when there
        rubrics = reward_models_dir.parent / "rubrics"
        inputs["rubrics"] = dvc_md5(rubrics) if rubrics.exists() else None
    scales = reward_scales.measure(params, base, train, rewards[: len(params.objectives)], out_dir, inputs)
    rewards = standardised(rewards, names, scales, params.grpo.num_generations)
    if params.grpo.unfinished == "worst_in_group":
        if multiturn.enabled(params):
            print("grpo: grpo.unfinished applies to single replies; whole conversations are scored as they end")
        else:
            stops = completion_stops(base)
            rewards = unfinished_as_worst(rewards, names, params.objective_names, stops, params.grpo.num_generations)
    inputs["reward_scales"] = reward_scales.digest(scales)
    manifest, skipped = [], 0
    for run in runs:
        with tracking.child_run(f"grpo/{run.name}"):
            tracking.log_params({f"weight.{k}": v for k, v in run.weights.items()} | {"strategy": run.strategy})
            result = _train_one(params, run, base, train, rewards, names, out_dir / run.name, inputs)
        skipped += result.pop("skipped")
        manifest.append({"name": run.name, "weights": run.weights, "strategy": run.strategy, **run.extra, **result})
    if params.grpo.strategy == "soup":
        manifest += _soups(params, out_dir)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {
        "policies": len(manifest),
        "trained": len(runs) - skipped,
        "skipped_finished": skipped,
        "strategy": params.grpo.strategy,
        "start_policy": str(base),
    }


def completion_stops(policy) -> set[int]:
    """The token ids that end a completion for TRL (its eos ids and pad id: `mask_truncated_completions`' test)
    and the template's turn markers."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(policy)
    config = GenerationConfig.from_pretrained(policy) if (Path(policy) / "generation_config.json").exists() else None
    return set(stop_token_ids(tokenizer, config)) | ({tokenizer.eos_token_id, tokenizer.pad_token_id} - {None})


def train_prompts(data_dir: Path, sources: list[str] = ()):
    """The train split of the ingested prompts (of `sources` only, when named: grpo.prompt_sources), in id order."""
    prompts = read_table(data_dir / "prompts.parquet")
    train = prompts[prompts["split"] == "train"].sort_values("id")
    if sources:
        train = train[train["source"].isin(sources)]
    if train.empty:
        where = f" of grpo.prompt_sources {list(sources)}" if sources else ""
        raise ValueError(
            f"no train prompts{where} to optimise on; add prompt rows to data.sources "
            f"(sources with prompts: {sorted(prompts['source'].unique())})"
        )
    return train


def latest_context(train, base, max_tokens: int):
    """Each train dialogue cut to its latest turns that fit `max_tokens` (ESConv's run to thousands of tokens: a
    step's memory and time grow with them); a dialogue whose last seeker turn alone does not fit is left out, and
    the counts are printed."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    kept = [latest_turns(list(p), tokenizer, max_tokens) for p in train["prompt"]]
    cut = sum(k is not None and len(k) < len(p) for k, p in zip(kept, train["prompt"]))
    dropped = sum(k is None for k in kept)
    print(
        f"grpo: {len(train)} train prompts; {cut} cut to their latest turns within "
        f"grpo.max_prompt_tokens={max_tokens}, {dropped} left out (the last seeker turn alone is longer)",
        flush=True,
    )
    if dropped == len(train):
        raise ValueError(f"every train prompt is longer than grpo.max_prompt_tokens={max_tokens}; raise it")
    train = train.assign(prompt=kept)
    return train[[k is not None for k in kept]]


# --- planning -----------------------------------------------------------------------------------


def weight_vectors(params: Params) -> list[dict[str, float]]:
    """`grpo.weights`, or `grpo.sweep_points` vectors spread over the simplex."""
    if params.grpo.sweep_points is None:
        return [dict(w) for w in params.grpo.weights]
    points = simplex_points(len(params.objectives), params.grpo.sweep_points)
    return [dict(zip(params.objective_names, map(float, p))) for p in points]


def simplex_points(objectives: int, count: int) -> np.ndarray:
    """`count` well-spread weight vectors: the coarsest simplex lattice (Das-Dennis) with enough points, thinned
    by farthest-point sampling that starts next to the uniform weights."""
    from math import comb

    from components.common.pareto import weight_grid

    if count == 1:
        return np.full((1, objectives), 1 / objectives)
    steps = 1
    while comb(steps + objectives - 1, objectives - 1) < count:
        steps += 1
    grid = weight_grid(objectives, steps)
    chosen = [int(np.abs(grid - 1 / objectives).sum(axis=1).argmin())]
    distance = np.linalg.norm(grid - grid[chosen[0]], axis=1)
    while len(chosen) < count:
        chosen.append(int(distance.argmax()))
        distance = np.minimum(distance, np.linalg.norm(grid - grid[chosen[-1]], axis=1))
    return np.round(grid[chosen], 6)


def plan(params: Params) -> list[Run]:
    """The training runs of the strategy, in order."""
    cfg = params.grpo
    if cfg.strategy == "soup":
        steps = cfg.soup.specialist_steps or cfg.max_steps
        return [
            Run(
                specialist_name(o),
                {k: float(k == o) for k in params.objective_names},
                "soup",
                steps,
                extra={"role": "specialist"},
            )
            for o in params.objective_names
        ]
    dynamic = cfg.strategy == "dynamic"
    prefix = "dynamic" if dynamic else "policy"
    extra = {"dynamic_method": cfg.dynamic.method} if dynamic else {}
    return [
        Run(f"{prefix}-{i}", w, cfg.strategy, cfg.max_steps, dict(extra)) for i, w in enumerate(weight_vectors(params))
    ]


def specialist_name(objective: str) -> str:
    return f"specialist-{objective}"


def soup_plan(params: Params) -> list[tuple[str, dict[str, float]]]:
    """Soups at the mixing vectors; a one-hot vector is a specialist already (listed as a candidate itself)."""
    if params.grpo.strategy != "soup":
        return []
    mixes = [w for w in weight_vectors(params) if sorted(w.values())[-2] > 0]
    return [(f"soup-{i}", w) for i, w in enumerate(mixes)]


def _soups(params: Params, out_dir: Path) -> list[dict]:
    """Each mixing vector -> one soup of the specialists; no training."""
    from components.grpo.soups import make_soup

    specialists = [out_dir / specialist_name(o) for o in params.objective_names]
    entries = []
    for name, weights in soup_plan(params):
        make_soup(specialists, [weights[o] for o in params.objective_names], out_dir / name)
        (out_dir / name / "weights.json").write_text(json.dumps(weights, indent=2, sort_keys=True) + "\n")
        entries.append({"name": name, "weights": weights, "strategy": "soup", "role": "soup"})
    return entries


def _remove_strays(out_dir: Path, keep: set[str]) -> None:
    """Policy directories of an earlier plan (other weights or strategy) are not candidates any more."""
    for path in out_dir.iterdir():
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path)


def fingerprint(params: Params, run: Run, inputs: dict) -> str:
    """What shapes a run's result: the grpo step's declared params (of `grpo`, neither the bookkeeping settings,
    so a changed checkpoint interval resumes instead of retraining, nor the plan, which enters as the run itself),
    the code the step reaches, the training libraries' versions, and the run's inputs."""
    left_out = PLANNED | ({"dynamic"} if not run.dynamic else set())
    payload = {
        "run": {"weights": run.weights, "steps": run.steps, "dynamic": run.dynamic},
        "grpo": result_settings(params.grpo, exclude=left_out),
        "rest": params.model_dump(mode="json", include=set(SECTIONS["grpo"]) - {"grpo"}),
        "code": code_version(__name__),
        "libraries": {name: metadata.version(name) for name in TRAINING_LIBRARIES},
        "inputs": inputs,
    }
    return text_sha(json.dumps(payload, sort_keys=True), length=16)


# Grpo settings that say which runs there are: each run's own weights and steps carry them into its fingerprint,
# so adding a weight vector trains the new run only.
PLANNED = frozenset({"weights", "sweep_points", "strategy", "max_steps", "soup"})
TRAINING_LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")


# --- one run ------------------------------------------------------------------------------------


def _train_one(params: Params, run: Run, base, train, rewards, names, out: Path, inputs: dict) -> dict:
    state, checkpoint = ckpt.run_state(out, fingerprint(params, run, inputs))
    if state == "finished":
        print(f"grpo {run.name}: finished earlier, skipped", flush=True)
        return json.loads((out / ckpt.FINISHED).read_text()) | {"skipped": 1}
    if checkpoint is not None:
        print(f"grpo {run.name}: resuming from {checkpoint.name}", flush=True)
    trainer, tokenizer = _trainer(params, run, base, train, rewards, out)
    dynamic = _dynamic_callback(params, run, trainer, names)
    if dynamic is not None and checkpoint is not None:
        dynamic.restore(checkpoint)
    if params.grpo.log_completions_every:
        trainer.add_callback(
            completion_samples_callback(trainer, params.grpo.log_completions_every, params.grpo.completions_logged)
        )
    trainer.add_callback(ckpt.CheckpointMarker())
    stop = ckpt.StopOnSigterm()
    trainer.add_callback(stop)
    trainer.add_callback(ckpt.NoFinalCheckpoint(stop))
    with stop.installed():
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if stop.requested:
        raise RuntimeError(
            f"grpo {run.name} stopped by SIGTERM at step {trainer.state.global_step}; its checkpoint is in "
            f"{out / ckpt.CHECKPOINTS}; run the step again to resume"
        )
    _export(trainer, tokenizer, out, lora=params.grpo.lora is not None)
    curves = _curves(trainer.state.log_history, params.objective_names + names[len(params.objectives) :])
    (out / "curves.json").write_text(json.dumps(curves, indent=2) + "\n")
    (out / "weights.json").write_text(json.dumps(run.weights, indent=2, sort_keys=True) + "\n")
    tracking.log_figure(_plot_curves(curves, names), "reward_curves.png")
    flat = zero_variance_summary(trainer.state.log_history, params.objective_names)
    groups = trainer.state.global_step * params.grpo.prompts_per_step
    print(f"grpo {run.name}: groups (of {groups}) where an objective did not vary, so had no say: {flat}", flush=True)
    summary = {
        "final_rewards": curves[-1] if curves else {},
        "steps": trainer.state.global_step,
        "groups": groups,
        "zero_variance_groups": flat,
    }
    if dynamic is not None:
        from components.grpo.dynamic_weights import plot_trajectory

        (out / "weight_trajectory.json").write_text(json.dumps(dynamic.trajectory, indent=2) + "\n")
        title = f"{run.name}: reward weights ({dynamic.method})"
        tracking.log_figure(plot_trajectory(dynamic.trajectory, params.objective_names, title), "weights.png")
        tracking.log_dict({"trajectory": dynamic.trajectory}, "weight_trajectory.json")
        summary |= dynamic.summary()
    ckpt.mark_finished(out, summary)
    return summary | {"skipped": 0}


def _trainer(params: Params, run: Run, base, train, rewards, out: Path):
    import torch
    from trl import GRPOConfig

    cfg = params.grpo
    args = GRPOConfig(
        output_dir=str(out / ckpt.CHECKPOINTS),
        max_steps=run.steps,
        **problem_arguments(params),
        reward_weights=full_weights(run.weights, params),
        multi_objective_aggregation=cfg.multi_objective_aggregation,
        scale_rewards=cfg.scale_rewards,
        bf16=use_bf16(cfg.precision),  # autocast over fp32 weights and optimizer states (mixed precision)
        activation_checkpointing=False,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        **vllm_args(params),
    )
    trainer, tokenizer = build_trainer(params, base, train, rewards, args)
    tracking.trainer_callbacks(trainer, *(f"rewards/{o}/mean" for o in params.objective_names))
    return trainer, tokenizer


def problem_arguments(params: Params) -> dict:
    """The GRPOConfig fields that pose a step's problem (batch, completions, learning rate, beta, temperature, seed),
    apart from how the step runs: the step-time benchmark's raw TRL arm takes them from here to pose the same one."""
    cfg = params.grpo
    return {
        "per_device_train_batch_size": cfg.num_generations * cfg.prompts_per_step,
        "num_generations": cfg.num_generations,
        "max_completion_length": cfg.max_completion_length,
        "learning_rate": cfg.learning_rate,
        "beta": cfg.beta,
        "temperature": cfg.temperature,
        "seed": params.seed,
    }


def build_trainer(params: Params, base, train, rewards, args):
    """GRPOTrainer and its tokenizer for `args`, with no callbacks beyond TRL's (the step-time benchmark wraps
    it to time the pipeline's trainer)."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.padding_side = "left"
    score_labelled_positions()
    trainer = GRPOTrainer(
        model=str(base),
        reward_funcs=rewards,
        args=args,
        train_dataset=Dataset.from_dict({"prompt": list(train["prompt"])}),
        processing_class=tokenizer,
        peft_config=lora_config(params.grpo.lora),
        rollout_func=multiturn.make_rollout(seeker_for(params), train) if multiturn.enabled(params) else None,
    )
    if args.bf16 and args.use_cpu and not args.use_vllm and params.grpo.lora is None:
        bf16_rollouts(trainer.model)  # autocast would re-cast every weight for every sampled token
    return trainer, tokenizer


def _dynamic_callback(params: Params, run: Run, trainer, names: list[str]):
    if not run.dynamic:
        return None
    from components.grpo.dynamic_weights import make_callback

    audit = len(names) - len(params.objectives)
    callback = make_callback(params.grpo.dynamic, trainer, params.objective_names, run.weights, audit, params.seed)
    trainer.add_callback(callback)
    return callback


def _export(trainer, tokenizer, out: Path, lora: bool) -> None:
    """A plain transformers directory: LoRA adapters merged into the base weights (merge_and_unload)."""
    if lora:
        merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        merged.save_pretrained(out)
        tokenizer.save_pretrained(out)
    else:
        trainer.save_model(str(out))


def _curves(history: list[dict], names: list[str]) -> list[dict]:
    """Per-step mean reward of every reward function, and the learning rate (it shows a resumed scheduler)."""
    return [
        {"step": e["step"], "learning_rate": e.get("learning_rate")}
        | {o: e[f"rewards/{o}/mean"] for o in names if f"rewards/{o}/mean" in e}
        for e in history
        if "step" in e and any(k.startswith("rewards/") for k in e)
    ]


def _plot_curves(curves: list[dict], objectives: list[str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for o in objectives:
        ax.plot([c["step"] for c in curves], [c.get(o) for c in curves], marker="o", label=o)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("mean reward (standardised; 0 = start policy)")
    ax.set_title("GRPO reward per objective")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
