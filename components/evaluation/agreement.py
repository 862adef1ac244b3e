"""`paretoflow score`: how often a scorer agrees with the preference labels of a pairs file.

The pairs are read with ingest's own source readers and format adapters, so every format ingest reads
(canonical, hh-rlhf, esconv, counselchat; files, folders, s3://, hf://) can be scored the same way.
Rows an adapter rejects are skipped and counted as `skipped`; the canonical Parquet table ingest writes
is read as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from components.data.adapters import adapters
from components.data.canonical import RecordError, check_messages, check_reply, read_table
from components.data.sources import read_rows
from components.reward_models.evaluation import bootstrap_ci

if TYPE_CHECKING:
    from paretoflow.schema import Params


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


def load_scorer(spec: str, params: Params | None = None):
    """`rm:PATH` -> a raw reward function of (prompts, replies); `rm:PATH#objective` picks a shared model's head;
    `rubric:offline|hf|openai[#objective]` judges each reply against a rubric for the objective, with the judge
    settings of `params` (the resolved run's, overrides included; else params.yaml in the working directory)."""
    kind, _, target = spec.partition(":")
    if kind == "brevity":  # brevity:sentences=N | brevity:chars=N (no model: an independent length check)
        from components.scorers.brevity import brevity

        return brevity(target)
    if kind == "rubric":  # rubric:offline|hf|openai[#objective]: prompt-only rubrics, judged (see rubric_reward)
        from components.scorers.rubric import scorer_from_spec

        return scorer_from_spec(target, params).raw
    if kind != "rm" or not target:
        raise ValueError(f"scorer {spec!r} must look like rm:PATH (a trained reward-model directory)")
    path, _, objective = target.partition("#")
    if not (Path(path) / "config.json").exists():
        raise FileNotFoundError(f"no reward model at {path} (expected a directory with config.json)")
    from components.scorers.objectives import head_scorer

    return head_scorer(Path(path), objective, {}).raw


def agreement(source: str | Path, fmt: str, scorer: str, seed: int = 0) -> dict:
    """{"agreement", "ci95", "n", "ties"}: share of pairs where chosen outscores rejected (ties count half)."""
    pairs, skipped = read_pairs(source, fmt)
    raw = load_scorer(scorer)
    prompts = list(pairs["prompt"])
    margin = pd.Series(raw(prompts, list(pairs["chosen"]))) - pd.Series(raw(prompts, list(pairs["rejected"])))
    credit = ((margin > 0) + 0.5 * (margin == 0)).to_numpy(dtype=float)
    return {
        "agreement": float(credit.mean()),
        "ci95": bootstrap_ci(credit, seed=seed),
        "n": len(credit),
        "ties": int((margin == 0).sum()),
        "skipped": skipped,
    }
