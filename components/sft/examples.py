"""Supervised examples for the warm start: reference replies of the pairs table, as prompt/completion chats.

A reference reply is a pair's `chosen` reply (ESConv: a supporter turn of a conversation its seeker rated
4-5; HH-RLHF: the preferred assistant turn; CounselChat: the higher-voted answer). For the sources named in
`context_turns`, the assistant turns inside each dialogue are reference replies too (ESConv's earlier supporter
turns of the same well-rated conversation): many more examples of the same kind, with no text written for
them. HH-RLHF's dialogues are not listed there: their earlier assistant turns were never judged. Each source is sampled
in proportion to its mixing weight up to `max_examples`; a reply longer than `max_reply_tokens` is left
out (the policy learns to end its turn inside the evaluation budget), and a dialogue longer than
`max_prompt_tokens` keeps its latest turns. Every row is accounted for in the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from components.common.messages import latest_turns
from paretoflow.schema import Sft


@dataclass
class Examples:
    rows: list[dict]  # {"prompt": messages, "completion": [assistant message], "source": name}
    # source -> pairs / context_turns / duplicate / too_long / no_room / unused / used
    counts: dict[str, dict[str, int]]


def reference_examples(pairs: pd.DataFrame, split: str, settings: Sft, tokenizer, limit: int, seed: int) -> Examples:
    """Up to `limit` examples of `split`, mixed over sources by `settings.sources` weights (all 1 when empty)."""
    table = pairs[pairs["split"] == split]
    weights = settings.sources or {name: 1.0 for name in sorted(table["source"].unique())}
    unknown = sorted((set(weights) | set(settings.context_turns)) - set(table["source"].unique()))
    counts: dict[str, dict[str, int]] = {}
    pools: dict[str, list[dict]] = {}
    for name in sorted(weights):
        rows = table[table["source"] == name]
        tally = {"pairs": len(rows), "context_turns": 0, "duplicate": 0, "too_long": 0, "no_room": 0}
        pool, seen = [], set()
        for dialogue, reply in _candidates(rows, name in settings.context_turns, tally):
            key = (str(dialogue), reply.strip())
            if key in seen:  # one reply chosen for several objectives, or a turn shared by dialogues, is one example
                tally["duplicate"] += 1
                continue
            seen.add(key)
            if len(tokenizer(reply.strip(), add_special_tokens=False)["input_ids"]) > settings.max_reply_tokens:
                tally["too_long"] += 1
                continue
            kept = latest_turns(dialogue, tokenizer, settings.max_prompt_tokens)
            if kept is None:
                tally["no_room"] += 1
                continue
            pool.append(
                {"prompt": kept, "completion": [{"role": "assistant", "content": reply.strip()}], "source": name}
            )
        pools[name], counts[name] = pool, tally
    if unknown:
        raise ValueError(
            f"sft.sources or sft.context_turns names {unknown}, which hold no pairs in the {split} split; "
            f"sources with pairs: {sorted(table['source'].unique())}"
        )
    quotas = _quotas({n: len(p) for n, p in pools.items()}, weights, limit)
    rng = np.random.default_rng(seed)
    chosen: list[dict] = []
    for name, pool in pools.items():
        order = rng.permutation(len(pool))[: quotas[name]]
        chosen.extend(pool[i] for i in sorted(order))
        counts[name]["used"] = quotas[name]
        counts[name]["unused"] = len(pool) - quotas[name]
    return Examples(chosen, counts)


def _candidates(rows: pd.DataFrame, context_turns: bool, tally: dict[str, int]):
    """(dialogue, reply) of each pair's chosen reply, then, when asked, of each assistant turn inside its dialogue."""
    for prompt, reply in zip(rows["prompt"], rows["chosen"]):
        yield list(prompt), reply
        if not context_turns:
            continue
        for i, message in enumerate(prompt):
            if message["role"] == "assistant" and i > 0:
                tally["context_turns"] += 1
                yield list(prompt[:i]), message["content"]


def _quotas(sizes: dict[str, int], weights: dict[str, float], limit: int) -> dict[str, int]:
    """Examples per source: proportional to the weights, never more than a source has; what a small source
    cannot fill goes to the others (still in proportion)."""
    quotas = dict.fromkeys(sizes, 0)
    open_ = {n for n in sizes if weights.get(n, 0) > 0 and sizes[n] > 0}
    left = limit
    while left > 0 and open_:
        total = sum(weights[n] for n in open_)
        share = {n: left * weights[n] / total for n in open_}
        for n in sorted(open_):
            quotas[n] += min(int(share[n]) or 1, sizes[n] - quotas[n], left)
            left = limit - sum(quotas.values())
            if left <= 0:
                break
        open_ = {n for n in open_ if quotas[n] < sizes[n]}
    return quotas
