"""Which held-out prompts evaluate generates on.

By default the first `evaluate.max_prompts` test-split prompts by id: a hash order, so the sources come in proportion
to their prompt rows, and a source with many (ESConv: one prompt per supporter turn) crowds out the others. With
`evaluate.stratify_sources` the prompts are shared evenly over the sources, so each source's scores rest on as many
prompts as the others; a source that gives pairs but no prompt rows (HH-RLHF) is represented by the prompts of its
test-split pairs, so its objective is measured on its own kind of request. A source with fewer prompts than its share
gives them all and the others fill the rest.

With a tokenizer, each chosen dialogue keeps its latest turns that fit `evaluate.max_prompt_tokens` once templated,
as GRPO cuts its train dialogues (ESConv's run to thousands of tokens: held-out generation's time and memory grow
with them, and the policies never trained on longer contexts); a prompt whose last seeker turn alone is longer is
passed over and the next in the order takes its place, so the count stays `max_prompts` where the pool allows.
"""

from __future__ import annotations

import pandas as pd

from components.common.messages import as_messages, latest_turns
from components.data.canonical import prompt_id
from paretoflow.schema import Evaluate

COLUMNS = ["id", "prompt", "source", "split", "meta"]


def heldout_prompts(
    prompts: pd.DataFrame, pairs: pd.DataFrame | None, settings: Evaluate, tokenizer=None
) -> pd.DataFrame:
    """The held-out prompts (rows of the prompts table's columns), in id order; with `tokenizer`, cut to their
    latest turns within `settings.max_prompt_tokens`."""
    test = prompts[prompts["split"] == "test"]
    if not settings.stratify_sources:
        ordered = test.sort_values("id")
    else:
        pool = pd.concat([test[COLUMNS], pair_prompts(pairs, set(prompts["source"]))], ignore_index=True)
        pool = pool.drop_duplicates("id").sort_values(["source", "id"])
        rank = pool.groupby("source").cumcount()  # round k takes the k-th prompt of every source
        ordered = pool.assign(rank=rank).sort_values(["rank", "source"]).drop(columns="rank")
    chosen = ordered.head(settings.max_prompts) if tokenizer is None else _fitted(ordered, settings, tokenizer)
    return chosen.sort_values("id").reset_index(drop=True)


def _fitted(ordered: pd.DataFrame, settings: Evaluate, tokenizer) -> pd.DataFrame:
    """The first `max_prompts` rows of `ordered` whose latest turns fit `max_prompt_tokens`, cut to them; only as
    many rows are templated as it takes."""
    kept, cut, passed = [], 0, 0
    for _, row in ordered.iterrows():
        if len(kept) == settings.max_prompts:
            break
        messages = as_messages(row["prompt"])
        tail = latest_turns(messages, tokenizer, settings.max_prompt_tokens)
        if tail is None:
            passed += 1
            continue
        cut += len(tail) < len(messages)
        kept.append(row.to_dict() | {"prompt": tail})
    print(
        f"evaluate: {len(kept)} held-out prompts; {cut} cut to their latest turns within "
        f"evaluate.max_prompt_tokens={settings.max_prompt_tokens}, {passed} passed over (the last seeker turn "
        "alone is longer)",
        flush=True,
    )
    return pd.DataFrame(kept, columns=list(ordered.columns))


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
