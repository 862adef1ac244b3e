"""Replies of a chat policy: batched decoding that stops where the policy's turn ends.

A turn ends at the end-of-turn token of the chat template (or EOS); a reply that reaches the start of another
turn instead is cut there too, so a reply never carries the next speaker's words. `ended` says whether the
policy closed its turn itself within the budget: what the coherence indicators count.

Decoding is `components.common.decoding` (no per-token `generate` machinery, finished rows leave the batch, exact
sampling, no more threads than idle cores), on prompts sorted by length so a batch pads little, in bf16 where the
CPU or GPU computes it natively (`precision`): benchmarks/generation_time.py measures it against `generate`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

TURN_TOKENS = ("<start_of_turn>", "<end_of_turn>")  # Gemma's turn markers (the cpu and tiny policies' template)


@dataclass(frozen=True)
class Reply:
    text: str
    ended: bool  # stopped at an end-of-turn/EOS token before max_new_tokens
    tokens: int  # new tokens generated, stop token included


@dataclass(frozen=True)
class DecodeSettings:
    """How `generate_replies`/`generate_ids` decode: one object, so callers and the two functions agree on it."""

    max_new_tokens: int
    batch_size: int
    seed: int
    do_sample: bool = False
    temperature: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    """EOS ids of the generation config (or tokenizer) plus the template's turn markers present in the vocabulary."""
    configured = getattr(generation_config, "eos_token_id", None)
    if configured is None:
        configured = tokenizer.eos_token_id
    ids = list(configured) if isinstance(configured, list | tuple) else [configured]
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in TURN_TOKENS if t in vocab]
    return sorted({int(i) for i in ids if i is not None})


def load_policy(path: str | Path, precision: str = "auto"):
    """The causal LM at `path` in eval mode, in bf16 where `precision` asks for it (auto: where native), and its
    tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from components.common.precision import use_bf16

    dtype = torch.bfloat16 if use_bf16(precision) else torch.float32
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval(), AutoTokenizer.from_pretrained(path)


def generate_replies(
    path: str | Path,
    prompts: list[list[dict]],
    settings: DecodeSettings,
    *,
    precision: str = "auto",
    model=None,
    tokenizer=None,
) -> list[Reply]:
    """Batched decoding with a fixed seed (a re-run gives the same replies); `model`/`tokenizer` reuse loaded ones
    (then `precision` is theirs)."""
    if model is None or tokenizer is None:
        model, tokenizer = load_policy(path, precision)
    stops = stop_token_ids(tokenizer, model.generation_config)
    rows = generate_ids(model, tokenizer, prompts, settings, stops=stops)
    return [_reply(row, stops, tokenizer) for row in rows]


def generate_ids(
    model, tokenizer, prompts: list[list[dict]], settings: DecodeSettings, *, stops: list[int]
) -> list[list[int]]:
    """New token ids per prompt, in input order, padded after the first stop token; prompts are batched by length
    (shortest first) and a batch's draws come from one generator seeded with `settings.seed`, so a re-run repeats
    them. On a CPU, torch uses only the cores other work leaves idle meanwhile (`decoding.idle_cores`)."""
    import torch

    from components.common.decoding import decode, idle_cores, threads

    encoded = [
        tokenizer.apply_chat_template(p, add_generation_prompt=True, return_dict=True)["input_ids"] for p in prompts
    ]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    generator = torch.Generator(model.device).manual_seed(settings.seed)
    pad = tokenizer.pad_token_id
    rows: dict[int, list[int]] = {}
    with threads(idle_cores()) if model.device.type == "cpu" else nullcontext():
        for start in range(0, len(order), settings.batch_size):
            chosen = order[start : start + settings.batch_size]
            ids, mask = _left_padded([encoded[i] for i in chosen], pad, model.device)
            new = decode(
                model,
                ids,
                mask,
                max_new_tokens=settings.max_new_tokens,
                stops=stops,
                pad_token_id=pad,
                do_sample=settings.do_sample,
                temperature=settings.temperature,
                repetition_penalty=settings.repetition_penalty,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                generator=generator,
            )
            rows |= dict(zip(chosen, new.tolist()))
    return [rows[i] for i in range(len(prompts))]


def _left_padded(sequences: list[list[int]], pad: int, device):
    """Token ids padded on the left to the longest sequence, and the mask of the real tokens (as `generate` wants)."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=device)
    return ids, mask


def _reply(row: list[int], stops: list[int], tokenizer) -> Reply:
    """The new tokens up to the first stop token (padding after it is dropped)."""
    end = next((j for j, token in enumerate(row) if token in stops), None)
    kept = row if end is None else row[:end]
    text = tokenizer.decode(kept, skip_special_tokens=True).strip()
    return Reply(text, ended=end is not None, tokens=len(row) if end is None else end + 1)
