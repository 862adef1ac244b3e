"""Inputs for running the grpo step on other compute targets in tests: the tiny policy as the start policy (no
pairs of these objectives to warm-start on), ingested sample prompts, and two concision objectives (so no reward
model needs training first)."""

from __future__ import annotations

from pathlib import Path

from paretoflow.config import load_params
from tests.conftest import tiny

OBJECTIVES = [
    "objectives=[{name: brevity, scorer: concision, target_words: 4}, {name: concision, scorer: concision}]",
    "grpo.weights=[{brevity: 0.5, concision: 0.5}]",
    "evaluate.independent={}",
    "sft.enabled=false",
]


def grpo_inputs(root: Path, cache: Path, *overrides: str):
    """Params and the data / reward-model folders the grpo step reads, built in the project copy `root`
    (the working directory: sources are relative paths)."""
    from components.data.ingest import ingest

    params = load_params(root / "params.yaml", [*tiny(root, cache), *OBJECTIVES, *overrides])
    data, reward_models = root / "artifacts" / "data", root / "artifacts" / "reward_models"
    ingest(params, data)
    reward_models.mkdir(parents=True, exist_ok=True)
    return params, data, reward_models
