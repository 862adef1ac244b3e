"""Remote sources in ingest's cache key: the listing of an s3:// prefix on moto's S3 server, the content of an
hf:// folder, the commit of a Hub dataset in the local cache."""

from __future__ import annotations

import json

import pytest

from components.data.sources import SourceError
from components.data.versions import hf_version, hub_revision, s3_version
from paretoflow.config import load_params
from paretoflow.steps import STEPS
from tests.conftest import tiny
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)

ROW = {"prompt": [{"role": "user", "content": "I feel low."}], "chosen": "That sounds hard.", "rejected": "Cheer up."}


def _jsonl(*rows: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_s3_listing_changes_with_an_added_or_rewritten_object_only(s3_endpoint):  # noqa: F811
    client = make_bucket(s3_endpoint, "versions")
    client.put_object(Bucket="versions", Key="prefs/a.jsonl", Body=_jsonl(ROW))
    uri = "s3://versions/prefs"
    first = s3_version(uri, endpoint_url=s3_endpoint)
    assert s3_version(uri, endpoint_url=s3_endpoint) == first
    client.put_object(Bucket="versions", Key="prefs-other/x.jsonl", Body=b"{}\n")  # another prefix
    client.put_object(Bucket="versions", Key="prefs/notes.txt", Body=b"not data")  # not a data file
    assert s3_version(uri, endpoint_url=s3_endpoint) == first
    client.put_object(Bucket="versions", Key="prefs/b.jsonl", Body=_jsonl(ROW))
    added = s3_version(uri, endpoint_url=s3_endpoint)
    assert added != first
    client.put_object(Bucket="versions", Key="prefs/b.jsonl", Body=_jsonl({**ROW, "chosen": "I hear you."}))
    assert s3_version(uri, endpoint_url=s3_endpoint) not in (first, added)
    with pytest.raises(SourceError, match="cannot list objects"):
        s3_version("s3://no-such-bucket/x", endpoint_url=s3_endpoint)


def test_ingest_key_follows_the_s3_listing(project, model_cache, s3_endpoint):  # noqa: F811
    client = make_bucket(s3_endpoint, "keyed")
    client.put_object(Bucket="keyed", Key="p/a.jsonl", Body=_jsonl(ROW))
    source = f"{{name: remote, uri: s3://keyed/p, format: canonical, endpoint_url: {s3_endpoint}}}"
    params = load_params("params.yaml", tiny(project, model_cache, f"data.sources=[{source}]"))
    key = STEPS["ingest"].cache_key(params)
    assert STEPS["ingest"].cache_key(params) == key
    client.put_object(Bucket="keyed", Key="p/b.jsonl", Body=_jsonl({**ROW, "chosen": "I am here."}))
    assert STEPS["ingest"].cache_key(params) != key


def test_hf_folder_saved_to_disk_is_versioned_by_content(tmp_path):
    import datasets

    def save(rows):
        data = datasets.Dataset.from_list([{**r, "prompt": json.dumps(r["prompt"])} for r in rows])
        datasets.DatasetDict({"train": data}).save_to_disk(tmp_path / "saved")

    save([ROW])
    uri = f"hf://{tmp_path / 'saved'}@train"
    first = hf_version(uri)
    assert first.startswith("md5:") and hf_version(uri) == first
    save([ROW, {**ROW, "chosen": "I am listening."}])
    assert hf_version(uri) != first


def test_hub_dataset_is_versioned_by_the_cached_commit(tmp_path, capsys):
    """Offline (as `paretoflow run` sets HF_HUB_OFFLINE), the commit of the snapshot `datasets` would load."""
    repo = tmp_path / "hub" / "datasets--org--prefs"
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123" / "train.jsonl").write_text(_jsonl(ROW).decode())
    assert hub_revision("org/prefs", tmp_path / "hub") == "abc123"
    assert hf_version("hf://org/prefs@train", tmp_path / "hub") == "revision:abc123"
    (repo / "refs" / "main").write_text("def456")
    (repo / "snapshots" / "def456").mkdir()
    assert hf_version("hf://org/prefs@train", tmp_path / "hub") == "revision:def456"
    unknown = [hf_version("hf://org/unknown@train", tmp_path / "hub") for _ in range(2)]
    assert unknown[0].startswith("unversioned:") and unknown[0] != unknown[1], "unknown: ingest runs every time"
    assert "no revision found" in capsys.readouterr().err
