"""train-rm: one reward model per `reward_model` objective with TRL's RewardTrainer; held-out accuracy.

Inputs are chat-formatted (the tokenizer's chat template; encoders get a plain transcript template) and
truncated from the left, so the reply is always what the model reads; truncations are counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from components.canonical import read_table
from components.models import ENCODER_CHAT_TEMPLATE, encoder_dir
from paretoflow import tracking
from paretoflow.config import Params

DATA_DIR = Path("artifacts/data")
OUT_DIR = Path("artifacts/reward_models")


def train_reward_models(params: Params, data_dir: Path = DATA_DIR, out_dir: Path = OUT_DIR) -> dict:
    pairs = read_table(data_dir / "pairs.parquet")
    objectives = [o.name for o in params.objectives if o.scorer == "reward_model"]
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    results = {}
    for objective in objectives:
        subset = pairs[pairs["objective"] == objective]
        train, test = subset[subset["split"] == "train"], subset[subset["split"] == "test"]
        if train.empty or test.empty:
            raise ValueError(
                f"objective {objective!r} needs train and test pairs to train a reward model; found "
                f"{len(train)} train and {len(test)} test. Add pairs for it or change its scorer in params.yaml"
            )
        with tracking.child_run(f"reward_model/{objective}"):
            tracking.log_table_input(train, data_dir / "pairs.parquet", f"pairs-{objective}-train", "training")
            tracking.log_table_input(test, data_dir / "pairs.parquet", f"pairs-{objective}-test", "evaluation")
            results[objective] = _train_one(params, objective, train, test, out_dir / objective)
            tracking.log_metrics({f"rm/{objective}/{k}": v for k, v in results[objective].items()})
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    tracking.log_metrics({f"rm/{o}/heldout_accuracy": r["heldout_accuracy"] for o, r in results.items()})
    return results


def _train_one(params: Params, objective: str, train: pd.DataFrame, test: pd.DataFrame, out: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    cfg = params.reward_model
    backbone = encoder_dir(cfg.backbone, params.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = ENCODER_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    encoded, truncated = _encode(train, tokenizer, cfg.max_length)
    args = RewardConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        max_length=None,
        seed=params.seed,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=False,
        use_cpu=not _cuda(),
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(encoded),
        processing_class=tokenizer,
    )
    tracking.trainer_callbacks(trainer, "loss", "accuracy")
    trainer.train()
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    from components.scorers import RewardModelScorer

    scorer = RewardModelScorer(out)
    chosen = scorer.raw(list(test["prompt"]), list(test["chosen"]))
    rejected = scorer.raw(list(test["prompt"]), list(test["rejected"]))
    accuracy = sum(c > r for c, r in zip(chosen, rejected)) / len(test)
    return {
        "heldout_accuracy": accuracy,
        "heldout_pairs": len(test),
        "train_pairs": len(train),
        "truncated": truncated,
    }


def _encode(df: pd.DataFrame, tokenizer, max_length: int) -> tuple[list[dict], int]:
    """Pre-tokenized chosen/rejected ids, left-truncated to `max_length` (the reply is kept)."""
    rows, truncated = [], 0
    for prompt, chosen, rejected in zip(df["prompt"], df["chosen"], df["rejected"]):
        row = {}
        for key, reply in (("chosen_ids", chosen), ("rejected_ids", rejected)):
            ids = encode_conversation(tokenizer, prompt, reply)
            if len(ids) > max_length:
                truncated += 1
                ids = ids[:1] + ids[len(ids) - max_length + 1 :]
            row[key] = ids
        rows.append(row)
    return rows, truncated


def encode_conversation(tokenizer, prompt: list[dict], reply: str) -> list[int]:
    text = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": reply}], tokenize=False)
    return tokenizer(text, add_special_tokens=True)["input_ids"]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("reward_model")
