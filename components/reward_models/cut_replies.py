"""Pairs that teach a reward model a cut-off reply is not a better one: (whole chosen reply, its own first words).

Human preference pairs compare two finished replies, so a model trained on them alone never learns what a policy
finds in a few GRPO steps: stopping early. On HH-RLHF harmless-base, where chosen replies are often shorter, the
embedding head ranked a chosen reply above its own first five words only 17% of the time
(benchmarks/results/alignment_reward_models.json, stub check), and the policies it trained shrank. Each added pair
keeps the prompt of its source pair and prefers the whole chosen reply to its first k words, k drawn at random
between MIN_WORDS and half the reply, so no single cut length is learnt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_WORDS = 3  # the shortest cut
MIN_REPLY_WORDS = 8  # replies shorter than this are left whole: half of them is hardly a reply at all


def with_cut_reply_pairs(train: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, int]:
    """`train` plus one cut-reply pair for a `share` of its pairs whose chosen reply has at least MIN_REPLY_WORDS
    words (drawn with `seed`), and how many were added. Added rows have id `<source id>#cut` and no margin."""
    if share <= 0 or train.empty:
        return train, 0
    rng = np.random.default_rng(seed)
    words = train["chosen"].map(str.split)
    eligible = np.flatnonzero(words.map(len).to_numpy() >= MIN_REPLY_WORDS)
    picked = np.sort(rng.choice(eligible, size=round(share * len(eligible)), replace=False))
    if len(picked) == 0:
        return train, 0
    added = train.iloc[picked].copy()
    cuts = [int(rng.integers(MIN_WORDS, len(words.iloc[i]) // 2 + 1)) for i in picked]
    added["rejected"] = [" ".join(words.iloc[i][:k]) for i, k in zip(picked, cuts)]
    added["id"] = added["id"].astype(str) + "#cut"
    if "margin" in added.columns:
        added["margin"] = 0.0
    if "meta" in added.columns:
        added["meta"] = [{"cut_from": str(i)} for i in train["id"].iloc[picked]]
    return pd.concat([train, added], ignore_index=True), len(added)
