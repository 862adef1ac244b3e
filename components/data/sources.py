"""Where rows come from: local files and folders, `s3://` objects, `hf://` datasets -> raw rows with their origin.

File-level problems (missing path, not gzip, truncated, not UTF-8, NUL bytes, a JSON array in a
JSON-lines file, a giant line, missing columns, a Parquet column of a type JSON cannot hold, an object that
cannot be downloaded) raise `SourceError` naming the file and the fix: they mean the file is not what it claims,
so no row of it can be trusted, and the source is refused. Row-level problems (an unparseable line, one nested
deeper than the JSON parser goes) come through as a `RecordError` in place of the record, to be quarantined.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from components.data.canonical import RecordError

MAX_LINE_BYTES = 16 * 2**20
TEXT_TYPES = (".jsonl", ".ndjson", ".json", ".csv")
TYPES = (*TEXT_TYPES, ".parquet")
GZIP_MAGIC = b"\x1f\x8b"


TOO_DEEP = f"nested deeper than the JSON parser allows (about {sys.getrecursionlimit()} levels)"


class SourceError(ValueError):
    """A source that cannot be read as configured; the message names the file and what to do."""


@dataclass(frozen=True)
class Row:
    file: str
    unit: str  # "line" for JSON lines, "row" for records of JSON arrays, tables and datasets
    number: int  # 1-based
    record: Any  # a parsed record, or a RecordError when the line could not be parsed

    @property
    def where(self) -> dict:
        return {"file": self.file, self.unit: self.number}


def read_rows(uri: str, columns: tuple[str, ...] = (), ignore: tuple[str, ...] = (), endpoint_url=None):
    """Rows of every file behind `uri`; `columns` are required in tabular files, `ignore` lists file names."""
    if uri.startswith("s3://"):
        yield from _s3_rows(uri, columns, ignore, endpoint_url)
    elif uri.startswith("hf://"):
        yield from _hf_rows(uri)
    else:
        for path in local_files(uri, ignore):
            yield from file_rows(path, columns)


def local_files(uri: str, ignore: tuple[str, ...] = ()) -> list[Path]:
    path = Path(uri)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"{uri} does not exist; fix data.sources[].uri in params (paths are relative to the project)")
    return sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) in TYPES and p.name not in ignore)


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def file_rows(path: Path, columns: tuple[str, ...] = (), label: str | None = None) -> Iterator[Row]:
    """Rows of one local file; `label` is the name to report (an s3:// URI for downloaded objects)."""
    label = label or str(path)
    kind = _kind(path)
    if kind not in TYPES:
        raise SourceError(f"{label}: unknown file type; name it .jsonl, .json, .csv or .parquet (optionally .gz)")
    if path.stat().st_size == 0:
        return
    try:
        if kind == ".parquet":
            yield from _parquet_rows(path, label, columns)
            return
        with _open(path, label) as fh:
            if kind in (".jsonl", ".ndjson"):
                yield from _jsonl_rows(fh, label)
            elif kind == ".json":
                yield from _json_rows(fh, label)
            else:
                yield from _csv_rows(fh, label, columns)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SourceError(f"{label}: the gzip stream is truncated or corrupt ({exc}); copy the file again") from None


def is_empty(uri: str, ignore: tuple[str, ...] = ()) -> list[str]:
    """Local files behind `uri` with no bytes or only whitespace, for a warning in the report (they read as no
    rows)."""
    if uri.startswith(("s3://", "hf://")):
        return []
    return [str(p) for p in local_files(uri, ignore) if _blank(p)]


def _blank(path: Path, limit: int = 64 * 2**10) -> bool:
    size = path.stat().st_size
    if size == 0:
        return True
    if size > limit or _kind(path) not in TEXT_TYPES:
        return False
    try:
        with _open(path, str(path)) as fh:
            return not fh.read(limit + 1).strip()
    except (SourceError, OSError, EOFError, zlib.error):
        return False


def _open(path: Path, label: str):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")
    if path.suffix.lower() == ".gz":
        raise SourceError(f"{label}: named .gz but not gzip-compressed; rename it without .gz or compress it")
    return open(path, "rb")


def _decode(raw: bytes, label: str, line: int) -> str:
    if b"\x00" in raw:
        raise SourceError(f"{label}: NUL bytes at line {line}; this looks like a binary or corrupted file, not text")
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{label}: not UTF-8 at line {line} ({exc.reason} at byte {exc.start}); "
            "re-encode it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def _jsonl_rows(fh, label: str) -> Iterator[Row]:
    first = True
    for number in range(1, 2**62):
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise SourceError(
                f"{label}: line {number} is longer than {MAX_LINE_BYTES // 2**20} MiB; "
                "split the record or check that the file really is JSON lines"
            )
        text = _decode(raw, label, number)
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            record = RecordError(f"not valid JSON: {exc}")
        except RecursionError:
            record = RecordError(TOO_DEEP)
        if first and text.lstrip().startswith("[") and not isinstance(record, dict):
            raise SourceError(
                f"{label}: holds a JSON array, not JSON lines (one object per line); "
                "name it .json, or convert it with jq -c '.[]'"
            )
        first = False
        yield Row(label, "line", number, record)


def _json_rows(fh, label: str) -> Iterator[Row]:
    text = _decode(fh.read(), label, 1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "; if it holds one object per line, name it .jsonl" if "Extra data" in exc.msg else ""
        raise SourceError(f"{label}: not valid JSON ({exc.msg} at line {exc.lineno}){hint}") from None
    except RecursionError:
        raise SourceError(
            f"{label}: {TOO_DEEP}, so the file cannot be parsed; write it as JSON lines (.jsonl) so that only "
            "the deep records are quarantined, or flatten them"
        ) from None
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, start=1):
        yield Row(label, "row", number, record)


def _check_columns(found, columns: tuple[str, ...], label: str) -> None:
    missing = [c for c in columns if c not in found]
    if missing:
        raise SourceError(
            f"{label}: missing column(s) {', '.join(missing)} (found {', '.join(map(str, found))}); "
            "rename the columns or pick the right format in data.sources"
        )


def _csv_rows(fh, label: str, columns: tuple[str, ...]) -> Iterator[Row]:
    text = _decode(fh.read(), label, 1)
    if not text.strip():  # no header, no rows: read like an empty file (ingest warns, or refuses an empty source)
        return
    try:
        chunks = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], chunksize=20_000)
        number = 0
        for chunk in chunks:
            _check_columns(list(chunk.columns), columns, label)
            for record in chunk.astype(object).where(chunk.notna(), None).to_dict("records"):
                number += 1
                yield Row(label, "row", number, record)
    except pd.errors.ParserError as exc:
        raise SourceError(f"{label}: not valid CSV ({exc}); check quoting and the number of fields") from None


