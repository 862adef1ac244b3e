"""`scorer: conversation_novelty` (MINT, algorithms.md 2.3, over whole conversations): reward a supporter for not
repeating the tactics it has already used anywhere in the conversation, beside `novelty`, which looks one turn back.

Each supporter turn's sentences take the tactic whose definition they are nearest to (the MiniLM stand-in for
MINT's taggers, components.scorers.novelty); turn t scores MINT's capped KL of its tactic counts against the counts
of every earlier supporter turn of the conversation (Laplace-smoothed), / 5. A conversation scores the mean over
its policy turns that have an earlier supporter turn; with none it scores 1 (nothing to repeat), an empty turn 0.

    score = mean_t min(KL(q_t || p_<t), 5) / 5

In multi-turn GRPO the played conversation arrives as the `conversation` column; on a single reply the earlier
turns are the prompt's assistant turns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from components.common.encoder import load_encoder
from components.common.messages import as_messages, reply_text
from components.common.model_store import encoder_dir
from components.scorers.novelty import KL_CAP, MAX_TOKENS, TACTICS, NoveltyScorer, tactic_kl

if TYPE_CHECKING:
    from components.scorers.objectives import ScorerContext
    from paretoflow.schema import Objective

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ConversationNoveltyScorer:
    whole_conversation = True

    def __init__(self, tactics: NoveltyScorer):
        self.tactics = tactics  # its encoder and tactic definitions

    def __call__(self, prompts, completions, conversation=None, **kwargs) -> list[float]:
        if conversation is None:
            plays = [(as_messages(p), [reply_text(c)]) for p, c in zip(prompts, completions)]
        else:
            plays = [policy_turns(record) for record in conversation]
        texts = {t for context, replies in plays for t in [*_assistant(context), *replies] if t.strip()}
        counts = self._counts(sorted(texts))
        return [self._score(_assistant(context), replies, counts) for context, replies in plays]

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        return self(prompts, replies)

    def _counts(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Tactic counts of each text, from one encoder pass over all their sentences."""
        sentences = {t: [s for s in SENTENCE_END.split(t.strip()) if s.strip()] for t in texts}
        unique = list(dict.fromkeys(s for t in texts for s in sentences[t]))
        vectors = dict(zip(unique, self.tactics.encoder.embed(unique))) if unique else {}
        return {t: self.tactics.tactic_counts(np.array([vectors[s] for s in sentences[t]])) for t in texts}

    @staticmethod
    def _score(earlier: list[str], replies: list[str], counts: dict[str, np.ndarray]) -> float:
        if not any(r.strip() for r in replies):
            return 0.0
        history = sum((counts[t] for t in earlier if t.strip()), np.zeros(len(TACTICS)))
        shifts = []
        for reply in replies:
            if not reply.strip():
                shifts.append(0.0)
                continue
            if history.sum() > 0:
                shifts.append(tactic_kl(counts[reply], history) / KL_CAP)
            history = history + counts[reply]
        return float(np.mean(shifts)) if shifts else 1.0


def policy_turns(record: dict) -> tuple[list[dict], list[str]]:
    """(the prompt's messages, the policy's replies) of a played conversation record (components.seeker.rollout)."""
    messages = record["messages"]
    start = record["prompt_messages"]
    return messages[:start], [m["content"] for m in messages[start:] if m["role"] == "assistant"]


def _assistant(messages: list[dict]) -> list[str]:
    return [m.get("content", "") for m in messages if m.get("role") == "assistant"]


def for_objective(objective: Objective, context: ScorerContext) -> ConversationNoveltyScorer:
    """`params.novelty`'s encoder and tactic definitions (as the one-turn novelty)."""
    settings = context.params.novelty
    encoder = load_encoder(encoder_dir(settings.encoder, context.params.cache_dir), max_length=MAX_TOKENS)
    return ConversationNoveltyScorer(NoveltyScorer(encoder, settings.tactic_weight))
