"""sft: the start policy. A supervised warm start of the pretrained policy on reference replies (TRL SFTTrainer).

A pretrained model continues a dialogue as whoever speaks next and never closes its turn; GRPO started there
optimises noise. SFT on the train split's reference replies (prompt/completion chats through the chat template,
loss on the reply and its end-of-turn token only) gives GRPO a policy that answers as the supporter and ends its
turn. Held-out: the loss of test-split reference replies under the pretrained and the SFT policy, and sample
replies of both with their end-of-turn rate. `sft.enabled: false` (an instruct model) passes the pretrained
policy on as the start policy and says so.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from components.common.fused_head import score_labelled_positions
from components.common.lora import lora_config
from components.common.model_store import policy_dir
from components.common.precision import bf16_copy, use_bf16
from components.common.replies import DecodeSettings, generate_replies, stop_token_ids
from components.data.canonical import read_table
from components.sft.examples import Examples, reference_examples
from components.sft.start import START_POLICY, start_policy_dir
from components.sft.turn_tokens import reinit_untrained_markers
from paretoflow import paths, tracking
from paretoflow.schema import Params

SAMPLE_REPLIES = 8  # held-out prompts whose replies are generated and shown (pretrained vs SFT)
SAMPLE_TOKENS = 64  # evaluation's budget: a reply that has not ended by then counts as not ending


def train_sft(params: Params, data_dir: Path = paths.DATA, out_dir: Path = paths.SFT) -> dict:
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    pretrained = policy_dir(params.policy, params.cache_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    if not params.sft.enabled:
        summary = {"enabled": False, "start_policy": str(start_policy_dir(params, out_dir))}
        print(f"sft: disabled (sft.enabled: false); GRPO starts from the policy as it is: {pretrained}", flush=True)
        tracking.set_tags({"sft.enabled": "false", "start_policy": "pretrained"})
        (out_dir / "sft.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(pretrained)
    pairs = read_table(data_dir / "pairs.parquet")
    train = reference_examples(pairs, "train", params.sft, tokenizer, params.sft.max_examples, params.seed)
    heldout = reference_examples(pairs, "test", params.sft, tokenizer, params.sft.heldout_examples, params.seed)
    if not train.rows:
        raise ValueError(f"sft has no training examples; reference replies per source: {train.counts}")
    tracking.log_dict({"train": train.counts, "heldout": heldout.counts}, "sft/examples.json")

    sample = [row["prompt"] for row in heldout.rows[:SAMPLE_REPLIES]]
    shipped = _load(pretrained)  # the baseline is the model as shipped, before its turn markers are placed
    before = _baseline_loss(params, shipped, tokenizer, heldout)
    pretrained_replies = _replies(params, shipped, tokenizer, sample)
    del shipped
    model = _load(pretrained)
    markers = reinit_untrained_markers(model, tokenizer, [r["prompt"] + r["completion"] for r in train.rows])
    print(f"sft: turn markers {markers['markers']}; untrained rows placed: {markers['untrained']}", flush=True)
    tracking.log_dict(markers, "sft/turn_markers.json")
    trainer = _trainer(params, model, tokenizer, train, heldout)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    after = _heldout_loss(trainer, heldout)
    model = _export(trainer, tokenizer, out_dir / START_POLICY, params.sft.lora is not None)
    sft_replies = _replies(params, model, tokenizer, sample)

    summary = {
        "enabled": True,
        "start_policy": str(out_dir / START_POLICY),
        "examples": {"train": len(train.rows), "heldout": len(heldout.rows)},
        "counts": {"train": train.counts, "heldout": heldout.counts},
        "steps": trainer.state.global_step,
        "bf16": trainer.args.bf16,
        "untrained_turn_markers": markers["untrained"],  # placed before the first step (turn_tokens.py)
        "train_seconds": round(seconds, 2),
        "heldout": {"pretrained": before, "sft": after},
        "replies": {"pretrained": _reply_stats(pretrained_replies), "sft": _reply_stats(sft_replies)},
        "samples": [
            {"prompt": p[-1]["content"], "pretrained": a.text, "sft": b.text}
            for p, a, b in zip(sample, pretrained_replies, sft_replies)
        ],
    }
    (out_dir / "sft.json").write_text(json.dumps(summary, indent=2) + "\n")
    tracking.log_metrics(_metrics(summary))
    tracking.set_tags({"sft.enabled": "true", "start_policy": "sft"})
    tracking.log_dict(summary, "sft/summary.json")
    return {k: v for k, v in summary.items() if k not in ("samples", "counts")}


def _load(pretrained: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(pretrained, dtype=torch.float32)


def _trainer(params: Params, model, tokenizer, train: Examples, heldout: Examples, adapters: bool = True):
    """TRL's SFTTrainer on the examples (`adapters=False`: the model as it is, to measure the pretrained baseline)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    cfg = params.sft
    score_labelled_positions()  # the head projects the reply's positions only, not the prompt's
    if not cfg.train_embeddings:  # tied to the output head in Gemma: both stay as pretrained
        model.get_input_embeddings().weight.requires_grad_(False)
    args = SFTConfig(
        output_dir=str(paths.SFT.parent / "sft-checkpoints"),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,  # a ratio of the steps
        max_length=cfg.max_prompt_tokens + cfg.max_reply_tokens + 8,  # prompts and replies are cut to fit already
        completion_only_loss=True,
        bf16=use_bf16(cfg.precision),
        seed=params.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
    )
    columns = ("prompt", "completion")
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list([{k: r[k] for k in columns} for r in train.rows]),
        eval_dataset=Dataset.from_list([{k: r[k] for k in columns} for r in heldout.rows]) if heldout.rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(cfg.lora) if adapters else None,
    )
    tracking.trainer_callbacks(trainer, "loss", "mean_token_accuracy")
    return trainer


