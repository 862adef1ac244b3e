"""Content-addressed cache for rubric results that no chat client caches: offline rubrics and scores.

The judges' chat cache stores LLM replies; this one stores what is computed from them or without them,
keyed by a hash of everything the result depends on (backend, model, the version of the code computing it,
inputs). It reuses the judges' append-only JSONL shard, so an interrupted run keeps every finished item.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from components.judges.cache import JsonlCache


def content_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ResultCache:
    """JSON values by content key; `hits` and `misses` count lookups (the re-run's hit rate)."""

    def __init__(self, directory: str | Path, name: str):
        self.store = JsonlCache(Path(directory) / f"{name}.jsonl")
        self.hits = 0
        self.misses = 0

    def get(self, key: str):
        raw = self.store.get(key)
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(raw)

    def put(self, key: str, value) -> None:
        self.store.put(key, json.dumps(value, ensure_ascii=False))

    def put_many(self, items: dict[str, object]) -> None:
        self.store.put_many({key: json.dumps(value, ensure_ascii=False) for key, value in items.items()})

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
