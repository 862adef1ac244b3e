"""Replies on the held-out prompts, for evaluate (components.evaluation.evaluate) to score: each policy's, generated
through transformers or, with `evaluate.engine: vllm` (the gpu profile), vLLM's engine, with the same seed and
decoding settings, one row per reply with its coherence flags; with `sft.enabled`, the pretrained policy's, for
context only; and the reference replies every policy's perplexity is measured on.

Generation apart from scoring: the candidates, the champion front and the pretrained context are all generated here,
one way, so their replies differ only by the policy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.common.messages import as_messages
from components.common.model_store import policy_dir
from components.common.replies import DecodeSettings, Reply, generate_replies
from components.data.canonical import read_table
from components.evaluation import coherence
from components.sft.examples import reference_examples
from paretoflow.schema import Evaluate, Params

PRETRAINED = "pretrained"  # the model SFT started from: its coherence is shown for context, it is not a candidate


def generate(path, prompts: list[list[dict]], params: Params) -> list[Reply]:
    """Batched decoding with the settings from params and a fixed seed, so a re-run gives the same replies; each
    reply stops at the end of the policy's turn."""
    if params.evaluate.engine == "vllm":
        return generate_vllm(path, prompts, params)
    settings = params.evaluate
    decoding = DecodeSettings(
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        seed=params.seed,
        do_sample=settings.do_sample,
        temperature=settings.temperature,
        repetition_penalty=settings.repetition_penalty,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
    )
    return generate_replies(path, prompts, decoding, precision=settings.precision)


def vllm_sampling(settings: Evaluate, seed: int) -> dict:
    """`vllm.SamplingParams` keyword arguments for the evaluate decoding settings: temperature 0 is vLLM's
    greedy decoding, and the seed makes sampled replies repeat."""
    return {
        "max_tokens": settings.max_new_tokens,
        "temperature": settings.temperature if settings.do_sample else 0.0,
        "repetition_penalty": settings.repetition_penalty,
        "seed": seed,
    }


def generate_vllm(path, prompts: list[list[dict]], params: Params) -> list[Reply]:
    """The same decoding through vLLM's engine (the gpu profile): the model's chat template, one batched call."""
    vllm = _require_vllm()
    llm = vllm.LLM(model=str(path), seed=params.seed)
    try:
        sampling = vllm.SamplingParams(**vllm_sampling(params.evaluate, params.seed))
        outputs = llm.chat([as_messages(p) for p in prompts], sampling, use_tqdm=True)
    finally:
        del llm  # every policy gets its own engine: free the GPU memory before the next one loads
        _free_cuda()
    return [
        Reply(o.outputs[0].text.strip(), o.outputs[0].finish_reason == "stop", len(o.outputs[0].token_ids))
        for o in outputs
    ]


def _require_vllm():
    """vllm, or an error saying what to change: it is not a dependency (it needs a CUDA machine)."""
    try:
        import vllm
    except ImportError:
        raise RuntimeError(
            "evaluate.engine is vllm but vllm is not installed in this environment; install it on a CUDA "
            "machine (`pip install vllm`) or set evaluate.engine: transformers (-o evaluate.engine=transformers)"
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            "evaluate.engine is vllm but no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES); "
            "on a CPU machine set evaluate.engine: transformers (-o evaluate.engine=transformers)"
        )
    return vllm


def _free_cuda() -> None:
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()


def reply_rows(policy: str, heldout: pd.DataFrame, replies: list[Reply]) -> list[dict]:
    """One row per held-out prompt: its source, the reply, whether it ended its turn, and its coherence flags."""
    flags = coherence.judge_replies(list(heldout["prompt"]), [r.text for r in replies])
    return [
        {"policy": policy, "prompt_id": prompt_id, "source": source, "completion": reply.text, "ended": reply.ended}
        | flag
        for prompt_id, source, reply, flag in zip(heldout["id"], heldout["source"], replies, flags)
    ]


def pretrained_context(params: Params, heldout: pd.DataFrame, examples: list[dict]) -> tuple[pd.DataFrame, dict] | None:
    """With `sft.enabled`, the pretrained `policy` SFT started from, for context only: its held-out replies with
    their coherence flags, and its perplexity of the reference replies. Not scored, not a candidate, not a
    reference; None when the start policy is the pretrained policy itself."""
    if not params.sft.enabled:
        return None
    path = policy_dir(params.policy, params.cache_dir)
    replies = generate(path, list(heldout["prompt"]), params)
    frame = pd.DataFrame(reply_rows(PRETRAINED, heldout, replies))
    return frame, coherence.reference_perplexity(path, examples, params.evaluate.batch_size)


def perplexity_examples(params: Params, data_dir: Path, tokenizer) -> list[dict]:
    """Up to `evaluate.perplexity_examples` reference replies of the test split's pairs, chosen with the start
    policy's tokenizer as SFT chooses its held-out examples (same sources, mix and length caps): every policy's
    perplexity is measured on the same examples."""
    limit = params.evaluate.perplexity_examples
    if not limit:
        return []
    pairs = read_table(Path(data_dir) / "pairs.parquet")
    return reference_examples(pairs, "test", params.sft, tokenizer, limit, params.seed).rows
