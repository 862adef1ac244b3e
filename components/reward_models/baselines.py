"""Scorers that need no reward model, measured like one on the same held-out pairs.

A reward model that does not beat them has learnt the topic (how close a reply is to the prompt, by the MiniLM
encoder), the length (longer wins) or the supporter's strategy label (ESConv's, a logistic regression fitted on the
train pairs), not the objective. Each baseline gives a credit per pair like the reward model does (1 right, 0 wrong,
ties half) so the two compare pair by pair; the strategy baseline scores only pairs whose replies both carry labels.
Intervals resample whole conversations (ESConv) or questions (CounselChat): their pairs are not independent draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.common.stats import bootstrap_ci
from components.data.canonical import transcript

TOPIC_WORDS = 96  # the prompt's latest words: about the 128 tokens MiniLM reads, the end the reward model keeps too


def credits(train: pd.DataFrame | None, test: pd.DataFrame, encoder) -> dict[str, np.ndarray]:
    """Per held-out pair, each baseline's credit; NaN where a baseline cannot score the pair."""
    return {
        "topicality": topicality_credit(test, encoder),
        "length": _credit(_words(test["chosen"]), _words(test["rejected"])),
        "strategy": strategy_credit(train, test),
    }


def clusters(pairs: pd.DataFrame) -> np.ndarray:
    """What a pair's outcome shares with other pairs: its ESConv conversation, its CounselChat question, else its
    prompt."""
    keys = []
    for meta, prompt in zip(pairs["meta"] if "meta" in pairs.columns else [{}] * len(pairs), pairs["prompt"]):
        meta = meta if isinstance(meta, dict) else {}
        keys.append(meta.get("conversation") or meta.get("question_id") or transcript(prompt))
    return np.array(keys)


def report(
    baseline_credits: dict[str, np.ndarray], model_credit: np.ndarray, samples: int, seed: int, groups=None
) -> dict:
    """Each baseline's accuracy with a 95% interval, and the reward model's paired lead over it on the same pairs
    (an interval of the per-pair difference: above 0 means the model beats the baseline). `groups` (one label per
    pair, see `clusters`) makes every interval resample whole groups."""
    out = {}
    for name, credit in baseline_credits.items():
        scored = ~np.isnan(credit)
        if not scored.any():
            out[name] = {"accuracy": None, "n": 0, "why": "no held-out pair carries what this baseline reads"}
            continue
        kept = None if groups is None else np.asarray(groups)[scored]
        lead = model_credit[scored] - credit[scored]
        out[name] = {
            "accuracy": float(credit[scored].mean()),
            "ci95": bootstrap_ci(credit[scored], samples, seed, groups=kept),
            "n": int(scored.sum()),
            "clusters": int(scored.sum()) if kept is None else len(set(kept)),
            "model_accuracy_on_these": float(model_credit[scored].mean()),
            "model_ci95_on_these": bootstrap_ci(model_credit[scored], samples, seed, groups=kept),
            "model_lead": float(lead.mean()),
            "model_lead_ci95": bootstrap_ci(lead, samples, seed, groups=kept),
        }
    return out


def topicality_credit(test: pd.DataFrame, encoder) -> np.ndarray:
    """The reply more similar to the prompt (cosine of unit MiniLM embeddings) wins."""
    prompts = encoder.embed([prompt_text(p) for p in test["prompt"]])
    chosen, rejected = encoder.embed(list(test["chosen"])), encoder.embed(list(test["rejected"]))
    return _credit((prompts * chosen).sum(1), (prompts * rejected).sum(1))


def prompt_text(messages: list[dict]) -> str:
    """The dialogue's words without role names, its latest TOPIC_WORDS."""
    return " ".join(" ".join(m["content"] for m in messages).split()[-TOPIC_WORDS:])


def strategy_credit(train: pd.DataFrame | None, test: pd.DataFrame) -> np.ndarray:
    """A Bradley-Terry logistic regression on strategy labels alone: one weight per strategy, fitted on the labelled
    train pairs (chosen minus rejected, and its mirror); a pair's margin is the difference of its replies' weights."""
    from sklearn.linear_model import LogisticRegression

    no_score = np.full(len(test), np.nan)
    fit_on = _labelled(train) if train is not None else []
    if not fit_on:
        return no_score
    names = sorted({s for c, r in fit_on for s in c + r})
    x = np.array([_onehot(c, names) - _onehot(r, names) for c, r in fit_on])
    if not x.any():  # every train pair's replies share their strategies: nothing to fit
        return no_score
    model = LogisticRegression(fit_intercept=False).fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
    weights = model.coef_[0]
    for i, labels in enumerate(_labels(test)):
        if labels is not None:
            chosen, rejected = (_onehot(s, names) @ weights for s in labels)
            no_score[i] = _credit(np.array([chosen]), np.array([rejected]))[0]
    return no_score


def _labels(pairs: pd.DataFrame) -> list[tuple[list[str], list[str]] | None]:
    """(chosen's strategies, rejected's strategies) per pair from ESConv's meta; None where either is missing."""
    out = []
    for meta in pairs["meta"] if "meta" in pairs.columns else [None] * len(pairs):
        meta = meta if isinstance(meta, dict) else {}
        chosen, rejected = meta.get("strategies"), meta.get("rejected_strategies")
        out.append((chosen, rejected) if chosen and rejected else None)
    return out


def _labelled(pairs: pd.DataFrame) -> list[tuple[list[str], list[str]]]:
    return [labels for labels in _labels(pairs) if labels is not None]


def _onehot(strategies: list[str], names: list[str]) -> np.ndarray:
    """A reply's strategies as shares summing to 1 (a merged turn may use several); unseen ones count for nothing."""
    vector = np.array([float(n in strategies) for n in names])
    return vector / max(len(strategies), 1)


def _words(texts) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=float)


def _credit(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    return (chosen > rejected) + 0.5 * (chosen == rejected)
