"""HH-RLHF transcripts -> canonical pairs, for reward-model tests and benchmarks on real data.

A minimal reader kept out of the pipeline (ingest owns source adapters): the prompt is every turn before
the last `\\n\\nAssistant:`, the replies are what follows it, and the split is the canonical prompt hash.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd

from components.data.canonical import PAIR_COLUMNS, assign_split, pair_id

TURN = re.compile(r"\n\n(Human|Assistant): ")


def transcript_turns(text: str) -> list[dict]:
    parts = TURN.split(text)[1:]
    return [
        {"role": "user" if who == "Human" else "assistant", "content": said.strip()}
        for who, said in zip(parts[::2], parts[1::2])
    ]


def hh_rlhf_pairs(
    path: str | Path, objective: str, test_fraction: float = 0.2, salt: str = "paretoflow"
) -> pd.DataFrame:
    """Canonical pairs from an HH-RLHF jsonl.gz; rows whose last turns are not replies, or are empty, are skipped."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            chosen, rejected = transcript_turns(record["chosen"]), transcript_turns(record["rejected"])
            if len(chosen) < 2 or chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
                continue
            prompt, good, bad = chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]
            if (
                not good
                or not bad
                or good == bad
                or prompt[-1]["role"] != "user"
                or any(not m["content"] for m in prompt)
            ):
                continue
            rows.append(
                {
                    "id": pair_id(prompt, good, bad, objective),
                    "prompt": prompt,
                    "chosen": good,
                    "rejected": bad,
                    "objective": objective,
                    "source": Path(path).name,
                    "split": assign_split(prompt, salt, test_fraction),
                    "meta": {},
                }
            )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS).drop_duplicates("id")
