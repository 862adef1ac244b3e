"""Signs of reward hacking in held-out replies.

A policy can raise its scores by writing longer, repeating itself, or collapsing onto a few phrases rather
than by answering better: length growth over the base policy, within-reply repetition and distinct-n across
replies show those shortcuts next to the scores.
"""

from __future__ import annotations

import numpy as np


def words(text: str) -> list[str]:
    return text.lower().split()


def repetition(text: str) -> float:
    """Share of a reply's words that repeat an earlier word of the same reply (0: no repeats)."""
    tokens = words(text)
    return 1.0 - len(set(tokens)) / len(tokens) if tokens else 0.0


def distinct_n(texts: list[str], n: int) -> float:
    """Unique n-grams over all n-grams across a policy's replies (low: the same phrases again and again)."""
    grams = [tuple(t[i : i + n]) for t in map(words, texts) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def indicators(texts: list[str], base_words: float) -> dict[str, float]:
    """Length, its growth over the base policy's replies, repetition and distinct-1/2 for one policy."""
    length = float(np.mean([len(words(t)) for t in texts])) if texts else 0.0
    return {
        "length_words": length,
        "length_growth": length / max(base_words, 1.0),  # a silent base policy counts as one word
        "repetition": float(np.mean([repetition(t) for t in texts])) if texts else 0.0,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
    }
