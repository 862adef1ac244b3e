"""Content hashes that agree with DVC's: md5 of a file, and `<md5 of the listing>.dir` for a folder."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

# Like DVC's state db: a file whose size, mtime and inode are unchanged keeps its md5, so cached runs do not
# re-read gigabytes of model weights just to find that nothing changed.
STATE_DB = Path(os.environ.get("PARETOFLOW_MD5_STATE", ".cache/md5-state.sqlite"))


def file_md5(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    with _state() as db:
        row = db.execute("SELECT md5 FROM md5 WHERE path=? AND size=? AND mtime=? AND inode=?", key).fetchone()
        if row:
            return row[0]
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    with _state() as db:
        db.execute("INSERT OR REPLACE INTO md5 VALUES (?, ?, ?, ?, ?)", (*key, digest.hexdigest()))
    return digest.hexdigest()


@contextmanager
def _state():
    STATE_DB.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(STATE_DB, timeout=30)
    try:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS md5 (path TEXT PRIMARY KEY, size INT, mtime INT, inode INT, md5 TEXT)"
            )
            yield db
    finally:
        db.close()


def dvc_md5(path: str | Path) -> str:
    """The md5 DVC records in dvc.lock for this path (a folder hashes its sorted file listing, less what
    .dvcignore ignores: Python's bytecode caches, which importing the code writes into its package folders)."""
    path = Path(path)
    if path.is_file():
        return file_md5(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist; run the step that produces it first")
    files = (f for f in path.rglob("*") if f.is_file() and not _bytecode(f.relative_to(path)))
    listing = sorted(
        ({"md5": file_md5(f), "relpath": f.relative_to(path).as_posix()} for f in files),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def _bytecode(relpath: Path) -> bool:
    return relpath.suffix == ".pyc" or "__pycache__" in relpath.parts


def text_sha(*parts: str, length: int = 16) -> str:
    """Short stable id from text parts (record ids, split keys)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]
