"""Replies of a chat policy: batched decoding that stops where the policy's turn ends.

A turn ends at the end-of-turn token of the chat template (or EOS); a reply that reaches the start of another
turn instead is cut there too, so a reply never carries the next speaker's words. `ended` says whether the
policy closed its turn itself within the budget: what the coherence indicators count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TURN_TOKENS = ("<start_of_turn>", "<end_of_turn>")  # Gemma's turn markers (the cpu and tiny policies' template)


@dataclass(frozen=True)
class Reply:
    text: str
    ended: bool  # stopped at an end-of-turn/EOS token before max_new_tokens
    tokens: int  # new tokens generated, stop token included


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    """EOS ids of the generation config (or tokenizer) plus the template's turn markers present in the vocabulary."""
    configured = getattr(generation_config, "eos_token_id", None)
    if configured is None:
        configured = tokenizer.eos_token_id
    ids = list(configured) if isinstance(configured, list | tuple) else [configured]
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in TURN_TOKENS if t in vocab]
    return sorted({int(i) for i in ids if i is not None})


def generate_replies(
    path: str | Path,
    prompts: list[list[dict]],
    *,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    repetition_penalty: float = 1.0,
    model=None,
    tokenizer=None,
) -> list[Reply]:
    """Batched decoding with a fixed seed (a re-run gives the same replies); `model`/`tokenizer` reuse loaded ones."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = model or AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    stops = stop_token_ids(tokenizer, model.generation_config)
    replies: list[Reply] = []
    for i in range(0, len(prompts), batch_size):
        batch = tokenizer.apply_chat_template(
            prompts[i : i + batch_size], add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            ids = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                temperature=temperature if do_sample else None,
                top_p=None,
                top_k=None,
                repetition_penalty=repetition_penalty,
                eos_token_id=stops,
                pad_token_id=tokenizer.pad_token_id,
            )
        for row in ids[:, batch["input_ids"].shape[1] :].tolist():
            replies.append(_reply(row, stops, tokenizer))
    return replies


def _reply(row: list[int], stops: list[int], tokenizer) -> Reply:
    """The new tokens up to the first stop token (padding after it is dropped)."""
    end = next((j for j, token in enumerate(row) if token in stops), None)
    kept = row if end is None else row[:end]
    text = tokenizer.decode(kept, skip_special_tokens=True).strip()
    return Reply(text, ended=end is not None, tokens=len(row) if end is None else end + 1)
