"""Content-addressed reply cache for chat clients: a re-run asks the judge nothing it has already answered.

The key is the sha256 of (backend, model, max_tokens, temperature, messages), the client's version (the code of
the judge backends, hashed where installed, and the settings that shape replies, `paretoflow.step_params`: the
endpoint's base URL, log-prob settings, input truncation), plus
the verdict method for probability verdicts (stored as JSON numbers). The messages are the rendered prompt, so the
template's content is part of the key: editing a template changes every key.
Replies live in append-only JSONL shards, one per (backend, model); each record is written with one
`write` under an exclusive `flock`, then flushed and fsync'ed, so a run killed at any moment keeps every
reply it had received, and the only damage possible is a torn last line, which reload skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from components.judges.base import ChatClient, Conversation
from components.judges.expected_score import Verdict
from paretoflow.code_deps import code_version
from paretoflow.hashing import text_sha
from paretoflow.step_params import result_settings

log = logging.getLogger(__name__)


def cache_key(
    backend: str,
    model: str,
    messages: Conversation,
    max_tokens: int,
    temperature: float,
    method: str | None = None,
    version: str | None = None,
) -> str:
    payload = {
        "backend": backend,
        "model": model,
        "max_tokens": int(max_tokens),
        "temperature": float(temperature),
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
    }
    if method is not None:
        payload["method"] = method
    if version is not None:
        payload["version"] = version
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class JsonlCache:
    """One append-only shard: `{"key": ..., "reply": ...}` per line, loaded into memory on open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.skipped_lines = 0
        self._replies: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._replies[record["key"]] = record["reply"]
            except (ValueError, KeyError, TypeError):
                self.skipped_lines += 1  # a record torn by a killed writer
        if self.skipped_lines:
            log.warning("judge cache %s: skipped %d torn line(s)", self.path, self.skipped_lines)

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: str) -> str | None:
        return self._replies.get(key)

    def put(self, key: str, reply: str) -> None:
        """Append one record durably; a torn tail left by a killed writer gets its own line first."""
        self.put_many({key: reply})

    def put_many(self, replies: dict[str, str]) -> None:
        """Append records with one locked write and one fsync (a batch of cheap results pays the sync once)."""
        if not replies:
            return
        lines = [json.dumps({"key": k, "reply": r}, ensure_ascii=False) + "\n" for k, r in replies.items()]
        record = "".join(lines).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                record = b"\n" + record
            os.write(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
        self._replies.update(replies)


def shard_name(backend: str, model: str) -> str:
    return f"{backend}-{text_sha(model, length=12)}.jsonl"


def client_version(client: ChatClient) -> str:
    """The judge backends' code and the client's settings that shape replies (not its timeouts or batching): for
    `openai` the endpoint (base URL, without a trailing slash), model and log-prob settings (`top_logprobs`); for
    `hf` the model spec and input truncation (`max_input_tokens`)."""
    settings = getattr(client, "settings", None)
    shaping = result_settings(settings) if settings is not None else {}
    if isinstance(shaping.get("base_url"), str):
        shaping["base_url"] = shaping["base_url"].rstrip("/")
    shaping = json.dumps(shaping, sort_keys=True) if settings is not None else ""
    return text_sha(code_version("components.judges.backends"), shaping, length=12)


class CachedChatClient:
    """Wraps a chat client: answers hits from the cache, sends only the misses (each once), stores each reply
    the moment it arrives. `hits` and `misses` count conversations over the client's life."""

    def __init__(self, inner: ChatClient, directory: str | Path):
        self.inner = inner
        self.backend = inner.backend
        self.model = inner.model
        self.scoring = getattr(inner, "scoring", None)
        self.version = client_version(inner)
        self.cache = JsonlCache(Path(directory) / shard_name(inner.backend, inner.model))
        self.hits = 0
        self.misses = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def stats(self) -> dict[str, float]:
        """Counts for MLflow: cache hits/misses, and the requests and retries the inner client made."""
        out = {"judge/cache_hits": self.hits, "judge/cache_misses": self.misses, "judge/cache_hit_rate": self.hit_rate}
        for name in ("requests", "retries"):
            if hasattr(self.inner, name):
                out[f"judge/{name}"] = getattr(self.inner, name)
        for way, count in getattr(self.inner, "scored_by", {}).items():
            out[f"judge/scored_by_{way}"] = count
        return out

    def _key(self, conversation: Conversation, max_tokens: int, temperature: float, method: str | None = None) -> str:
        return cache_key(self.backend, self.model, conversation, max_tokens, temperature, method, self.version)

    def verdicts(self, conversations: list[Conversation], verdict: Verdict) -> list[float | None]:
        """The inner client's verdict values, cached under the verdict's method; each stored as it arrives."""
        keys = [self._key(c, 0, 0.0, method=verdict.method) for c in conversations]
        found = [self.cache.get(k) for k in keys]
        todo: dict[str, int] = {}
        for i, (key, raw) in enumerate(zip(keys, found)):
            if raw is None:
                todo.setdefault(key, i)
        self.misses += sum(raw is None for raw in found)
        self.hits += sum(raw is not None for raw in found)
        values = {k: json.loads(raw) for k, raw in zip(keys, found) if raw is not None}
        if todo:
            missing = list(todo)

            def store(j: int, value: float | None) -> None:
                self.cache.put(missing[j], json.dumps(value))

            fresh = self.inner.verdicts([conversations[i] for i in todo.values()], verdict, on_value=store)
            values.update(zip(missing, fresh))
        return [values[k] for k in keys]

    def chat(self, conversations: list[Conversation], *, max_tokens: int, temperature: float = 0.0) -> list[str]:
        keys = [self._key(c, max_tokens, temperature) for c in conversations]
        replies: list[str | None] = [self.cache.get(k) for k in keys]
        todo: dict[str, int] = {}  # key -> first index asking it
        for i, (key, reply) in enumerate(zip(keys, replies)):
            if reply is None:
                todo.setdefault(key, i)
        self.misses += sum(r is None for r in replies)
        self.hits += sum(r is not None for r in replies)
        if todo:
            missing = list(todo)

            def store(j: int, reply: str) -> None:
                self.cache.put(missing[j], reply)

            asked = [conversations[i] for i in todo.values()]
            answers = _chat_storing(self.inner, asked, max_tokens, temperature, store)
            fresh = dict(zip(missing, answers))
            replies = [fresh[k] if r is None else r for k, r in zip(keys, replies)]
        return replies  # type: ignore[return-value]


def _chat_storing(
    inner: ChatClient, conversations: list[Conversation], max_tokens: int, temperature: float, store: Callable
) -> list[str]:
    """Clients that report each reply as it arrives (`on_reply`) get every finished item stored even when the
    batch fails later; others are stored when their whole batch returns."""
    if "on_reply" in inspect.signature(inner.chat).parameters:
        return inner.chat(conversations, max_tokens=max_tokens, temperature=temperature, on_reply=store)
    answers = inner.chat(conversations, max_tokens=max_tokens, temperature=temperature)
    for j, reply in enumerate(answers):
        store(j, reply)
    return answers
