"""ingest: sources listed in params -> canonical `pairs` and `prompts` tables, quarantine and a report.

Every row read is accounted for: accepted, quarantined (with source, line and reason) or a duplicate.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from components.canonical import (
    PAIR_COLUMNS,
    PROMPT_COLUMNS,
    RecordError,
    assign_split,
    check_messages,
    check_reply,
    pair_id,
    prompt_id,
    write_table,
)
from paretoflow.config import Params, Source

OUT_DIR = Path("artifacts/data")


def ingest(params: Params, out_dir: Path = OUT_DIR) -> dict:
    """Read every source, write the canonical tables; return the report (counts reconcile per source)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    objectives = set(params.objective_names)
    pairs, prompts, quarantine, report = {}, {}, [], {}
    for source in params.data.sources:
        counts = Counter(read=0, accepted=0, quarantined=0, duplicates=0)
        for line, record in _read_rows(source):
            counts["read"] += 1
            try:
                table, row = _canonical_row(record, source, objectives, params)
            except RecordError as exc:
                counts["quarantined"] += 1
                quarantine.append({"source": source.name, "line": line, "reason": str(exc), "row": record})
                continue
            seen = pairs if table == "pairs" else prompts
            if row["id"] in seen:
                counts["duplicates"] += 1
                continue
            seen[row["id"]] = row
            counts["accepted"] += 1
        report[source.name] = dict(counts)
    pairs_df = pd.DataFrame(list(pairs.values()), columns=PAIR_COLUMNS)
    prompts_df = pd.DataFrame(list(prompts.values()), columns=PROMPT_COLUMNS)
    write_table(pairs_df, out_dir / "pairs.parquet")
    write_table(prompts_df, out_dir / "prompts.parquet")
    with open(out_dir / "quarantine.jsonl", "w") as fh:
        for item in quarantine:
            fh.write(json.dumps(item, default=str) + "\n")
    summary = {
        "sources": report,
        "pairs": len(pairs_df),
        "prompts": len(prompts_df),
        "quarantined": len(quarantine),
        "pairs_by_objective_split": {
            f"{o}/{s}": int(n) for (o, s), n in pairs_df.groupby(["objective", "split"]).size().items()
        },
        "prompts_by_split": {s: int(n) for s, n in prompts_df["split"].value_counts().sort_index().items()},
    }
    (out_dir / "ingest_report.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _read_rows(source: Source):
    """Yield (line number, parsed object or the raw text when it is not JSON) from a jsonl[.gz] file."""
    path = Path(source.uri)
    if not path.is_file():
        raise FileNotFoundError(f"data source {source.name!r}: {source.uri} not found (data.sources in params)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                yield line, json.loads(text)
            except json.JSONDecodeError as exc:
                yield line, {"_unparsed": text.rstrip("\n")[:500], "_error": str(exc)}


def _canonical_row(record, source: Source, objectives: set[str], params: Params) -> tuple[str, dict]:
    if not isinstance(record, dict):
        raise RecordError("row is not a JSON object")
    if "_unparsed" in record:
        raise RecordError(f"not valid JSON: {record['_error']}")
    messages = check_messages(record.get("prompt"))
    split = record.get("split") or assign_split(messages, params.data.splits.salt, params.data.splits.test_fraction)
    if split not in ("train", "test"):
        raise RecordError(f"split {split!r} must be train or test")
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError("meta must be an object")
    origin = record.get("source") or source.name
    if "chosen" not in record and "rejected" not in record:
        return "prompts", {
            "id": prompt_id(messages),
            "prompt": messages,
            "source": origin,
            "split": split,
            "meta": meta,
        }
    chosen, rejected = check_reply(record, "chosen"), check_reply(record, "rejected")
    if chosen.strip() == rejected.strip():
        raise RecordError("chosen and rejected are identical")
    objective = record.get("objective") or source.objective
    if objective not in objectives:
        raise RecordError(f"objective {objective!r} is not one of the configured objectives {sorted(objectives)}")
    return "pairs", {
        "id": pair_id(messages, chosen, rejected, objective),
        "prompt": messages,
        "chosen": chosen,
        "rejected": rejected,
        "objective": objective,
        "source": origin,
        "split": split,
        "meta": meta,
    }


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("ingest")
