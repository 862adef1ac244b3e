"""Reference statistics of a trained reward model: what `reward_model.output` normalisation and PAR shaping
(algorithms.md 8.1) compare a new reward against. Only computed when the configured transform uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from components.scorers.reward_model import RewardModelScorer, reference_statistics
from paretoflow.schema import Params


def needs_references(params: Params) -> bool:
    return params.reward_model.output.transform != "sigmoid"


def save_references(scorer: RewardModelScorer, train: pd.DataFrame, params: Params, path: Path, objective: str):
    """Reward statistics on train replies, keyed by objective (a shared model holds several)."""
    cfg = params.reward_model.output
    sample = train.head(cfg.max_reference_pairs)
    replies = [*sample["chosen"], *sample["rejected"]]
    raw = scorer.raw([*sample["prompt"], *sample["prompt"]], replies)
    file = path / "references.json"
    saved = json.loads(file.read_text()) if file.exists() else {}
    saved[objective] = reference_statistics(raw, cfg.reference_size)
    file.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