def _baseline_loss(params: Params, model, tokenizer, heldout: Examples) -> dict | None:
    """The held-out loss of `model` as it is: a trainer that never trains, so it tokenises the held-out rows only."""
    if not heldout.rows:
        return None
    return _heldout_loss(_trainer(params, model, tokenizer, heldout, heldout, adapters=False), heldout)


def _heldout_loss(trainer, heldout: Examples) -> dict | None:
    """Mean token loss of the reference replies (end-of-turn included) and its perplexity."""
    if not heldout.rows:
        return None
    loss = trainer.evaluate()["eval_loss"]
    return {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50)), 3)}


def _replies(params: Params, model, tokenizer, prompts: list[list[dict]]):
    """Greedy replies on the sample prompts within evaluation's budget (the model's own weights, as trained; in
    bf16 where SFT trains in bf16: a trained model's forward autocasts, re-casting every weight for every token)."""
    if not prompts:
        return []
    if use_bf16(params.sft.precision) and not getattr(model, "peft_config", None):
        model = bf16_copy(model)
    decoding = DecodeSettings(max_new_tokens=SAMPLE_TOKENS, batch_size=SAMPLE_REPLIES, seed=params.seed)
    return generate_replies("", prompts, decoding, model=model, tokenizer=tokenizer)


def _reply_stats(replies) -> dict | None:
    if not replies:
        return None
    words = sorted(len(r.text.split()) for r in replies)
    return {
        "end_of_turn_rate": round(sum(r.ended for r in replies) / len(replies), 3),
        "median_words": words[len(words) // 2],
        "n": len(replies),
    }


def _export(trainer, tokenizer, out: Path, lora: bool):
    """A plain transformers directory whose generation stops at the end of the turn (GRPO, evaluation and the
    registered pipeline all read its generation config)."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if lora:
        model = model.merge_and_unload()
    model.generation_config.eos_token_id = stop_token_ids(tokenizer, model.generation_config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(paths.SFT.parent / "sft-checkpoints", ignore_errors=True)
    return model


def _metrics(summary: dict) -> dict[str, float]:
    metrics = {"sft/examples": summary["examples"]["train"], "sft/train_seconds": summary["train_seconds"]}
    for name in ("pretrained", "sft"):
        held = summary["heldout"][name]
        if held:
            metrics |= {f"sft/heldout_loss/{name}": held["loss"], f"sft/heldout_perplexity/{name}": held["perplexity"]}
        stats = summary["replies"][name]
        if stats:
            metrics |= {
                f"sft/end_of_turn_rate/{name}": stats["end_of_turn_rate"],
                f"sft/median_words/{name}": stats["median_words"],
            }
    return metrics
