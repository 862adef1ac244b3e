"""Format adapters: raw rows of a known public format -> candidate canonical records.

A candidate has `prompt` (messages) and, for a pair, `chosen`, `rejected`, `objective`; plus `meta`
and an optional `split_key` (text hashed for the split instead of the prompt, so that turns of one
conversation share a split). `components.data.ingest` checks candidates and gives them ids. Each adapter
yields (row, candidate or RecordError) so that every problem reaches the quarantine with its row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from components.data.canonical import RecordError
from components.data.sources import TOO_DEEP, Row

Adapted = Iterator[tuple[Row, dict | RecordError]]


@dataclass(frozen=True)
class Adapter:
    adapt: Callable[[Iterable[Row], str | None], Adapted]
    columns: tuple[str, ...] = ()  # required in tabular files (CSV, Parquet)
    ignore: tuple[str, ...] = ()  # file names in a folder source that are not data
    objective: str | None = None  # implied objective; None: the source must name one for its pairs
    needs_objective: bool = False


def per_record(fn: Callable[[dict, str | None], dict]) -> Callable[[Iterable[Row], str | None], Adapted]:
    """Lift a one-record-to-one-candidate function into an adapter; parse errors and RecordErrors pass through."""

    def adapt(rows: Iterable[Row], objective: str | None) -> Adapted:
        for row in rows:
            if isinstance(row.record, RecordError):
                yield row, row.record
            elif not isinstance(row.record, dict):
                yield row, RecordError("row is not a JSON object")
            else:
                try:
                    candidate = fn(row.record, objective)
                except RecordError as exc:
                    candidate = exc
                except RecursionError:
                    candidate = RecordError(TOO_DEEP)
                yield row, candidate

    return adapt


# --- canonical ----------------------------------------------------------------------------------


def canonical_record(record: dict, objective: str | None) -> dict:
    """Users' own rows: the canonical fields themselves; a CSV may hold the prompt as JSON text or plain text.

    Null values (empty CSV cells, missing Parquet values) mean "not given"; an empty string in JSON is an error.
    """
    fields = ("prompt", "chosen", "rejected", "objective", "split", "source", "meta")
    out = {k: record[k] for k in fields if k in record and not _null(record[k])}
    prompt = out.get("prompt")
    if isinstance(prompt, str):
        out["prompt"] = _json_or(prompt, [{"role": "user", "content": prompt}])
    if isinstance(out.get("meta"), str):
        out["meta"] = _json_or(out["meta"], out["meta"])
    if "chosen" in out or "rejected" in out:
        out.setdefault("objective", objective)
    return out


def _null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _json_or(text: str, fallback):
    if text.lstrip().startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise RecordError(f"not valid JSON text: {text[:80]!r}") from None
        except RecursionError:
            raise RecordError(f"JSON text {TOO_DEEP}") from None
    return fallback


# --- hh-rlhf ------------------------------------------------------------------------------------

HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")
HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_hh(transcript) -> list[dict]:
    """`\\n\\nHuman: ...\\n\\nAssistant: ...` -> messages; text before the first turn is an error, not a message."""
    if not isinstance(transcript, str):
        raise RecordError(f"transcript must be a string, got {type(transcript).__name__}")
    parts = HH_TURN.split(transcript)
    if parts[0].strip() or len(parts) < 3:
        raise RecordError("transcript must start with '\\n\\nHuman:' and hold Human/Assistant turns")
    return [{"role": HH_ROLES[r], "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2])]


def hh_rlhf_record(record: dict, objective: str | None) -> dict:
    """The prompt is every message before the final Assistant turn of `chosen`; both transcripts must share it."""
    chosen, rejected = parse_hh(record.get("chosen")), parse_hh(record.get("rejected"))
    if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
        raise RecordError("transcript must end with an Assistant turn (the reply being compared)")
    if chosen[:-1] != rejected[:-1]:
        raise RecordError("chosen and rejected transcripts differ before their final Assistant turn")
    prompt = chosen[:-1]
    if any(m["role"] != ("user", "assistant")[i % 2] for i, m in enumerate(prompt)):
        raise RecordError("Human and Assistant turns do not alternate in the prompt")
    return {
        "prompt": prompt,
        "chosen": chosen[-1]["content"],
        "rejected": rejected[-1]["content"],
        "objective": objective,
        "meta": {"turns": len(prompt)},
    }


# --- counselchat --------------------------------------------------------------------------------

COUNSEL_COLUMNS = ("questionID", "questionTitle", "questionText", "answerText", "upvotes")


def counselchat_rows(rows: Iterable[Row], objective: str | None) -> Adapted:
    """One prompt per question, and a pair for every two answers to it with different upvotes (more upvotes chosen).

    Upvotes are sparse (about 70% of answers have none) and depend on exposure, so most pairs separate an
    answer with 1 upvote from one with 0: a weak, noisy label. `meta.upvote_margin` lets a user filter.
    """
    questions: dict[str, list[tuple[Row, dict]]] = {}
    for row in rows:
        record = row.record
        if isinstance(record, RecordError) or not isinstance(record, dict):
            yield row, record if isinstance(record, RecordError) else RecordError("row is not an object")
            continue
        try:
            answer = _counsel_answer(record)
        except RecordError as exc:
            yield row, exc
            continue
        except RecursionError:
            yield row, RecordError(TOO_DEEP)
            continue
        questions.setdefault(answer["question_id"], []).append((row, answer))
    for answers in questions.values():
        first_row, first = answers[0]
        prompt = [{"role": "user", "content": first["question"]}]
        meta = {"topic": first["topic"], "question_id": first["question_id"]}
        yield first_row, {"prompt": prompt, "meta": meta}
        for i, (row, a) in enumerate(answers):
            for _, b in answers[i + 1 :]:
                if a["upvotes"] == b["upvotes"]:
                    continue
                hi, lo = (a, b) if a["upvotes"] > b["upvotes"] else (b, a)
                pair_meta = {**meta, "upvotes": [hi["upvotes"], lo["upvotes"]]}
                pair_meta["upvote_margin"] = hi["upvotes"] - lo["upvotes"]
                yield (
                    row,
                    {
                        "prompt": prompt,
                        "chosen": hi["answer"],
                        "rejected": lo["answer"],
                        "objective": objective,
                        "meta": pair_meta,
                    },
                )


def _counsel_answer(record: dict) -> dict:
    try:
        upvotes = int(str(record.get("upvotes")).strip())
    except ValueError:
        raise RecordError(f"upvotes {record.get('upvotes')!r} is not a whole number") from None
    if upvotes < 0:
        raise RecordError(f"upvotes {upvotes} is negative")
    title, text = (str(record.get(k) or "").strip() for k in ("questionTitle", "questionText"))
    answer = record.get("answerText")
    if not isinstance(answer, str) or not answer.strip():
        raise RecordError("answerText is missing or empty")
    # the Hub's CSV loader types questionID as an integer, and question 0 is a question: only a missing id is none
    question_id = "" if record.get("questionID") is None else str(record["questionID"]).strip()
    if not question_id or not (title or text):
        raise RecordError("questionID and a question title or text are required")
    # the text alone when it already opens with the title (or there is no title), the title alone without text
    question = text if text.startswith(title) else (f"{title}\n\n{text}" if text else title)
    return {
        "question_id": question_id,
        "question": question,
        "topic": str(record.get("topic") or ""),
        "answer": answer.strip(),
        "upvotes": upvotes,
    }
