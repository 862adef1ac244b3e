"""Cross-turn novelty (MINT-style, algorithms.md 2.3): reward a reply for not repeating the previous assistant turn.

MINT tags each sentence with one of 10 support tactics (8B LoRA taggers) and rewards KL(current || previous)
of the tactic counts. Here a sentence encoder (MiniLM) stands in for the tagger: each sentence takes the tactic
whose definition it is closest to. The score mixes that tactic shift with the phrasing distance to the
previous turn, both in [0, 1]:

    novelty = tactic_weight * min(KL(q || p), 5) / 5 + (1 - tactic_weight) * (1 - max(0, cos(reply, previous)))

A prompt without an earlier assistant turn has nothing to repeat and scores 1; an empty reply scores 0.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from components.common.encoder import Encoder, load_encoder
from components.common.messages import reply_text
from components.common.model_store import encoder_dir

if TYPE_CHECKING:
    from components.scorers.objectives import ScorerContext
    from paretoflow.schema import Objective

TACTICS = {
    "information": "Here is some factual information about your situation.",
    "assistance": "I can help you do this; let me take care of it for you.",
    "advice": "You should try doing this; my suggestion is to take this step.",
    "validation": "Your feelings make complete sense and it is okay to feel this way.",
    "emotional_expression": "I feel so sad and sorry to hear that you are going through this.",
    "paraphrasing": "So what you are saying is that you feel this because of that.",
    "self_disclosure": "I went through something similar myself once.",
    "questioning": "What happened next, and how are you feeling about it?",
    "reappraisal": "Another way to look at this is that it could also be an opportunity.",
    "empowerment": "You are stronger than you think and you can get through this.",
}
KL_CAP = 5.0  # MINT caps the raw KL at 5
ALPHA = 0.1  # MINT's Laplace smoothing of tactic counts
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_TOKENS = 256  # per text embedded (a previous turn can be long)


class NoveltyScorer:
    """TRL reward signature; sentences and replies are embedded with the shared sentence encoder."""

    def __init__(self, encoder: Encoder, tactic_weight: float = 0.5):
        self.encoder = encoder
        self.tactic_weight = tactic_weight
        self.tactic_vectors = encoder.embed(list(TACTICS.values()))

    def tactic_counts(self, sentence_vectors: np.ndarray) -> np.ndarray:
        """How many of a text's sentences (their embeddings) fall nearest to each tactic definition."""
        counts = np.zeros(len(TACTICS))
        if len(sentence_vectors):
            np.add.at(counts, (sentence_vectors @ self.tactic_vectors.T).argmax(axis=1), 1)
        return counts

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        replies = [reply_text(c).strip() for c in completions]
        previous = [previous_assistant_turn(p) for p in prompts]
        pairs = [i for i, (r, p) in enumerate(zip(replies, previous)) if r and p]
        scores = [0.0 if not r else 1.0 for r in replies]
        if not pairs:
            return scores
        # One encoder pass over every distinct text and sentence of the batch: a group's completions share
        # their previous turn, and a batch is scored once per GRPO step.
        texts = list(dict.fromkeys(t for i in pairs for t in (replies[i], previous[i])))
        sentences = {t: [s for s in _SENTENCE_END.split(t.strip()) if s.strip()] for t in texts}
        unique = list(dict.fromkeys([*texts, *(s for t in texts for s in sentences[t])]))
        vectors = dict(zip(unique, self.encoder.embed(unique)))
        counts = {t: self.tactic_counts(np.array([vectors[s] for s in sentences[t]])) for t in texts}
        for i in pairs:
            reply, prev = replies[i], previous[i]
            phrasing = 1.0 - max(0.0, float(vectors[reply] @ vectors[prev]))
            shift = tactic_kl(counts[reply], counts[prev]) / KL_CAP
            scores[i] = float(np.clip(self.tactic_weight * shift + (1 - self.tactic_weight) * phrasing, 0.0, 1.0))
        return scores


def previous_assistant_turn(prompt) -> str | None:
    """The last assistant message of a chat prompt (None for plain text or a first turn)."""
    if isinstance(prompt, str):
        return None
    turns = [m.get("content", "") for m in prompt if m.get("role") == "assistant" and m.get("content", "").strip()]
    return turns[-1] if turns else None


def tactic_kl(current: np.ndarray, previous: np.ndarray) -> float:
    """MINT's KL(current || previous) of Laplace-smoothed tactic distributions, capped at 5; 0 without tactics."""
    if current.sum() == 0:
        return 0.0
    k = len(current)
    q = (current + ALPHA) / (current.sum() + k * ALPHA)
    p = (previous + ALPHA) / (previous.sum() + k * ALPHA)
    return float(min((q * np.log(q / p)).sum(), KL_CAP))


def for_objective(objective: Objective, context: ScorerContext) -> NoveltyScorer:
    """`params.novelty`'s encoder (one per process for every novelty scorer, GRPO objective and audit alike)."""
    settings = context.params.novelty
    encoder = load_encoder(encoder_dir(settings.encoder, context.params.cache_dir), max_length=MAX_TOKENS)
    return NoveltyScorer(encoder, settings.tactic_weight)
