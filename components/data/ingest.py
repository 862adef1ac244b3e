"""ingest: sources listed in params -> canonical `pairs` and `prompts` tables, quarantine and a report.

Every row read is accounted for: accepted, quarantined (with source, file, line or row number, reason and the
record) or a duplicate. A source with no rows at all is refused unless its `allow_empty` is set.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from components.data.adapters import adapters
from components.data.canonical import (
    PAIR_COLUMNS,
    PROMPT_COLUMNS,
    RecordError,
    assign_split,
    check_json,
    check_messages,
    check_reply,
    check_text,
    encode_meta,
    encode_prompt,
    pair_id,
    prompt_id,
    write_encoded_table,
)
from components.data.sources import SourceError, is_empty, read_rows
from paretoflow import paths, tracking
from paretoflow.schema import Params, Source


class QuarantineLimitExceeded(ValueError):
    """Too much of a source was rejected to trust the rest; the report and quarantine are written first."""


def ingest(params: Params, out_dir: Path = paths.DATA) -> dict:
    """Read every source, write the canonical tables; return the report (counts reconcile per source).

    Duplicates are exact: the same content hash (prompt, and for pairs chosen, rejected, objective) seen
    earlier in this or an earlier source. For esconv and counselchat, `read` counts the candidate records
    the adapter derived (prompts and pairs) plus input rows it rejected; `input_rows` counts file rows.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    objectives = set(params.objective_names)
    formats = adapters()
    pairs, prompts, quarantine, report, input_rows, warnings = {}, {}, [], {}, {}, []
    shared: dict[str, str] = {}  # one copy of each prompt's JSON text, shared by its prompt row and pairs
    for source in params.data.sources:
        adapter = formats[source.format]
        counts = Counter(read=0, accepted=0, quarantined=0, duplicates=0)
        input_rows[source.name] = Counter()
        rows = _counted(
            read_rows(source.uri, adapter.columns, adapter.ignore, source.endpoint_url), input_rows[source.name]
        )
        for row, item in adapter.adapt(rows, source.objective or adapter.objective):
            counts["read"] += 1
            try:
                if isinstance(item, RecordError):
                    raise item
                table, out = _canonical_row(item, source, objectives, params)
            except RecordError as exc:
                counts["quarantined"] += 1
                kept = item if isinstance(item, dict) else row.record
                quarantine.append({"source": source.name, **row.where, "reason": str(exc), "record": kept})
                continue
            seen = pairs if table == "pairs" else prompts
            if out["id"] in seen:
                counts["duplicates"] += 1
                continue
            text = encode_prompt(out["prompt"])
            seen[out["id"]] = {**out, "prompt": shared.setdefault(text, text), "meta": encode_meta(out["meta"])}
            counts["accepted"] += 1
        report[source.name] = dict(counts)
        input_rows[source.name] = input_rows[source.name]["rows"]
        empty = is_empty(source.uri, adapter.ignore)
        if not input_rows[source.name] and not source.allow_empty:
            raise SourceError(_empty_source(source, empty))
        warnings += [f"{source.name}: {f} is empty, no rows read from it" for f in empty]
    pairs_df, prompts_df = _frame(pairs, PAIR_COLUMNS), _frame(prompts, PROMPT_COLUMNS)
    write_encoded_table(pairs_df, out_dir / "pairs.parquet")
    write_encoded_table(prompts_df, out_dir / "prompts.parquet")
    with open(out_dir / "quarantine.jsonl", "w", encoding="utf-8") as fh:
        for item in quarantine:
            fh.write(_quarantine_line(item) + "\n")
    summary = {
        "sources": report,
        "input_rows": input_rows,
        "warnings": warnings,
        "pairs": len(pairs_df),
        "prompts": len(prompts_df),
        "quarantined": len(quarantine),
        "duplicates": sum(c["duplicates"] for c in report.values()),
        "pairs_by_objective_split": {
            f"{o}/{s}": int(n) for (o, s), n in pairs_df.groupby(["objective", "split"]).size().items()
        },
        "prompts_by_split": {s: int(n) for s, n in prompts_df["split"].value_counts().sort_index().items()},
    }
    (out_dir / "ingest_report.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tracking.log_metrics({f"ingest/{name}/{k}": v for name, c in report.items() for k, v in c.items()})
    _check_quarantine(report, params.data.max_quarantine_fraction, out_dir)
    return summary


def _empty_source(source: Source, empty_files: list[str]) -> str:
    if empty_files == [source.uri]:
        why = "the file is empty"
    elif empty_files:
        shown = ", ".join(empty_files[:3]) + (f" and {len(empty_files) - 3} more" if len(empty_files) > 3 else "")
        why = f"every data file in it is empty: {shown}"
    else:
        why = "no data file or object in it holds a row"
    return (
        f"data source {source.name!r} ({source.uri}) has no rows ({why}); check its uri and files, or set "
        "allow_empty: true on it in data.sources if an empty source is expected"
    )


def _quarantine_line(item: dict) -> str:
    """One JSON line (ASCII, so lone surrogates stay escaped); a record too deep to write is named, not written."""
    try:
        return json.dumps(item, default=str)
    except (RecursionError, ValueError):
        return json.dumps({**item, "record": f"({type(item['record']).__name__} nested too deeply to write)"})


def _frame(rows: dict[str, dict], columns: list[str]) -> pd.DataFrame:
    """Column by column, emptying `rows`; object columns keep the strings shared (pandas 3's default string dtype
    would copy every one into Arrow buffers: 1.8 instead of 1.6 GB peak RSS at ten times ../shared/data)."""
    values = list(rows.values())
    rows.clear()
    return pd.DataFrame({c: [row[c] for row in values] for c in columns}, columns=columns, dtype=object)


def _counted(rows, counts: Counter):
    for row in rows:
        counts["rows"] += 1
        yield row


def _check_quarantine(report: dict, limit: float, out_dir: Path) -> None:
    over = [
        f"{name}: {c['quarantined']} of {c['read']} rows ({c['quarantined'] / c['read']:.0%})"
        for name, c in report.items()
        if c["read"] and c["quarantined"] / c["read"] > limit
    ]
    if over:
        raise QuarantineLimitExceeded(
            f"too many rows rejected (data.max_quarantine_fraction is {limit}): {'; '.join(over)}; "
            f"see the reasons in {out_dir / 'quarantine.jsonl'} and {out_dir / 'ingest_report.json'}"
        )


def _canonical_row(record, source: Source, objectives: set[str], params: Params) -> tuple[str, dict]:
    messages = check_messages(record.get("prompt"))
    if isinstance(record.get("split_key"), str):
        check_text(record["split_key"], "the conversation's split key (its situation and first turn)")
    splits = params.data.splits
    split = record.get("split") or assign_split(messages, splits.salt, splits.test_fraction, record.get("split_key"))
    if split not in ("train", "test"):
        raise RecordError(f"split {split!r} must be train or test")
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError("meta must be an object")
    check_json(meta, "meta")
    origin = record.get("source") or source.name
    if not isinstance(origin, str):
        raise RecordError(f"source must be a string, got {type(origin).__name__}")
    check_text(origin, "source")
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
    if not isinstance(objective, str) or objective not in objectives:
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
