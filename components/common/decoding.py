"""Token-by-token decoding over a KV cache, without `generate`'s per-token machinery, and exact sampling.

Why: held-out replies need one decoding strategy, not all of `generate`'s. This loop runs one forward per token
over the same cache `generate` builds (so greedy replies are `generate`'s, token for token), drops a row from the
batch once its turn ended, and draws a sampled token from softmax(logits / T) by inverting its cumulative
distribution with one uniform per row where `torch.multinomial` draws one exponential per vocabulary entry (262k
per row and token on Gemma 3): the same distribution, not the same random stream. Most of the time, though, is
the model itself: bf16 (`replies.load_policy`) and the thread count (`idle_cores`) matter more than the loop;
benchmarks/generation_time.py measures each against `generate`.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager


def idle_cores(window: float = 0.25) -> int:
    """Cores that other processes leave idle, measured over `window` seconds, at least 1.

    Why: every operator of a decoding step is an OpenMP parallel region whose threads wait for each other; a thread
    without a core of its own stalls the region until the scheduler runs it, and a step of Gemma 3 270M has hundreds
    of small operators. On a shared, loaded machine that waiting is most of a step (benchmarks/generation_time.py
    profiles a step with torch's threads and with one); a quiet machine keeps all its threads. The thread count
    does not change the replies (the same tokens with 1 and 2 threads on this machine, fp32 and bf16).

    Measured as the machine's busy CPU time (/proc/stat) less this process's own (/proc/self/stat), not from the
    load average: that counts this process too, so right after a pipeline's own GRPO step (2 busy threads on 2
    cores) it read "no idle core" on a quiet machine and held-out generation ran on one thread.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        busy, own, started = _busy_seconds(), _own_seconds(), time.monotonic()
        time.sleep(window)
        others = (_busy_seconds() - busy) - (_own_seconds() - own)
        elapsed = time.monotonic() - started
    except OSError:  # no /proc (not Linux): the load average, which counts this process too
        return max(1, cores - math.floor(os.getloadavg()[0]))
    return cores_left(cores, others, elapsed)


def cores_left(cores: int, others_cpu_seconds: float, elapsed: float) -> int:
    """Cores not taken by other processes' `others_cpu_seconds` of CPU time over `elapsed` seconds (a core counts
    as taken from half its time on), at least 1."""
    return max(1, cores - round(max(0.0, others_cpu_seconds) / elapsed))


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq, steal) since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds this process (all its threads) has spent, user and system."""
    times = os.times()
    return times.user + times.system


@contextmanager
def threads(count: int):
    """torch's intra-op threads set to at most `count` inside the block, as they were after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(count, before)))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def sample_tokens(logits, temperature: float, generator):
    """One token per row drawn from softmax(logits / temperature): a uniform in [0, total) looked up in the
    float64 cumulative sum (float32 over 262k terms would drift by up to ~1e-2 in the tail)."""
    import torch

    cdf = torch.softmax(logits.float() / temperature, dim=-1).double().cumsum_(-1)
    u = torch.rand((cdf.shape[0], 1), generator=generator, dtype=torch.float64, device=cdf.device)
    picked = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)  # right: a zero-probability token is never hit
    return picked.clamp_(max=cdf.shape[-1] - 1).squeeze(-1)


def decode(
    model,
    input_ids,
    attention_mask,
    *,
    max_new_tokens: int,
    stops: list[int],
    pad_token_id: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    repetition_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    generator=None,
):
    """New tokens for a left-padded batch, [batch, max_new_tokens]: a row is padded after the first of `stops` it
    produced (included) and is no longer computed. Positions, padding mask and cache as `generate` builds them, so
    greedy decoding gives `generate`'s tokens; the repetition penalty is transformers' own processor, applied as
    `generate` applies it (prompt and padding included); `no_repeat_ngram_size` blocks n-grams repeated within the
    reply (`blocked_repeats`)."""
    import torch
    from transformers import DynamicCache, RepetitionPenaltyLogitsProcessor

    penalty = RepetitionPenaltyLogitsProcessor(repetition_penalty) if repetition_penalty != 1.0 else None
    stop_ids = torch.tensor(stops, dtype=torch.long, device=input_ids.device)
    new = torch.full((input_ids.shape[0], max_new_tokens), pad_token_id, dtype=torch.long, device=input_ids.device)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)  # rows of the batch still generating
    seen, mask = input_ids, attention_mask
    positions = (mask.long().cumsum(-1) - 1).masked_fill_(mask == 0, 0)
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                    use_cache=True, logits_to_keep=1)  # fmt: skip
        positions = positions[:, -1:]
        for step in range(max_new_tokens):
            logits = out.logits[:, -1].float()
            if penalty is not None:
                logits = penalty(seen, logits)
            if no_repeat_ngram_size:
                blocked_repeats(logits, new[rows, :step].tolist(), no_repeat_ngram_size)
            token = sample_tokens(logits, temperature, generator) if do_sample else logits.argmax(-1)
            new[rows, step] = token
            if step == max_new_tokens - 1:
                break
            going = ~torch.isin(token, stop_ids)
            if not going.all():
                if not going.any():
                    break
                kept = going.nonzero().squeeze(1)
                cache.batch_select_indices(kept)
                rows, token, mask, positions, seen = rows[kept], token[kept], mask[kept], positions[kept], seen[kept]
            seen = torch.cat([seen, token[:, None]], 1) if penalty is not None else seen
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], 1)
            positions = positions + 1
            out = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions, past_key_values=cache,
                        use_cache=True)  # fmt: skip
    return new


def blocked_repeats(logits, replies: list[list[int]], n: int) -> None:
    """Rule out, in place, each reply's next tokens that would repeat one of its own n-grams (the n-gram blocking of
    dialogue decoding, as in BlenderBot; unlike `generate`'s `no_repeat_ngram_size`, the prompt's n-grams stay open,
    so a reply may still echo the seeker's words)."""
    for row, reply in enumerate(replies):
        if len(reply) < n:
            continue
        prefix = reply[len(reply) - n + 1 :]
        banned = {reply[j + n - 1] for j in range(len(reply) - n + 1) if reply[j : j + n - 1] == prefix}
        logits[row, sorted(banned)] = float("-inf")
