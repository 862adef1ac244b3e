"""s3:// sources against moto's S3 server on loopback, and hf:// sources through the `datasets` library."""

import gzip
import json

import pytest
from typer.testing import CliRunner

from components.data.ingest import ingest
from components.data.sources import SourceError
from paretoflow.cli import app
from paretoflow.config import load_params
from tests.conftest import SHARED_DATA, tiny
from tests.moto_s3 import CREDENTIALS, make_bucket, s3_endpoint  # noqa: F401  (fixture)

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


def test_s3_object_refused_with_403_mid_source_refuses_the_source(project, model_cache, s3_endpoint):  # noqa: F811
    """The listing succeeds, then a bucket policy denies one object: a real 403 from the server, and no partial
    source (the rows of the readable object are not used either)."""
    client = make_bucket(s3_endpoint, "locked")
    client.put_object(Bucket="locked", Key="data/a.jsonl", Body=(json.dumps(GOOD) + "\n").encode())
    client.put_object(Bucket="locked", Key="data/b.jsonl", Body=(json.dumps(GOOD) + "\n").encode())
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::locked/data/b.jsonl"}
    client.put_bucket_policy(Bucket="locked", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    source = f"data.sources=[{{name: locked, uri: s3://locked/data, endpoint_url: {s3_endpoint}}}]"
    args = [x for o in tiny(project, model_cache, source) for x in ("-o", o)]
    out = CliRunner().invoke(app, ["ingest", "--out", str(project / "out"), *args])
    message = " ".join(out.stderr.split())
    assert out.exit_code == 1 and "Traceback" not in out.output, out.output
    assert "s3://locked/data/b.jsonl (source s3://locked/data): cannot download" in message and "403" in message
    assert "bucket policy" in message and "The source is refused" in message
    assert not (project / "out" / "pairs.parquet").exists()


def test_s3_outage_mid_source_and_before_listing_refuse_the_source(monkeypatch):
    """A moto server of its own, stopped after the first object was read, then stopped before the listing."""
    import boto3
    from moto.server import ThreadedMotoServer

    from components.data.sources import read_rows

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore's retries of a refused connection, kept short
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="outage")
    for name in ("a", "b"):
        client.put_object(Bucket="outage", Key=f"d/{name}.jsonl", Body=(json.dumps(GOOD) + "\n").encode() * 2)
    rows = read_rows("s3://outage/d", endpoint_url=endpoint)
    assert next(rows).file == "s3://outage/d/a.jsonl"
    server.stop()
    with pytest.raises(
        SourceError, match=r"s3://outage/d/b\.jsonl \(source s3://outage/d\): cannot download .*connect"
    ):
        list(rows)
    with pytest.raises(SourceError, match=r"s3://outage/d: cannot list objects .*check the endpoint"):
        list(read_rows("s3://outage/d", endpoint_url=endpoint))
