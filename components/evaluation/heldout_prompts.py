"""Which held-out prompts evaluate generates on.

By default the first `evaluate.max_prompts` test-split prompts by id: a hash order, so the sources come in proportion
to their prompt rows, and a source with many (ESConv: one prompt per supporter turn) crowds out the others. With
`evaluate.stratify_sources` the prompts are shared evenly over the sources, so each source's scores rest on as many
prompts as the others; a source that gives pairs but no prompt rows (HH-RLHF) is represented by the prompts of its
test-split pairs, so its objective is measured on its own kind of request. A source with fewer prompts than its share
gives them all and the others fill the rest.
"""

from __future__ import annotations

import pandas as pd

from components.data.canonical import prompt_id
from paretoflow.schema import Evaluate

COLUMNS = ["id", "prompt", "source", "split", "meta"]


def heldout_prompts(prompts: pd.DataFrame, pairs: pd.DataFrame | None, settings: Evaluate) -> pd.DataFrame:
    """The held-out prompts (rows of the prompts table's columns), in id order."""
    test = prompts[prompts["split"] == "test"]
    if not settings.stratify_sources:
        return test.sort_values("id").head(settings.max_prompts)
    pool = pd.concat([test[COLUMNS], pair_prompts(pairs, set(prompts["source"]))], ignore_index=True)
    pool = pool.drop_duplicates("id").sort_values(["source", "id"])
    rank = pool.groupby("source").cumcount()  # round k takes the k-th prompt of every source
    chosen = pool.assign(rank=rank).sort_values(["rank", "source"]).head(settings.max_prompts)
    return chosen.drop(columns="rank").sort_values("id").reset_index(drop=True)


def pair_prompts(pairs: pd.DataFrame | None, with_prompt_rows: set[str]) -> pd.DataFrame:
    """The distinct prompts of test-split pairs of sources that have no prompt rows of their own."""
    if pairs is None or pairs.empty:
        return pd.DataFrame(columns=COLUMNS)
    test = pairs[(pairs["split"] == "test") & ~pairs["source"].isin(with_prompt_rows)]
    rows = [
        {"id": prompt_id(p), "prompt": p, "source": s, "split": "test", "meta": {}}
        for p, s in zip(test["prompt"], test["source"])
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
