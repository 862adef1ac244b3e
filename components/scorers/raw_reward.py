"""What every trained reward model shares as a scorer: its raw reward ranks replies, its sigmoid (after the judge
guard) is the objective's score in [0, 1]. The two architectures differ only in `raw`."""

from __future__ import annotations

from components.common.messages import reply_text
from components.common.stats import sigmoid
from components.rubrics import guard


class RawRewardScorer:
    """Subclasses define `raw(prompts, replies) -> list[float]`."""

    head = 0

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        replies = [reply_text(c) for c in completions]
        return guard.gate(list(prompts), replies, sigmoid(self.raw(list(prompts), replies)).tolist())
