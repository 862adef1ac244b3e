"""Training one reward model per objective with TRL's RewardTrainer, and the encoding both trainers share.

Inputs are chat-formatted (encoders get a plain transcript template) and truncated from the left, so the
reply is always what the model reads; truncations are counted. Batches group pairs of similar length
(less padding: most of the cost on a CPU).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from components.common.model_store import ENCODER_CHAT_TEMPLATE, encoder_dir
from components.reward_models.cut_replies import with_cut_reply_pairs
from components.reward_models.embedding_head import train_head
from paretoflow import tracking
from paretoflow.schema import Params


def load_backbone(params: Params, num_labels: int, labels: list[str] | None = None):
    """Tokenizer and a fresh scoring head on the configured backbone; the seed fixes the head's init."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    backbone = encoder_dir(params.reward_model.backbone, params.cache_dir)  # may build it, drawing random numbers
    set_seed(params.seed)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = ENCODER_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.truncation_side = "left"  # saved with the model: every reader keeps the reply, as training did
    extra = {"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}} if labels else {}
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=num_labels, **extra)
    model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.model_max_length = params.reward_model.max_length  # the scorer truncates where training did
    return tokenizer, model


def train_model(params: Params, train: pd.DataFrame, validation: pd.DataFrame, out: Path) -> dict:
    """One objective's model, by `reward_model.architecture`; what was trained, for the metrics."""
    cfg = params.reward_model
    augmented, added = with_cut_reply_pairs(train, cfg.cut_reply_pairs, params.seed)
    if cfg.architecture == "embedding_head":
        info = train_head(encoder_dir(cfg.backbone, params.cache_dir), augmented, out, params.seed, cfg.max_length)
    else:
        info = train_one(params, augmented, validation, out)
    return info | {"train_pairs": len(train), "cut_reply_pairs": added}


def train_one(params: Params, train: pd.DataFrame, validation: pd.DataFrame, out: Path) -> dict:
    from datasets import Dataset
    from transformers import EarlyStoppingCallback
    from trl import RewardConfig, RewardTrainer

    cfg = params.reward_model
    tokenizer, model = load_backbone(params, num_labels=1)
    encoded, truncated = encode_pairs(train, tokenizer, cfg.max_length, cfg.use_margin)
    stopping = cfg.early_stopping
    stop_args = {"save_strategy": "no"}
    if stopping is not None:
        stop_args = {
            "eval_strategy": "steps",
            "eval_steps": stopping.eval_steps,
            "save_strategy": "steps",
            "save_steps": stopping.eval_steps,
            "save_total_limit": 1,
            "save_only_model": True,
            "load_best_model_at_end": True,
            "metric_for_best_model": "accuracy",
            "greater_is_better": True,
            "per_device_eval_batch_size": cfg.batch_size,
        }
    args = RewardConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        center_rewards_coefficient=cfg.center_rewards_coefficient,
        max_length=None,  # inputs arrive tokenized and left-truncated by encode_pairs
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,  # keeps the `length` column the sampler reads (the collator ignores it)
        seed=params.seed,
        data_seed=params.seed,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        logging_steps=1,
        disable_tqdm=False,
        use_cpu=not _cuda(),
        **stop_args,
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(encoded),
        eval_dataset=Dataset.from_list(encode_pairs(validation, tokenizer, cfg.max_length, False)[0])
        if stopping
        else None,
        processing_class=tokenizer,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=stopping.patience)] if stopping else None,
    )
    tracking.trainer_callbacks(trainer, "loss", "accuracy")
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    info = {
        "train_pairs": len(train),
        "train_seconds": round(seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),  # all threads; less sensitive than wall time to a busy machine
        "steps": trainer.state.global_step,
        "truncated": truncated,
        "truncated_share": truncated / (2 * len(train)),
        "used_margin": int("margin" in encoded[0]),
    }
    if stopping is not None:
        info |= {"validation_pairs": len(validation), "best_validation_accuracy": trainer.state.best_metric}
    return info


def margins(df: pd.DataFrame) -> list[float] | None:
    """Graded preferences: a `margin` column, or `meta["margin"]`; rows without one get 0. None when none has one."""
    if "margin" in df.columns and df["margin"].notna().any():
        return df["margin"].fillna(0.0).astype(float).tolist()
    values = [m.get("margin") if isinstance(m, dict) else None for m in df.get("meta", [None] * len(df))]
    return [float(v or 0.0) for v in values] if any(v is not None for v in values) else None


def encode_pairs(df: pd.DataFrame, tokenizer, max_length: int, use_margin: bool) -> tuple[list[dict], int]:
    """Pre-tokenized chosen/rejected ids, left-truncated to `max_length` (the reply is kept), with margins and
    the longer side's `length` (what length-grouped batching sorts on)."""
    rows, truncated = [], 0
    graded = margins(df) if use_margin else None
    for i, (prompt, chosen, rejected) in enumerate(zip(df["prompt"], df["chosen"], df["rejected"])):
        row = {}
        for key, reply in (("chosen_ids", chosen), ("rejected_ids", rejected)):
            ids = encode_conversation(tokenizer, prompt, reply)
            if len(ids) > max_length:
                truncated += 1
                ids = ids[:1] + ids[len(ids) - max_length + 1 :]
            row[key] = ids
        row["length"] = max(len(row["chosen_ids"]), len(row["rejected_ids"]))
        if graded is not None:
            row["margin"] = graded[i]
        rows.append(row)
    return rows, truncated


def encode_conversation(tokenizer, prompt: list[dict], reply: str) -> list[int]:
    text = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": reply}], tokenize=False)
    return tokenizer(text, add_special_tokens=True)["input_ids"]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
