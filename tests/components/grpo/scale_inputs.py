"""Inputs for the reward-scale tests: the tiny policy as the start policy on the sample prompts, and two concision
objectives, one that varies with the reply's length and one that does not vary at all (no reward model needed)."""

from __future__ import annotations

from tests.components.grpo.project_inputs import project_params

OBJECTIVES = [
    # `short` varies with the reply's length; `anything` (a 1000-word budget) is 1 for every reply with a word
    "objectives=[{name: short, scorer: concision, target_words: 3}, {name: anything, scorer: concision, "
    "target_words: 1000}]",
    "grpo.weights=[{short: 0.5, anything: 0.5}]",
    "data.sources=[{name: prompts, uri: data/sample/prompts.jsonl}]",
    "sft.enabled=false",
    "evaluate.independent={}",
    "grpo.reward_scale={prompts: 6, completions_per_prompt: 2}",
]


def tiny_params(model_cache, *overrides):
    return project_params(model_cache, *OBJECTIVES, *overrides)
