"""Register learns the inputs behind a front from the lineage files steps write as they run, not from the step
table (which sits above the components)."""

from __future__ import annotations

import json

from components.registry.register import step_inputs_md5


def test_step_inputs_are_the_union_of_the_lineage_files(tmp_path):
    (tmp_path / "ingest.json").write_text(json.dumps({"components/data": "a.dir", "data/sample/pairs.jsonl": "b"}))
    (tmp_path / "validate.json").write_text(json.dumps({"components/data": "a.dir", "artifacts/data": "c.dir"}))
    assert step_inputs_md5(tmp_path) == {
        "components/data": "a.dir",
        "data/sample/pairs.jsonl": "b",
        "artifacts/data": "c.dir",
    }
    assert step_inputs_md5(tmp_path / "none") == {}
