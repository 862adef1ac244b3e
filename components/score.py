"""`paretoflow score`: how often a scorer agrees with the preference labels of a pairs file.

Readers are looked up by format in `READERS`, so a source adapter from ingest can be registered there
and every format ingest reads can be scored the same way.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from components.canonical import read_table
from components.rm_evaluation import bootstrap_ci


def read_canonical(path: Path) -> pd.DataFrame:
    """Canonical pairs: the Parquet table ingest writes, or jsonl[.gz] rows with prompt, chosen, rejected."""
    if path.suffix == ".parquet":
        return read_table(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    pairs = [r for r in rows if {"prompt", "chosen", "rejected"} <= set(r)]
    for r in pairs:
        r["prompt"] = [{"role": "user", "content": r["prompt"]}] if isinstance(r["prompt"], str) else r["prompt"]
    return pd.DataFrame(pairs, columns=["prompt", "chosen", "rejected"])


READERS: dict[str, Callable[[Path], pd.DataFrame]] = {"canonical": read_canonical}


def read_pairs(source: str | Path, fmt: str) -> pd.DataFrame:
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    pairs = READERS[fmt](path)
    if pairs.empty:
        raise ValueError(f"{path} holds no preference pairs (rows with prompt, chosen and rejected)")
    return pairs


def load_scorer(spec: str):
    """`rm:PATH` -> a raw reward function of (prompts, replies); `rm:PATH#objective` picks a shared model's head."""
    kind, _, target = spec.partition(":")
    if kind != "rm" or not target:
        raise ValueError(f"scorer {spec!r} must look like rm:PATH (a trained reward-model directory)")
    path, _, objective = target.partition("#")
    if not (Path(path) / "config.json").exists():
        raise FileNotFoundError(f"no reward model at {path} (expected a directory with config.json)")
    from components.reward_model import load_scorer as load_rm

    return load_rm(Path(path), objective).raw


def agreement(source: str | Path, fmt: str, scorer: str, seed: int = 0) -> dict:
    """{"agreement", "ci95", "n", "ties"}: share of pairs where chosen outscores rejected (ties count half)."""
    pairs = read_pairs(source, fmt)
    raw = load_scorer(scorer)
    prompts = list(pairs["prompt"])
    margin = pd.Series(raw(prompts, list(pairs["chosen"]))) - pd.Series(raw(prompts, list(pairs["rejected"])))
    credit = ((margin > 0) + 0.5 * (margin == 0)).to_numpy(dtype=float)
    return {
        "agreement": float(credit.mean()),
        "ci95": bootstrap_ci(credit, seed=seed),
        "n": len(credit),
        "ties": int((margin == 0).sum()),
    }
