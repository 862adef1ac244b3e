"""Replies read side by side: for the same held-out prompts, what the pretrained policy (context), the start
policy and each trained policy wrote. Scores say how much a policy moved; only its replies say whether it
still speaks as a supporter, ends its turn and stays on topic."""

from __future__ import annotations

import pandas as pd

COLUMN_CHARS = 400  # a reply longer than this is cut in the table (the parquet files keep it whole)


def side_by_side(prompts: pd.DataFrame, replies: pd.DataFrame, order: list[str], shown: int) -> list[dict]:
    """The first `shown` held-out prompts (id order), each with the last seeker turn and one reply per policy
    in `order` that has replies; `replies` holds rows of (policy, prompt_id, completion, ended)."""
    ids = list(prompts.sort_values("id")["id"])[:shown]
    by_prompt = prompts.set_index("id")["prompt"]
    rows = []
    for prompt_id in ids:
        row = {"prompt_id": prompt_id, "seeker": by_prompt[prompt_id][-1]["content"], "replies": {}}
        for policy in order:
            match = replies[(replies["policy"] == policy) & (replies["prompt_id"] == prompt_id)]
            if not match.empty:
                reply = match.iloc[0]
                row["replies"][policy] = {"text": reply["completion"], "ended": bool(reply["ended"])}
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """One section per prompt, one line per policy; a reply that did not end its turn within the budget is marked."""
    lines = ["# Replies side by side (held-out prompts)", ""]
    for row in rows:
        lines += [f"## {row['prompt_id']}", "", f"> **seeker:** {_cell(row['seeker'])}", ""]
        for policy, reply in row["replies"].items():
            mark = "" if reply["ended"] else " *(did not end its turn)*"
            lines.append(f"- **{policy}**{mark}: {_cell(reply['text']) or '*(empty)*'}")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= COLUMN_CHARS else flat[: COLUMN_CHARS - 1] + "…"
