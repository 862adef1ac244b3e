"""What a step's outputs were when it last succeeded, and under which cache key: a cache hit is trusted only if
the outputs on disk are still those.

A Prefect cache hit says that a run with this key once succeeded, not that its outputs are what `artifacts/`
holds now: a run with other params may have overwritten them since (params A, then B, then A again), or a run
that failed part-way (ingest writes its tables before it stops on the quarantine limit). So `execute` forgets a
step's record before the step touches anything and writes it only once the step has succeeded; the flow takes a
cache hit only when the record names the same key and every output's md5 on disk equals the recorded one. The
md5s come through the md5 state db (`paretoflow.hashing`), which re-reads a file only when its size, mtime or
inode changed, so checking costs a directory walk, not a re-hash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from paretoflow import paths
from paretoflow.hashing import dvc_md5


def _file(step: str) -> Path:
    return paths.RECORDS / f"{step}.json"


def forget(step: str) -> None:
    """Before a step runs: from here until it succeeds, nothing on disk is vouched for."""
    _file(step).unlink(missing_ok=True)


def remember(step: str, key: str, outs: dict[str, str]) -> None:
    """After a step succeeded: its cache key and the md5s of its outputs (written atomically)."""
    target = _file(step)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "outs": outs}, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


def outputs_md5(outs) -> dict[str, str]:
    return {Path(out).as_posix(): dvc_md5(out) for out in outs}


def stale(step: str, key: str, outs) -> str | None:
    """Why the outputs on disk cannot be served for `key` (None when they can)."""
    try:
        record = json.loads(_file(step).read_text())
    except FileNotFoundError:
        return "no record of a successful run with these outputs (never ran here, or its last run failed)"
    except ValueError:
        return f"its record {_file(step)} is unreadable"
    if record.get("key") != key:
        return "the outputs on disk were made with other inputs or params"
    for out in outs:
        name = Path(out).as_posix()
        try:
            current = dvc_md5(out)
        except FileNotFoundError:
            return f"{name} is missing"
        if record["outs"].get(name) != current:
            return f"{name} changed since the step made it"
    return None
