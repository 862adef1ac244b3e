"""Content hashes that agree with DVC's: md5 of a file, and `<md5 of the listing>.dir` for a folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_md5(path: str | Path) -> str:
    """The md5 DVC records in dvc.lock for this path (a folder hashes its sorted file listing)."""
    path = Path(path)
    if path.is_file():
        return file_md5(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist; run the step that produces it first")
    listing = sorted(
        ({"md5": file_md5(f), "relpath": f.relative_to(path).as_posix()} for f in path.rglob("*") if f.is_file()),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def text_sha(*parts: str, length: int = 16) -> str:
    """Short stable id from text parts (record ids, split keys)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]
