"""Identical files under several folders stored once: each embedding-head reward model saves its frozen encoder
beside its head (a directory is the whole model), so a run with four objectives and their evaluators wrote eight
copies of the same MiniLM weights (about 90 MB each)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MIN_BYTES = 1 << 20  # weights, not the small files (configs, reports) a later step could rewrite in place


def link_identical_files(*roots: Path, min_bytes: int = MIN_BYTES) -> dict[str, int]:
    """Replace every file of at least `min_bytes` under `roots` whose bytes equal an earlier one's with a hard link
    to it (same file system; where linking fails the copy stays). Returns the files linked and the bytes that no
    longer take space."""
    first: dict[tuple[int, str], Path] = {}
    linked = saved = 0
    files = (p for root in roots if Path(root).is_dir() for p in Path(root).rglob("*") if p.is_file())
    for path in sorted(p for p in files if p.stat().st_size >= min_bytes):
        stat = path.stat()
        key = (stat.st_size, _sha256(path))
        original = first.setdefault(key, path)
        if original == path or os.path.samefile(original, path):
            continue
        staged = path.with_name(path.name + ".link")
        try:
            os.link(original, staged)
            os.replace(staged, path)
        except OSError:
            staged.unlink(missing_ok=True)
            continue
        linked, saved = linked + 1, saved + stat.st_size
    return {"files": linked, "bytes": saved}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
