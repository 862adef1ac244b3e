"""Ingest benchmark: throughput (rows/s) and peak RSS over all of ../shared/data, and over N times that.

The larger inputs are synthesised by repetition: copy k of every file has " [k]" appended to its text
fields, so copies are new rows rather than duplicates and the output tables grow too. Each scale runs in
its own process, so its peak RSS is its own. Writes `benchmarks/results/ingest.json`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TAGGED = {"chosen", "rejected", "text", "content", "questionID", "questionTitle", "questionText", "answerText"}
SOURCES = [  # (folder under the data root, name, format, objective)
    ("hh-rlhf/helpful-base.dev.jsonl.gz", "helpful", "hh-rlhf", "helpfulness"),
    ("hh-rlhf/harmless-base.dev.jsonl.gz", "harmless", "hh-rlhf", "harmlessness"),
    ("esconv", "esconv", "esconv", None),
    ("counsel-chat/counsel_chat.dev.csv", "counselchat", "counselchat", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: run one scale
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_scale(args.one)))
        return
    runs = []
    for scale in args.scales:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.ingest", "--one", str(scale)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]))
    base = runs[0]
    for run in runs:
        run["seconds_per_base_seconds"] = round(run["ingest_seconds"] / base["ingest_seconds"], 2)
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "runs": runs}
    out = REPO / "benchmarks" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def run_scale(scale: int) -> dict:
    from components.data.ingest import ingest
    from paretoflow.config import load_params

    with tempfile.TemporaryDirectory(prefix="paretoflow-bench-") as tmp:
        root = SHARED if scale == 1 else synthesise(Path(tmp) / "data", scale)
        synth_rss = _peak_rss_mb()
        sources = [
            {"name": name, "uri": str(root / rel), "format": fmt, **({"objective": obj} if obj else {})}
            for rel, name, fmt, obj in SOURCES
        ]
        params = load_params(REPO / "params.yaml", ["profile=tiny", f"data.sources={json.dumps(sources)}"])
        started = time.perf_counter()
        report = ingest(params, Path(tmp) / "out")
        seconds = time.perf_counter() - started
    input_rows = sum(report["input_rows"].values())
    read = sum(c["read"] for c in report["sources"].values())
    return {
        "scale": scale,
        "input_rows": input_rows,
        "records_read": read,
        "pairs": report["pairs"],
        "prompts": report["prompts"],
        "ingest_seconds": round(seconds, 2),
        "input_rows_per_s": round(input_rows / seconds),
        "records_per_s": round(read / seconds),
        "peak_rss_mb": _peak_rss_mb(),
        "peak_rss_mb_before_ingest": synth_rss,
    }


def _peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def synthesise(dest: Path, scale: int) -> Path:
    """`scale` tagged copies of every source file, in the same formats (gzip where the original is)."""
    for rel, *_ in SOURCES:
        src = SHARED / rel
        files = [src] if src.is_file() else sorted(p for p in src.iterdir() if p.suffix in (".gz", ".jsonl", ".json"))
        for path in files:
            out = dest / path.relative_to(SHARED)
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.name.endswith(".csv"):
                _csv_copies(path, out, scale)
            elif path.name.endswith((".jsonl", ".jsonl.gz")):
                opener = gzip.open if path.suffix == ".gz" else open
                with opener(path, "rt") as fh, opener(out, "wt") as w:
                    records = [json.loads(line) for line in fh]
                    for k in range(scale):
                        w.writelines(json.dumps(_tag(r, k)) + "\n" for r in records)
            elif path.name == "strategy.json":  # metadata, not rows
                out.write_text(path.read_text())
            else:  # a JSON array of conversations (FailedESConv.json)
                data = json.loads(path.read_text())
                out.write_text(json.dumps([_tag(r, k) for k in range(scale) for r in data]))
    return dest


def _csv_copies(path: Path, out: Path, scale: int) -> None:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(_tag(r, k) for k in range(scale) for r in rows)


def _tag(value, k: int, key: str | None = None):
    if k == 0:
        return value
    if isinstance(value, dict):
        return {name: _tag(v, k, name) for name, v in value.items()}
    if isinstance(value, list):
        return [_tag(v, k, key) for v in value]
    return f"{value} [{k}]" if isinstance(value, str) and key in TAGGED else value


if __name__ == "__main__":
    main()
