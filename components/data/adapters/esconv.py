"""ESConv adapter: emotional-support conversations -> prompts per supporter turn and empathy pairs.

Rules (also in data/README.md):
- Consecutive turns by the same speaker are merged (joined with a space); seeker -> `user`,
  supporter -> `assistant`. Supporter turns before the seeker's first message are dropped from the
  context (a prompt must start with the user).
- One prompt per supporter turn that answers a seeker turn: the dialogue so far, with meta
  (emotion, problem, situation, experience, and the strategies of the reference supporter turn).
  Prompts come from ESConv conversations only, not from `FailedESConv.json`.
- Successful conversation: the seeker rated the supporter's empathy 4 or 5. Low-empathy: rated 1 or
  2, or any conversation of the failed-conversation file, matched by its base name (`FailedESConv.json`, also
  `.jsonl` and gzipped; any case), never by a word in the folders above it.
- A conversation (outside the failed file) that yields no prompt, having no supporter turn after a seeker turn,
  is quarantined: it would otherwise leave no trace in the tables.
- One pair per supporter turn of a successful conversation: chosen = that turn; rejected = a
  supporter turn (one that answers a seeker) from a low-empathy conversation with the same
  normalised strategy, picked by a hash of the prompt so the choice is stable. The rejected reply
  was written for another conversation: the pair teaches "a good supporter's reply here" over "a reply
  seekers rated unempathetic", not a minimal edit.
- All prompts and pairs of one conversation share a split (hashed on its situation and first turn).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from components.data.adapters.formats import Adapted
from components.data.canonical import RecordError
from components.data.sources import TOO_DEEP, Row
from paretoflow.hashing import text_sha

ESCONV_IGNORE = ("strategy.json",)
FAILED_FILE = "failedesconv"  # the base name of ESConv's failed-conversation file, lower case, before its suffixes
SPEAKERS = {  # ESConv (usr/sys) and the upstream raw schema (seeker/supporter, speaker/listener)
    **dict.fromkeys(("usr", "seeker", "speaker"), "user"),
    **dict.fromkeys(("sys", "supporter", "listener"), "assistant"),
}
STRATEGY_ALIASES = {
    "Questions": "Question",
    "Other": "Others",
    "Restatement": "Restatement or Paraphrasing",
    "Approval and Reassurance": "Affirmation and Reassurance",
    "Direct Guidance": "Providing Suggestions",
}


def adapt_esconv(rows: Iterable[Row], objective: str | None) -> Adapted:
    conversations, pool = [], {}
    for row in rows:
        try:
            conv = _conversation(row)
        except RecordError as exc:
            yield row, exc
            continue
        except RecursionError:
            yield row, RecordError(TOO_DEEP)
            continue
        if conv["low_empathy"]:
            for turn in conv["turns"]:
                if turn["answers_seeker"]:
                    pool.setdefault(turn["strategy"], []).append((row, turn))
        if not conv["failed"]:
            conversations.append((row, conv))
    everything = [item for turns in pool.values() for item in turns]
    for row, conv in conversations:
        prompts = list(_prompts(conv))
        if not prompts:
            yield row, RecordError("conversation has no supporter turn answering a seeker turn, so no prompt")
        for prompt, turn in prompts:
            meta = {**conv["meta"], "strategy": turn["strategy"], "strategies": turn["strategies"]}
            split_key = conv["split_key"]
            yield row, {"prompt": prompt, "meta": meta, "split_key": split_key}
            if conv["successful"] and everything:
                candidates = pool.get(turn["strategy"]) or everything
                other_row, other = candidates[int(text_sha(str(prompt), length=8), 16) % len(candidates)]
                yield (
                    row,
                    {
                        "prompt": prompt,
                        "chosen": turn["content"],
                        "rejected": other["content"],
                        "objective": objective,
                        "meta": {**meta, "rejected_from": f"{other_row.file}#{other_row.number}"},
                        "split_key": split_key,
                    },
                )


def _conversation(row: Row) -> dict:
    record = row.record
    if isinstance(record, RecordError):
        raise record
    if not isinstance(record, dict) or not isinstance(record.get("dialog"), list) or not record["dialog"]:
        raise RecordError("conversation must be an object with a non-empty `dialog` list")
    failed = is_failed_file(row.file)
    turns = _merged_turns(record["dialog"])
    survey = record.get("survey_score") if isinstance(record.get("survey_score"), dict) else {}
    seeker = survey.get("seeker") if isinstance(survey.get("seeker"), dict) else {}
    empathy = str(seeker.get("empathy") or "").strip()
    meta = {
        "emotion": str(record.get("emotion_type") or ""),
        "problem": str(record.get("problem_type") or ""),
        "situation": str(record.get("situation") or ""),
        "experience": str(record.get("experience_type") or ""),
        "seeker_empathy": empathy,
        "conversation": f"{row.file}#{row.number}",
    }
    first = next((t["content"] for t in turns if t["role"] == "user"), "")
    return {
        "turns": turns,
        "failed": failed,
        "successful": not failed and empathy in ("4", "5"),
        "low_empathy": failed or empathy in ("1", "2"),
        "meta": meta,
        "split_key": meta["situation"] + "\n" + first,
    }


def is_failed_file(file: str) -> bool:
    """`FailedESConv.json` (or .jsonl, .json.gz...) by its base name; `file` is a path or an s3:// URI."""
    return PurePosixPath(file.replace("\\", "/")).name.split(".")[0].lower() == FAILED_FILE


def _merged_turns(dialog: list) -> list[dict]:
    """Both schemas (`text`/`speaker: usr|sys`/`strategy` and upstream `content`/`annotation.strategy`)."""
    turns: list[dict] = []
    for i, turn in enumerate(dialog):
        if not isinstance(turn, dict):
            raise RecordError(f"dialog[{i}] must be an object")
        speaker = turn.get("speaker")
        role = SPEAKERS.get(speaker) if isinstance(speaker, str) else None
        if role is None:
            raise RecordError(f"dialog[{i}].speaker {turn.get('speaker')!r} is not a seeker or supporter role")
        text = turn.get("text", turn.get("content"))
        if not isinstance(text, str):
            raise RecordError(f"dialog[{i}] text must be a string, got {type(text).__name__}")
        annotation = turn.get("annotation") if isinstance(turn.get("annotation"), dict) else {}
        strategy = turn.get("strategy") or annotation.get("strategy")
        if strategy is not None and not isinstance(strategy, str):
            raise RecordError(f"dialog[{i}] strategy must be a string, got {type(strategy).__name__}")
        strategy = STRATEGY_ALIASES.get(strategy, strategy)
        if not text.strip():
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += " " + text.strip()
            if strategy and strategy not in turns[-1]["strategies"]:
                turns[-1]["strategies"].append(strategy)
        else:
            turns.append({"role": role, "content": text.strip(), "strategies": [strategy] if strategy else []})
    seen_seeker = False
    for turn in turns:
        turn["strategy"] = turn["strategies"][0] if turn["strategies"] else "Others"
        turn["answers_seeker"] = turn["role"] == "assistant" and seen_seeker
        seen_seeker = seen_seeker or turn["role"] == "user"
    return turns


def _prompts(conv: dict):
    turns = conv["turns"]
    start = next((i for i, t in enumerate(turns) if t["role"] == "user"), len(turns))
    for i in range(start + 1, len(turns)):
        if turns[i]["role"] == "assistant":
            prompt = [{"role": t["role"], "content": t["content"]} for t in turns[start:i]]
            yield prompt, turns[i]
