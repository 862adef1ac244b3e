"""Step records: a cache hit is trusted only when the outputs on disk are the ones a successful run under the same
key made. The real ingest step, run with params A, then a failing B, then A again, in a project copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paretoflow import records
from paretoflow.config import load_params
from paretoflow.hashing import dvc_md5
from paretoflow.steps import STEPS, StepFailed, execute
from tests.conftest import tiny


def test_stale_says_why_until_the_outputs_are_the_recorded_ones(project):
    out = Path("artifacts/thing")  # relative to the project, as the step table names outputs
    out.mkdir(parents=True)
    (out / "a.txt").write_text("A")
    assert "no record" in records.stale("thing", "key-a", [out])
    records.remember("thing", "key-a", records.outputs_md5([out]))
    assert records.stale("thing", "key-a", [out]) is None
    assert "other inputs or params" in records.stale("thing", "key-b", [out])
    (out / "a.txt").write_text("B")  # same size: the md5 state db sees the new mtime and hashes it again
    assert records.stale("thing", "key-a", [out]) == "artifacts/thing changed since the step made it"
    (out / "a.txt").unlink()
    (out / "b.txt").write_text("A")
    assert "changed" in records.stale("thing", "key-a", [out])
    records.forget("thing")
    assert "no record" in records.stale("thing", "key-a", [out])
    records.remember("gone", "k", {"artifacts/gone": "x"})
    assert records.stale("gone", "k", [Path("artifacts/gone")]) == "artifacts/gone is missing"


def test_a_failed_ingest_leaves_no_record_a_later_run_trusts(project, model_cache):
    """Ingest writes its tables before it stops on the quarantine limit: B's tables are on disk, A's record must go."""
    step = STEPS["ingest"]
    a = load_params("params.yaml", tiny(project, model_cache))
    execute("ingest", a)
    key_a, tables_a = step.cache_key(a), dvc_md5("artifacts/data")
    assert step.stale(key_a) is None
    assert json.loads((project / "artifacts/records/ingest.json").read_text())["key"] == key_a

    extra = project / "extra.jsonl"
    good = {
        "prompt": [{"role": "user", "content": "My dog died."}],
        "chosen": "I'm so sorry.",
        "rejected": "Get a cat.",
    }
    extra.write_text(json.dumps({**good, "objective": "empathy"}) + "\n" + "{not json\n")
    sources = [s.model_dump(exclude_none=True) for s in a.data.sources] + [{"name": "extra", "uri": "extra.jsonl"}]
    b = load_params(
        "params.yaml",
        tiny(project, model_cache, f"data.sources={json.dumps(sources)}", "data.max_quarantine_fraction=0"),
    )
    with pytest.raises(StepFailed, match="too many rows rejected"):
        execute("ingest", b)
    assert dvc_md5("artifacts/data") != tables_a, "B's tables were written before the step failed"
    assert not (project / "artifacts/records/ingest.json").exists()
    assert "no record" in step.stale(key_a)

    execute("ingest", a)
    assert step.stale(key_a) is None and dvc_md5("artifacts/data") == tables_a
    os.utime(project / "artifacts/data/pairs.parquet")  # touched, same bytes: hashed again, still the same
    assert step.stale(key_a) is None
