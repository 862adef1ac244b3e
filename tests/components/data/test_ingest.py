import json

import pandas as pd

from components.data.canonical import read_table
from components.data.ingest import ingest
from paretoflow.config import load_params
from tests.conftest import tiny


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_sample_data_ingests_completely(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    report = ingest(params, project / "out")
    assert report["sources"]["sample-pairs"] == {
        "read": 340,
        "accepted": 340,
        "quarantined": 0,
        "duplicates": 0,
    }
    assert report["sources"]["sample-prompts"] == {
        "read": 60,
        "accepted": 60,
        "quarantined": 0,
        "duplicates": 0,
    }
    pairs = read_table(project / "out" / "pairs.parquet")
    prompts = read_table(project / "out" / "prompts.parquet")
    assert set(pairs["objective"]) == {"empathy", "helpfulness", "harmlessness"}
    assert pairs["id"].is_unique and prompts["id"].is_unique
    assert isinstance(pairs["prompt"].iloc[0], list) and pairs["prompt"].iloc[0][-1]["role"] == "user"
    assert set(pairs["split"]) == {"train", "test"}


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(project, model_cache):
    good = {
        "prompt": [{"role": "user", "content": "I feel low."}],
        "chosen": "That sounds hard.",
        "rejected": "Cheer up.",
        "objective": "empathy",
    }
    _write(
        project / "mixed.jsonl",
        [
            good,
            good,  # exact duplicate
            "{not json",
            {**good, "prompt": [{"role": "assistant", "content": "hi"}]},
            {**good, "rejected": good["chosen"]},
            {**good, "objective": "wit"},
            [1, 2],
        ],
    )
    params = load_params(
        "params.yaml",
        tiny(project, model_cache, "data.sources=[{name: mixed, uri: mixed.jsonl}]", "data.max_quarantine_fraction=1"),
    )
    report = ingest(params, project / "out")
    counts = report["sources"]["mixed"]
    assert counts == {"read": 7, "accepted": 1, "quarantined": 5, "duplicates": 1}
    assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"]
    quarantine = [json.loads(line) for line in (project / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert [q["line"] for q in quarantine] == [3, 4, 5, 6, 7]
    reasons = " | ".join(q["reason"] for q in quarantine)
    for expected in (
        "not valid JSON",
        "end with a user message",
        "identical",
        "'wit' is not one of",
        "not a JSON object",
    ):
        assert expected in reasons


def test_output_is_byte_stable_across_runs(project, model_cache):
    """Downstream cache keys hash these files: the same input must give the same bytes."""
    params = load_params("params.yaml", tiny(project, model_cache))
    ingest(params, project / "a")
    ingest(params, project / "b")
    for name in ("pairs.parquet", "prompts.parquet", "ingest_report.json"):
        assert (project / "a" / name).read_bytes() == (project / "b" / name).read_bytes()


def test_appending_rows_never_moves_existing_rows_between_splits(project, model_cache):
    params = load_params("params.yaml", tiny(project, model_cache))
    ingest(params, project / "before")
    before = pd.read_parquet(project / "before" / "pairs.parquet").set_index("id")["split"]
    extra = [
        {
            "prompt": [{"role": "user", "content": f"New worry number {i}."}],
            "chosen": "I hear you.",
            "rejected": "Whatever.",
            "objective": "empathy",
        }
        for i in range(50)
    ]
    with open(project / "data/sample/pairs.jsonl", "a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in extra)
    ingest(params, project / "after")
    after = pd.read_parquet(project / "after" / "pairs.parquet").set_index("id")["split"]
    assert len(after) == len(before) + 50
    assert (after.loc[before.index] == before).all()
