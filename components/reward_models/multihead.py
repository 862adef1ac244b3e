"""One shared backbone with one reward head per objective (the multi-objective option, `heads: shared`).

ArmoRM (algorithms.md section 4) puts a linear head per objective on one backbone; here the heads are
trained with the backbone, each pair updating only its own objective's head through the Bradley-Terry
loss (with the pair's margin and the centring term when configured), so one forward pass scores every
objective. TRL's RewardTrainer reads a single logit, hence the plain loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from components.reward_models.cut_replies import with_cut_reply_pairs
from components.reward_models.training import encode_pairs, load_backbone
from paretoflow import tracking
from paretoflow.schema import Params


def train_shared(params: Params, train: dict[str, pd.DataFrame], out: Path) -> dict[str, dict]:
    """Train on every objective's pairs at once; save one model whose `label2id` maps objective -> head."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup
    from transformers.trainer_pt_utils import LengthGroupedSampler

    cfg = params.reward_model
    objectives = list(train)
    tokenizer, model = load_backbone(params, num_labels=len(objectives), labels=objectives)
    examples, info = [], {}
    for head, objective in enumerate(objectives):
        pairs, cut = with_cut_reply_pairs(train[objective], cfg.cut_reply_pairs, params.seed)
        encoded, truncated = encode_pairs(pairs, tokenizer, cfg.max_length, cfg.use_margin)
        examples += [{**row, "head": head} for row in encoded]
        info[objective] = {
            "train_pairs": len(train[objective]),
            "cut_reply_pairs": cut,
            "truncated": truncated,
            "truncated_share": truncated / (2 * len(encoded)),
            "used_margin": int("margin" in encoded[0]),
        }
    generator = torch.Generator().manual_seed(params.seed)
    steps_per_epoch = -(-len(examples) // cfg.batch_size)
    total_steps = max(1, round(cfg.epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, 0, total_steps)
    model.train()
    started, cpu_started, step = time.perf_counter(), time.process_time(), 0
    sampler = LengthGroupedSampler(cfg.batch_size, lengths=[row["length"] for row in examples], generator=generator)
    progress = tqdm(total=total_steps, desc="shared reward heads")
    while step < total_steps:
        order = list(sampler)  # shuffled, in batches of similar length as the separate models' trainer uses
        for i in range(0, len(order), cfg.batch_size):
            if step == total_steps:
                break
            loss = _batch_loss(model, tokenizer, [examples[j] for j in order[i : i + cfg.batch_size]], cfg)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            tracking.log_metrics({"rm/shared/loss": loss.item()}, step=step)
            progress.update()
            progress.set_postfix(loss=f"{loss.item():.3f}")
    progress.close()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    timing = {"train_seconds": round(seconds, 2), "train_cpu_seconds": round(cpu_seconds, 2), "steps": step}
    return {o: i | timing for o, i in info.items()}


def _batch_loss(model, tokenizer, batch: list[dict], cfg):
    """-log sigmoid(r_chosen - r_rejected - margin) on each pair's own head, plus the optional centring term."""
    import torch

    ids = [row["chosen_ids"] for row in batch] + [row["rejected_ids"] for row in batch]
    inputs = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    logits = model(**inputs).logits
    heads = torch.tensor([row["head"] for row in batch] * 2)
    rewards = logits.gather(1, heads[:, None]).squeeze(1)
    chosen, rejected = rewards.chunk(2)
    margin = torch.tensor([row.get("margin", 0.0) for row in batch])
    loss = -torch.nn.functional.logsigmoid(chosen - rejected - margin).mean()
    if cfg.center_rewards_coefficient is not None:
        loss = loss + cfg.center_rewards_coefficient * ((chosen + rejected) ** 2).mean()
    return loss
