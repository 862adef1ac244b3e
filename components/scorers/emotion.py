"""`scorer: emotion` (RLVER, algorithms.md 2.2): the simulated seeker's emotion at the end of the conversation, / 100.

In multi-turn GRPO the rollout (components.seeker.rollout) has played each conversation to its end and hands the
final emotion over as the `seeker_emotion` column; on a single reply (evaluation of one turn, the start policy's
reward scale) the seeker reads the prompt's dialogue and that reply once, so the score is its emotion after one turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.common.messages import as_messages, reply_text
from components.seeker.persona import from_prompt
from components.seeker.simulator import Seeker, seeker_for

if TYPE_CHECKING:
    from components.scorers.objectives import ScorerContext
    from paretoflow.schema import Objective


class EmotionScorer:
    whole_conversation = True  # reads the played conversation itself; never averaged over its turns

    def __init__(self, seeker: Seeker):
        self.seeker = seeker

    def __call__(self, prompts, completions, seeker_emotion=None, **kwargs) -> list[float]:
        if seeker_emotion is not None:
            return [float(e) / 100.0 for e in seeker_emotion]
        conversations = [self.seeker.begin(from_prompt(as_messages(p), None), as_messages(p)) for p in prompts]
        self.seeker.respond(conversations, [reply_text(c) for c in completions], play=False)
        return [c.emotion / 100.0 for c in conversations]

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        return self(prompts, replies)


def for_objective(objective: Objective, context: ScorerContext) -> EmotionScorer:
    return EmotionScorer(seeker_for(context.params))
