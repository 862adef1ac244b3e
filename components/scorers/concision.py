"""`scorer: concision`: a word budget, the training reward for short replies (brevity.py checks it otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.common.messages import reply_text

if TYPE_CHECKING:
    from components.scorers.objectives import RewardFunc, ScorerContext
    from paretoflow.schema import Objective


def concision(target_words: int) -> RewardFunc:
    """1 at or under `target_words` words, falling as target/words beyond it; an empty reply scores 0."""

    def score(prompts, completions, **kwargs) -> list[float]:
        out = []
        for completion in completions:
            words = len(reply_text(completion).split())
            out.append(0.0 if words == 0 else min(1.0, target_words / words))
        return out

    return score


def for_objective(objective: Objective, context: ScorerContext) -> RewardFunc:
    return concision(objective.target_words)
