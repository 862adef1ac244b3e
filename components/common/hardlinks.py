"""Identical files under several folders stored once: each embedding-head reward model saves its frozen encoder
beside its head (a directory is the whole model), so a run with four objectives and their evaluators wrote eight
copies of the same MiniLM weights (about 90 MB each)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from paretoflow.hashing import file_md5

MIN_BYTES = 1 << 20  # weights, not the small files (configs, reports) a later step could rewrite in place


def link_identical_files(*roots: Path, min_bytes: int = MIN_BYTES) -> dict[str, int]:
    """Replace every file of at least `min_bytes` under `roots` whose bytes equal an earlier one's with a hard link
    to it (same file system; where linking fails the copy stays). Returns the files linked and the bytes that no
    longer take space. Only files that share a size are hashed (with the md5 the step's lineage records anyway)."""
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in sorted(p for root in roots if Path(root).is_dir() for p in Path(root).rglob("*") if p.is_file()):
        if (size := path.stat().st_size) >= min_bytes:
            by_size[size].append(path)
    linked = saved = 0
    for size, paths in by_size.items():
        first: dict[str, Path] = {}
        for path in paths if len(paths) > 1 else ():
            original = first.setdefault(file_md5(path), path)
            if original == path or os.path.samefile(original, path):
                continue
            staged = path.with_name(path.name + ".link")
            try:
                os.link(original, staged)
                os.replace(staged, path)
            except OSError:
                staged.unlink(missing_ok=True)
                continue
            linked, saved = linked + 1, saved + size
    return {"files": linked, "bytes": saved}
