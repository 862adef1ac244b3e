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
- Pairs hold the topic as fixed as ESConv allows (closeness to the prompt still picks the chosen reply in 0.825 of
  held-out pairs, 0.840 under the rule before: benchmarks/results/contrast_pairs.json): each low-empathy
  conversation is matched with one successful conversation of the same emotion and problem type (both sides ordered
  by a hash of their situation and first turn, so the matching is stable). The k-th supporter turn (one that answers
  a seeker) of the successful conversation is chosen; the matched conversation's supporter turn at the same relative
  place is rejected (openings face openings, farewells face farewells). The rejected reply was still written for
  another seeker: the pair teaches "a well-rated supporter's reply here" over "what a poorly rated supporter said at
  this point of a conversation like this one".
- One to one: a low-empathy conversation is matched at most once, so its replies never sit in pairs of two
  conversations that could fall in different splits (under the rule before, a low-empathy turn of the same strategy
  from any conversation, 98% of held-out pairs had their rejected reply among the train pairs' replies; now 5%, all
  stock lines such as "hi" or "Hello, how are you?"). Successful conversations left without a match give prompts
  but no pairs. A pair whose two replies are the same text is dropped. `meta.rejected_strategies` keeps the rejected
  turn's strategies.
- All prompts and pairs of one conversation share a split (hashed on its situation and first turn).
"""

from __future__ import annotations

import json
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
    conversations, low_empathy = [], {}
    for row in rows:
        try:
            conv = conversation(row)
        except RecordError as exc:
            yield row, exc
            continue
        except RecursionError:
            yield row, RecordError(TOO_DEEP)
            continue
        if conv["low_empathy"] and any(t["answers_seeker"] for t in conv["turns"]):
            low_empathy.setdefault(match_key(conv), []).append((row, conv))
        if not conv["failed"]:
            conversations.append((row, conv))
    matches = matched_conversations(conversations, low_empathy)
    for i, (row, conv) in enumerate(conversations):
        replies = list(supporter_replies(conv))
        if not replies:
            yield row, RecordError("conversation has no supporter turn answering a seeker turn, so no prompt")
        match = matches.get(i)
        for k, (prompt, turn) in enumerate(replies):
            meta = {**conv["meta"], "strategy": turn["strategy"], "strategies": turn["strategies"]}
            split_key = conv["split_key"]
            yield row, {"prompt": prompt, "meta": meta, "split_key": split_key}
            if match is None:
                continue
            other_row, other_turns = match
            j = round(k * (len(other_turns) - 1) / max(len(replies) - 1, 1))  # the same relative place
            rejected = other_turns[j]
            if rejected["content"] == turn["content"]:
                continue
            pair_meta = {
                **meta,
                "rejected_from": f"{other_row.file}#{other_row.number}",
                "rejected_turn": j,
                "rejected_strategies": rejected["strategies"],
            }
            pair = {"prompt": prompt, "chosen": turn["content"], "rejected": rejected["content"]}
            yield row, {**pair, "objective": objective, "meta": pair_meta, "split_key": split_key}


def matched_conversations(conversations: list, low_empathy: dict) -> dict[int, tuple[Row, list[dict]]]:
    """Index of a successful conversation -> (the low-empathy conversation's row, its supporter turns), one to one.

    Both sides are ordered by a hash of their content (not their file's path), so the matching is the same wherever
    the data sits."""
    successful: dict[tuple[str, str], list[int]] = {}
    for i, (_, conv) in enumerate(conversations):
        if conv["successful"]:
            successful.setdefault(match_key(conv), []).append(i)
    matches = {}
    for key, indices in successful.items():
        others = sorted(low_empathy.get(key, []), key=lambda item: _order(item[1]))
        ordered = sorted(indices, key=lambda i: _order(conversations[i][1]))
        for i, (row, other) in zip(ordered, others):
            matches[i] = row, [t for t in other["turns"] if t["answers_seeker"]]
    return matches


def _order(conv: dict) -> str:
    """A hash of the conversation's key; JSON text, so a lone surrogate (quarantined later) cannot stop the run."""
    return text_sha(json.dumps(conv["split_key"]))


def match_key(conv: dict) -> tuple[str, str]:
    """What a contrast holds fixed between the two conversations: the seeker's emotion and problem type."""
    return conv["meta"]["emotion"].strip().lower(), conv["meta"]["problem"].strip().lower()


def conversation(row: Row) -> dict:
    """The merged turns of one row, its meta, whether it is successful, low-empathy or from the failed file."""
    record = hub_text_record(row.record)
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


def hub_text_record(record):
    """The Hub's `thu-coai/esconv` keeps each conversation as one line of JSON in text files, which `datasets` reads
    as rows `{"text": "<the conversation's JSON>"}`: such a row is the conversation it holds; any other passes as is."""
    if not isinstance(record, dict) or set(record) != {"text"} or not isinstance(record["text"], str):
        return record
    try:
        return json.loads(record["text"])
    except json.JSONDecodeError as exc:
        raise RecordError(f"text of a Hub ESConv row is not a JSON conversation: {exc}") from None


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


def supporter_replies(conv: dict):
    """(the dialogue so far, the supporter turn answering it), for each supporter turn after the first seeker turn."""
    turns = conv["turns"]
    start = next((i for i, t in enumerate(turns) if t["role"] == "user"), len(turns))
    for i in range(start + 1, len(turns)):
        if turns[i]["role"] == "assistant":
            prompt = [{"role": t["role"], "content": t["content"]} for t in turns[start:i]]
            yield prompt, turns[i]
