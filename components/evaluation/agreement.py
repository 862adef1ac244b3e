"""How often a scorer agrees with the preference labels of a pairs file (`paretoflow score`).

The pairs are read with ingest's own source readers and format adapters, so every format ingest reads
(canonical, hh-rlhf, esconv, counselchat; files, folders, s3://, hf://) can be scored the same way.
Rows an adapter rejects are skipped and counted as `skipped`; the canonical Parquet table ingest writes
is read as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from components.common.stats import bootstrap_ci
from components.data.adapters import adapters
from components.data.canonical import RecordError, check_messages, check_reply, read_table
from components.data.sources import read_rows


def read_pairs(source: str | Path, fmt: str) -> tuple[pd.DataFrame, int]:
    """(pairs with prompt, chosen, rejected, meta; the number of rows skipped as unusable)."""
    formats = adapters()
    if fmt not in formats:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(formats))}")
    if fmt == "canonical" and str(source).endswith(".parquet"):
        return read_table(source)[["prompt", "chosen", "rejected", "meta"]], 0
    adapter, pairs, skipped = formats[fmt], [], 0
    rows = read_rows(str(source), adapter.columns, adapter.ignore)
    for _, item in adapter.adapt(rows, adapter.objective or "preference"):
        try:
            if isinstance(item, RecordError):
                raise item
            if "chosen" not in item and "rejected" not in item:
                continue  # a prompt row: nothing to agree with
            chosen, rejected = check_reply(item, "chosen"), check_reply(item, "rejected")
            if chosen.strip() == rejected.strip():
                raise RecordError("chosen and rejected are identical")
            prompt = check_messages(item.get("prompt"))
            pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "meta": item.get("meta") or {}})
        except RecordError:
            skipped += 1
    if not pairs:
        raise ValueError(f"{source} holds no usable preference pairs in format {fmt} ({skipped} rows skipped)")
    return pd.DataFrame(pairs), skipped


def agreement(
    pairs: pd.DataFrame, rank: Callable[[list, list[str]], list[float]], seed: int = 0, by_prompt: bool = False
) -> dict:
    """{"agreement", "ci95", "n", "ties"}: share of `pairs` (as `read_pairs` gives them) where `rank` scores
    chosen above rejected, ties counting half. `by_prompt`: the interval resamples whole prompts (several pairs of
    one prompt are not independent draws), which widens it when prompts repeat; `prompts` then says how many."""
    prompts = list(pairs["prompt"])
    margin = pd.Series(rank(prompts, list(pairs["chosen"]))) - pd.Series(rank(prompts, list(pairs["rejected"])))
    credit = ((margin > 0) + 0.5 * (margin == 0)).to_numpy(dtype=float)
    keys = [json.dumps(p, sort_keys=True, default=str) for p in prompts] if by_prompt else None
    measured = {
        "agreement": float(credit.mean()),
        "ci95": bootstrap_ci(credit, seed=seed, groups=keys),
        "n": len(credit),
        "ties": int((margin == 0).sum()),
    }
    return measured | ({"prompts": len(set(keys))} if by_prompt else {})
