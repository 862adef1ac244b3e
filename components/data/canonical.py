"""The canonical records shared by every step: ids, hash splits, message checks, table I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from paretoflow.hashing import text_sha

ROLES = ("system", "user", "assistant")
MAX_DEPTH = 64  # nesting a canonical value may have (`meta`); deeper rows are quarantined, not written
PAIR_COLUMNS = ["id", "prompt", "chosen", "rejected", "objective", "source", "split", "meta"]
PROMPT_COLUMNS = ["id", "prompt", "source", "split", "meta"]


class RecordError(ValueError):
    """A row that cannot enter the canonical tables; the message is the quarantine reason."""


def transcript(messages: list[dict]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def prompt_id(messages: list[dict]) -> str:
    return text_sha(transcript(messages))


def pair_id(messages: list[dict], chosen: str, rejected: str, objective: str) -> str:
    return text_sha(transcript(messages), chosen, rejected, objective)


def assign_split(messages: list[dict], salt: str, test_fraction: float, key: str | None = None) -> str:
    """Split by a hash of the prompt text alone (or of `key`, e.g. a whole conversation): stable when rows are added."""
    bucket = int(text_sha(salt, key if key is not None else transcript(messages), length=8), 16) / 16**8
    return "test" if bucket < test_fraction else "train"


def check_messages(value) -> list[dict]:
    """Return the prompt as clean {role, content} messages or raise with the reason."""
    if not isinstance(value, list) or not value:
        raise RecordError("prompt must be a non-empty list of {role, content} messages")
    messages = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or set(m) - {"role", "content"} or not {"role", "content"} <= set(m):
            raise RecordError(f"prompt[{i}] must be an object with exactly role and content")
        if m["role"] not in ROLES:
            raise RecordError(f"prompt[{i}].role {m['role']!r} is not one of {', '.join(ROLES)}")
        if not isinstance(m["content"], str) or not m["content"].strip():
            raise RecordError(f"prompt[{i}].content is empty")
        check_text(m["content"], f"prompt[{i}].content")
        messages.append({"role": m["role"], "content": m["content"]})
    if messages[-1]["role"] != "user":
        raise RecordError("prompt must end with a user message (the policy writes the next reply)")
    return messages


def check_reply(record: dict, field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{field} is missing or empty")
    return check_text(value, field)


def check_text(value: str, field: str) -> str:
    """Text a UTF-8 table can hold: JSON's `\\ud800` escapes decode to lone surrogates, which Parquet (and every
    later step's UTF-8) cannot write."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RecordError(
            f"{field} holds a lone surrogate ({value[exc.start]!r} at character {exc.start}), which is not valid "
            "Unicode text; fix the escaping where the row was written (a \\ud83d\\ude00 pair is fine, half is not)"
        ) from None
    return value


def check_json(value, field: str):
    """A free-form value a canonical row keeps as JSON (`meta`): JSON types only, valid text (keys too), at most
    `MAX_DEPTH` levels deep. Walked without recursion, so a row nested 10 000 levels deep is quarantined."""
    todo = [(field, value, 1)]
    while todo:
        where, item, depth = todo.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif item is None or isinstance(item, bool | int | float):
            continue
        elif depth >= MAX_DEPTH:
            raise RecordError(f"{field} is nested deeper than {MAX_DEPTH} levels (at {where}); flatten it")
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise RecordError(f"{where} has a key {key!r} that is not text")
                check_text(key, f"a key of {where}")
            todo.extend((f"{where}.{k}", v, depth + 1) for k, v in reversed(item.items()))
        elif isinstance(item, list | tuple):
            todo.extend((f"{where}[{i}]", v, depth + 1) for i, v in reversed(list(enumerate(item))))
        else:
            raise RecordError(
                f"{where} holds a {type(item).__name__}, which JSON cannot encode; store it as text (e.g. ISO 8601 "
                "for a time)"
            )
    return value


def encode_prompt(messages: list[dict]) -> str:
    return json.dumps(messages)


def encode_meta(meta: dict) -> str:
    return json.dumps(meta, sort_keys=True)


def write_table(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    out["prompt"] = out["prompt"].map(encode_prompt)
    out["meta"] = out["meta"].map(encode_meta)
    write_encoded_table(out, path)


def write_encoded_table(df: pd.DataFrame, path: Path) -> None:
    """A table whose `prompt` and `meta` are already JSON text (ingest keeps them so, to save memory)."""
    df.to_parquet(path, index=False)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a canonical table; `prompt` comes back as message lists and `meta` as dicts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run `paretoflow ingest` first")
    df = pd.read_parquet(path)
    df["prompt"] = df["prompt"].map(json.loads)
    df["meta"] = df["meta"].map(json.loads)
    return df