def _parquet_rows(path: Path, label: str, columns: tuple[str, ...]) -> Iterator[Row]:
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError variants for non-Parquet bytes
        raise SourceError(
            f"{label}: not a readable Parquet file ({exc}); write it again with pandas or pyarrow"
        ) from None
    _check_columns(table.schema_arrow.names, columns, label)
    _check_json_types(table.schema_arrow, label)
    number = 0
    for batch in table.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            number += 1
            yield Row(label, "row", number, record)


def _check_json_types(schema: pa.Schema, label: str) -> None:
    """Rows are JSON values (as from a .jsonl file): a column of bytes, timestamps, decimals... cannot be one."""
    for field in schema:
        problem = _non_json(field.type, field.name)
        if problem:
            column, kind = problem
            raise SourceError(
                f"{label}: column {column} has type {kind}, which a JSON row cannot hold; cast it to text (for "
                "example ISO 8601 for times, base64 for bytes) or drop it, and write the file again"
            )


def _non_json(t: pa.DataType, name: str) -> tuple[str, str] | None:
    """(column path, type) of the first part of an Arrow type that is not null, bool, int, float, text, list,
    struct or map (of those), else None."""
    if pa.types.is_dictionary(t):
        return _non_json(t.value_type, name)
    plain = (pa.types.is_null, pa.types.is_boolean, pa.types.is_integer, pa.types.is_string, pa.types.is_large_string)
    if any(check(t) for check in plain) or t in (pa.float32(), pa.float64()) or str(t) == "string_view":
        return None
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _non_json(t.value_type, f"{name}[]")
    if pa.types.is_map(t):
        return _non_json(t.key_type, f"{name} keys") or _non_json(t.item_type, f"{name} values")
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            problem = _non_json(t.field(i).type, f"{name}.{t.field(i).name}")
            if problem:
                return problem
        return None
    return name, str(t)


