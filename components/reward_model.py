"""train-rm: reward models for the `reward_model` objectives, measured on their held-out pairs.

Separate models (one per objective, TRL's RewardTrainer) by default; `heads: shared` trains one backbone
with a head per objective instead (components/multihead_rm.py). Inputs are chat-formatted (encoders get a
plain transcript template) and truncated from the left, so the reply is always what the model reads;
truncations are counted. Each model is then scored on its objective's test pairs (accuracy with a
bootstrap interval, calibration, length bias) and on its train replies (the reference statistics that
`reward_model.output` normalisation and PAR shaping use).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd

from components.canonical import assign_split, read_table
from components.models import ENCODER_CHAT_TEMPLATE, encoder_dir
from components.rm_evaluation import calibration_figure, pairwise_report
from components.scorers import RewardModelScorer, reference_statistics, reward_model_location
from paretoflow import tracking
from paretoflow.config import Params

DATA_DIR = Path("artifacts/data")
OUT_DIR = Path("artifacts/reward_models")


def train_reward_models(params: Params, data_dir: Path = DATA_DIR, out_dir: Path = OUT_DIR) -> dict:
    pairs = read_table(data_dir / "pairs.parquet")
    objectives = [o.name for o in params.objectives if o.scorer == "reward_model"]
    splits = {o: objective_splits(pairs, o, params) for o in objectives}
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    if params.reward_model.heads == "shared":
        from components.multihead_rm import train_shared

        training = train_shared(params, {o: s["train"] for o, s in splits.items()}, out_dir / "shared")
    else:
        training = {}
        for objective, split in splits.items():
            with tracking.child_run(f"reward_model/{objective}"):
                tracking.log_table_input(
                    split["train"], data_dir / "pairs.parquet", f"pairs-{objective}-train", "training"
                )
                training[objective] = train_one(params, split["train"], split["validation"], out_dir / objective)
    results, reports = {}, {}
    for objective, split in splits.items():
        tracking.log_table_input(split["test"], data_dir / "pairs.parquet", f"pairs-{objective}-test", "evaluation")
        path = reward_model_location(objective, params, out_dir)
        scorer = load_scorer(path, objective)
        reports[objective] = heldout_report(scorer, split["test"], params)
        _save_reference(scorer, split["train"], params, path, objective)
        results[objective] = {**training[objective], **summary_metrics(reports[objective])}
        tracking.log_metrics({f"rm/{objective}/{k}": v for k, v in results[objective].items()})
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (out_dir / "heldout_report.json").write_text(json.dumps(reports, indent=2, sort_keys=True) + "\n")
    figure = calibration_figure(reports)
    figure.savefig(out_dir / "calibration.png", dpi=120)
    tracking.log_figure(figure, "reward_models/calibration.png")
    tracking.log_dict(reports, "reward_models/heldout_report.json")
    return results


def objective_splits(pairs: pd.DataFrame, objective: str, params: Params) -> dict[str, pd.DataFrame]:
    """Train, validation (a hash slice of train prompts, only with early stopping) and test pairs."""
    cfg = params.reward_model
    subset = pairs[pairs["objective"] == objective]
    train, test = subset[subset["split"] == "train"].sort_values("id"), subset[subset["split"] == "test"]
    if train.empty or test.empty:
        raise ValueError(
            f"objective {objective!r} needs train and test pairs to train a reward model; found "
            f"{len(train)} train and {len(test)} test. Add pairs for it or change its scorer in params.yaml"
        )
    validation = train.iloc[:0]
    if cfg.early_stopping is not None:
        fraction = cfg.early_stopping.validation_fraction
        held = train["prompt"].map(lambda p: assign_split(p, "validation", fraction) == "test")
        train, validation = train[~held], train[held]
        if validation.empty or train.empty:
            raise ValueError(
                f"objective {objective!r}: early stopping left {len(train)} train and {len(validation)} validation "
                "pairs; change reward_model.early_stopping.validation_fraction or add pairs"
            )
    if cfg.max_train_pairs is not None:
        train = train.head(cfg.max_train_pairs)
    return {"train": train, "validation": validation, "test": test}


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
    extra = {"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}} if labels else {}
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=num_labels, **extra)
    model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.model_max_length = params.reward_model.max_length  # the scorer truncates where training did
    return tokenizer, model


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
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    info = {
        "train_pairs": len(train),
        "train_seconds": round(seconds, 2),
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
    """Pre-tokenized chosen/rejected ids, left-truncated to `max_length` (the reply is kept), with margins."""
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
        if graded is not None:
            row["margin"] = graded[i]
        rows.append(row)
    return rows, truncated


def encode_conversation(tokenizer, prompt: list[dict], reply: str) -> list[int]:
    text = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": reply}], tokenize=False)
    return tokenizer(text, add_special_tokens=True)["input_ids"]


def load_scorer(path: Path, objective: str) -> RewardModelScorer:
    scorer = RewardModelScorer(path)
    scorer.head = scorer.model.config.label2id.get(objective, 0) if scorer.model.config.num_labels > 1 else 0
    return scorer


def heldout_report(scorer: RewardModelScorer, test: pd.DataFrame, params: Params) -> dict:
    prompts = list(test["prompt"])
    started = time.perf_counter()
    chosen, rejected = scorer.raw(prompts, list(test["chosen"])), scorer.raw(prompts, list(test["rejected"]))
    seconds = time.perf_counter() - started
    words = [len(t.split()) for t in test["chosen"]], [len(t.split()) for t in test["rejected"]]
    cfg = params.reward_model
    report = pairwise_report(chosen, rejected, *words, cfg.calibration_bins, cfg.bootstrap_samples, params.seed)
    return report | {"score_seconds": seconds}


def summary_metrics(report: dict) -> dict:
    """The held-out report's headline numbers, flat (what metrics.json and MLflow keep per objective)."""
    bias = report["length_bias"]
    return {
        "heldout_accuracy": report["accuracy"],
        "heldout_ci95_low": report["ci95"][0],
        "heldout_ci95_high": report["ci95"][1],
        "heldout_pairs": report["n"],
        "heldout_ties": report["ties"],
        "heldout_score_seconds": round(report["score_seconds"], 2),
        "spearman_reward_length": bias["spearman_reward_length"],
        "longer_reply_baseline_accuracy": bias["longer_reply_baseline_accuracy"],
    }


def _save_reference(scorer: RewardModelScorer, train: pd.DataFrame, params: Params, path: Path, objective: str):
    """Reward statistics on train replies, keyed by objective (a shared model holds several)."""
    cfg = params.reward_model.output
    sample = train.head(cfg.max_reference_pairs)
    replies = [*sample["chosen"], *sample["rejected"]]
    raw = scorer.raw([*sample["prompt"], *sample["prompt"]], replies)
    file = path / "references.json"
    saved = json.loads(file.read_text()) if file.exists() else {}
    saved[objective] = reference_statistics(raw, cfg.reference_size)
    file.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("reward_model")
