"""s3:// sources against moto's S3 server on loopback, and hf:// sources through the `datasets` library."""

import gzip
import json

import pytest

from components.data.ingest import ingest
from components.data.sources import SourceError
from paretoflow.config import load_params
from tests.conftest import SHARED_DATA, tiny
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)

GOOD = {
    "prompt": [{"role": "user", "content": "I feel low."}],
    "chosen": "That sounds hard.",
    "rejected": "Cheer up.",
    "objective": "empathy",
}


def _run(project, cache, source: str):
    params = load_params(
        "params.yaml", tiny(project, cache, f"data.sources=[{source}]", "data.max_quarantine_fraction=1")
    )
    return ingest(params, project / "out")


def test_s3_prefix_reads_every_object_under_it(project, model_cache, s3_endpoint):  # noqa: F811
    client = make_bucket(s3_endpoint, "prefs")
    hh = (SHARED_DATA / "hh-rlhf" / "helpful-base.dev.jsonl.gz").read_bytes()
    client.put_object(Bucket="prefs", Key="hh/helpful-base.dev.jsonl.gz", Body=hh)
    client.put_object(Bucket="prefs", Key="hh/extra.jsonl", Body=b"")
    client.put_object(Bucket="prefs", Key="hh-other/ignored.jsonl", Body=b"{}\n")
    source = f"{{name: s3hh, uri: s3://prefs/hh, format: hh-rlhf, objective: helpfulness, endpoint_url: {s3_endpoint}}}"
    report = _run(project, model_cache, source)
    assert report["sources"]["s3hh"] == {"read": 1907, "accepted": 1889, "quarantined": 18, "duplicates": 0}
    quarantine = json.loads((project / "out" / "quarantine.jsonl").read_text().splitlines()[0])
    assert quarantine["file"] == "s3://prefs/hh/helpful-base.dev.jsonl.gz" and quarantine["line"] >= 1


def test_s3_single_object_and_clear_errors(project, model_cache, s3_endpoint):  # noqa: F811
    client = make_bucket(s3_endpoint, "single")
    client.put_object(Bucket="single", Key="rows.jsonl.gz", Body=gzip.compress((json.dumps(GOOD) + "\n").encode()))
    source = f"{{name: one, uri: s3://single/rows.jsonl.gz, endpoint_url: {s3_endpoint}}}"
    assert _run(project, model_cache, source)["sources"]["one"]["accepted"] == 1
    with pytest.raises(SourceError, match="no .jsonl/.json/.csv/.parquet object at this key or prefix"):
        _run(project, model_cache, f"{{name: none, uri: s3://single/missing/, endpoint_url: {s3_endpoint}}}")
    with pytest.raises(SourceError, match="cannot list objects .*check the bucket name"):
        _run(project, model_cache, f"{{name: nob, uri: s3://no-such-bucket/x, endpoint_url: {s3_endpoint}}}")


def test_hf_dataset_saved_to_disk_and_a_folder_of_data_files(project, model_cache, tmp_path):
    import datasets

    rows = [GOOD, {**GOOD, "chosen": "I am here for you."}, {**GOOD, "rejected": GOOD["chosen"]}]
    split = datasets.Dataset.from_list([{**r, "prompt": json.dumps(r["prompt"])} for r in rows])
    datasets.DatasetDict({"train": split, "test": split.select([0])}).save_to_disk(tmp_path / "saved")
    report = _run(project, model_cache, f"{{name: hf, uri: 'hf://{tmp_path / 'saved'}@train', format: canonical}}")
    assert report["sources"]["hf"] == {"read": 3, "accepted": 2, "quarantined": 1, "duplicates": 0}
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    report = _run(project, model_cache, f"{{name: hf, uri: 'hf://{tmp_path / 'files'}@train'}}")
    assert report["sources"]["hf"] == {"read": 2, "accepted": 2, "quarantined": 0, "duplicates": 0}
    with pytest.raises(SourceError, match="name the split"):
        _run(project, model_cache, f"{{name: hf, uri: 'hf://{tmp_path / 'files'}'}}")
    with pytest.raises(SourceError, match="cannot load this dataset split"):
        _run(project, model_cache, f"{{name: hf, uri: 'hf://{tmp_path / 'saved'}@validation'}}")