def _s3_rows(uri: str, columns, ignore, endpoint_url) -> Iterator[Row]:
    """Objects under an s3:// key or prefix, downloaded one at a time to a temporary folder and read locally."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint_url)
    bucket = uri[len("s3://") :].partition("/")[0]
    keys = [o["Key"] for o in s3_objects(uri, ignore, endpoint_url, client)]
    if not keys:
        raise SourceError(f"{uri}: no .jsonl/.json/.csv/.parquet object at this key or prefix; check the URI")
    with tempfile.TemporaryDirectory(prefix="paretoflow-s3-") as tmp:
        for k in keys:
            local = Path(tmp) / Path(k).name
            _download(client, bucket, k, local, uri)
            yield from file_rows(local, columns, label=f"s3://{bucket}/{k}")
            local.unlink()


def s3_objects(uri: str, ignore: tuple[str, ...] = (), endpoint_url=None, client=None) -> list[dict]:
    """The data objects an s3:// source reads, sorted by key: `{Key, ETag, Size}` from list_objects_v2 (what
    ingest's cache key holds, so new or changed objects make the next run ingest again)."""
    import boto3
    import botocore.exceptions

    bucket, _, key = uri[len("s3://") :].partition("/")
    client = client or boto3.client("s3", endpoint_url=endpoint_url)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        listing = [o for page in pages for o in page.get("Contents", [])]
    except botocore.exceptions.BotoCoreError as exc:
        raise SourceError(f"{uri}: cannot list objects ({exc}); check the endpoint and AWS_* credentials") from None
    except botocore.exceptions.ClientError as exc:
        raise SourceError(f"{uri}: cannot list objects ({exc}); check the bucket name and permissions") from None
    return sorted(
        (
            {"Key": o["Key"], "ETag": o.get("ETag"), "Size": o.get("Size")}
            for o in listing
            if (o["Key"] == key or o["Key"].startswith(key.rstrip("/") + "/") or not key)
            and not o["Key"].endswith("/")
            and _kind(Path(o["Key"])) in TYPES
            and Path(o["Key"]).name not in ignore
        ),
        key=lambda o: o["Key"],
    )


def _download(client, bucket: str, key: str, local: Path, uri: str) -> None:
    """One object to a local file; a refusal (403), a vanished object or an outage refuses the whole source, with
    the object named, rather than leaving a source read in part."""
    import boto3.exceptions
    import botocore.exceptions

    try:
        client.download_file(bucket, key, str(local))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, boto3.exceptions.Boto3Error) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, botocore.exceptions.ClientError) else None
        fix = {
            "403": "the credentials may not read this object: check AWS_* credentials, the bucket policy and the role",
            "404": "it was listed but is gone: the bucket changed during the run; run again",
        }.get(str(code), "check that the endpoint is up and reachable, then run again")
        raise SourceError(
            f"s3://{bucket}/{key} (source {uri}): cannot download ({exc}); {fix}. The source is refused: "
            "no row of it is used"
        ) from None


@dataclass(frozen=True)
class HfLocation:
    """Where an `hf://` source loads from: a local folder (a `save_to_disk` dataset or a folder of data files),
    else a Hub dataset id with an optional config and data_dir (a subset kept in a folder of the repository, as
    HH-RLHF's `helpful-base`)."""

    path: str
    config: str | None
    data_dir: str | None
    splits: tuple[str, ...]
    local: bool


def hf_location(uri: str) -> HfLocation:
    """`hf://owner/name[/data_dir][:config]@split[+split...]`, or `hf://local/folder[:config]@split`.

    A path that exists here is a local folder, whole; otherwise the first two parts are the Hub id and the rest
    its data_dir (`hf://Anthropic/hh-rlhf/helpful-base@train`). Splits joined by `+` are read one after another."""
    spec, at, split = uri[len("hf://") :].partition("@")
    splits = tuple(s.strip() for s in split.split("+"))
    if not at or not all(splits):
        raise SourceError(
            f"{uri}: name the split, as in hf://owner/name[/data_dir][:config]@split (e.g. @train, @train+validation)"
        )
    name, _, config = spec.partition(":")
    if name and Path(name).exists():
        return HfLocation(name, config or None, None, splits, local=True)
    parts = [p for p in name.split("/") if p]
    if not parts:
        raise SourceError(f"{uri}: name a dataset, as in hf://owner/name@train")
    repo, data_dir = "/".join(parts[:2]), "/".join(parts[2:]) or None
    return HfLocation(repo, config or None, data_dir, splits, local=False)


def _hf_rows(uri: str) -> Iterator[Row]:
    """`hf://` sources (`hf_location`): a Hub id (with data_dir), a folder of data files, or a `save_to_disk`
    folder."""
    where = hf_location(uri)
    import datasets

    saved = where.local and any((Path(where.path) / f).is_file() for f in ("dataset_dict.json", "state.json"))
    try:
        if saved:
            loaded = datasets.load_from_disk(where.path)
            parts = [loaded[s] for s in where.splits] if isinstance(loaded, datasets.DatasetDict) else [loaded]
            dataset = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        else:
            dataset = datasets.load_dataset(
                where.path, where.config, data_dir=where.data_dir, split="+".join(where.splits)
            )
    except (KeyError, ValueError, FileNotFoundError, ConnectionError) as exc:
        raise SourceError(
            f"{uri}: cannot load this dataset split ({exc}); check the id, data_dir, config and split"
        ) from None
    _check_json_types(dataset.features.arrow_schema, uri)
    for number, record in enumerate(dataset, start=1):
        yield Row(uri, "row", number, record)
