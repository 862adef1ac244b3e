"""grpo: one policy per weight vector with TRL's GRPOTrainer and one reward function per objective.

TRL combines the per-objective rewards as a weighted sum (`reward_weights`) before group
normalisation; each policy logs its per-objective reward curves to its own nested MLflow run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from components.canonical import read_table
from components.models import policy_dir
from components.scorers import reward_functions
from paretoflow import tracking
from paretoflow.config import Params

DATA_DIR = Path("artifacts/data")
REWARD_MODELS_DIR = Path("artifacts/reward_models")
OUT_DIR = Path("artifacts/policies")


def policy_name(index: int) -> str:
    return f"policy-{index}"


def train_policies(
    params: Params,
    data_dir: Path = DATA_DIR,
    reward_models_dir: Path = REWARD_MODELS_DIR,
    out_dir: Path = OUT_DIR,
) -> dict:
    prompts = read_table(data_dir / "prompts.parquet")
    train = prompts[prompts["split"] == "train"].sort_values("id")
    if train.empty:
        raise ValueError("no train prompts to optimise on; add prompt rows to data.sources")
    tracking.log_table_input(train, data_dir / "prompts.parquet", "prompts-train", "training")
    rewards = reward_functions(params, reward_models_dir)
    base = policy_dir(params.grpo.policy, params.cache_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    manifest = []
    for i, weights in enumerate(params.grpo.weights):
        name = policy_name(i)
        with tracking.child_run(f"grpo/{name}"):
            tracking.log_params({f"weight.{k}": v for k, v in weights.items()})
            final = _train_one(params, base, train, rewards, weights, out_dir / name)
        manifest.append({"name": name, "weights": weights, "final_rewards": final})
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {"policies": len(manifest), "base": str(base)}


def _train_one(params: Params, base, train, rewards, weights: dict[str, float], out: Path) -> dict[str, float]:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    cfg = params.grpo
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.padding_side = "left"
    args = GRPOConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.num_generations * cfg.prompts_per_step,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate,
        beta=cfg.beta,
        temperature=cfg.temperature,
        reward_weights=[weights[o] for o in params.objective_names],
        seed=params.seed,
        bf16=False,
        activation_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = GRPOTrainer(
        model=str(base),
        reward_funcs=rewards,
        args=args,
        train_dataset=Dataset.from_dict({"prompt": list(train["prompt"])}),
        processing_class=tokenizer,
    )
    tracking.trainer_callbacks(trainer, *(f"rewards/{o}/mean" for o in params.objective_names))
    trainer.train()
    trainer.save_model(str(out))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    curves = [
        {
            "step": e["step"],
            **{o: e[f"rewards/{o}/mean"] for o in params.objective_names if f"rewards/{o}/mean" in e},
        }
        for e in trainer.state.log_history
        if "step" in e and any(k.startswith("rewards/") for k in e)
    ]
    (out / "curves.json").write_text(json.dumps(curves, indent=2) + "\n")
    (out / "weights.json").write_text(json.dumps(weights, indent=2, sort_keys=True) + "\n")
    tracking.log_figure(_plot_curves(curves, params.objective_names), "reward_curves.png")
    return curves[-1] if curves else {}


def _plot_curves(curves: list[dict], objectives: list[str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for o in objectives:
        ax.plot([c["step"] for c in curves], [c.get(o) for c in curves], marker="o", label=o)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("mean reward (0-1)")
    ax.set_title("GRPO reward per objective")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("grpo")
