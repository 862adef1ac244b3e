"""Is the seeker a fair judge? Replay real ESConv conversations, supporter turn by supporter turn, and compare the
seeker's emotion with what the real seekers reported (algorithms.md 2.2; validation of issue 18).

The seeker reads each real supporter turn and the real seeker turn after it (it never writes one), so its emotion
trajectory is a judgement of the real supporter. ESConv's survey gives the real seeker's negative-emotion intensity
before and after (1-5) and the empathy they rated; `FailedESConv.json` holds conversations that went badly.
Conversations are those of the project's own test split (`data.splits`: the ingest adapter's split key).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from components.data.adapters.esconv import conversation, is_failed_file
from components.data.canonical import assign_split
from components.data.sources import Row
from components.seeker.persona import from_conversation
from components.seeker.simulator import Conversation, Seeker
from paretoflow.hashing import text_sha

ESCONV_FILES = ("train.jsonl.gz", "valid.jsonl", "FailedESConv.json")


def esconv_conversations(folder: str | Path, salt: str, test_fraction: float, split: str = "test") -> list[dict]:
    """Every conversation of the folder's ESConv files in `split`, as `esconv.conversation` gives it plus its
    seeker survey (`survey`), in a stable order (a hash of the split key)."""
    out = []
    for name in ESCONV_FILES:
        for number, record in enumerate(_records(Path(folder) / name), start=1):
            conv = conversation(Row(str(Path(folder) / name), "line", number, record))
            if assign_split([], salt, test_fraction, conv["split_key"]) != split:
                continue
            survey = (record.get("survey_score") or {}).get("seeker") or {}
            out.append(conv | {"survey": survey, "failed": is_failed_file(name)})
    return sorted(out, key=lambda c: text_sha(c["split_key"]))


def _records(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"ESConv file {path} is missing; the real data lives in ../shared/data/esconv")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        text = f.read()
    return json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line]


def reported_change(survey: dict) -> float | None:
    """How much the real seeker's negative emotion fell (initial - final intensity, -4..4); None without both."""
    try:
        return float(int(survey["initial_emotion_intensity"]) - int(survey["final_emotion_intensity"]))
    except (KeyError, TypeError, ValueError):
        return None


def replay(seeker: Seeker, convs: list[dict], max_supporter_turns: int | None = None) -> list[Conversation]:
    """The seeker's judgement of each conversation: from the first seeker turn, every supporter turn it answers (up
    to `max_supporter_turns`) judged in batches across conversations, each followed by the real seeker turn."""
    scripts, played = [], []
    for conv in convs:
        turns = conv["turns"]
        start = next(i for i, t in enumerate(turns) if t["role"] == "user")
        opening = [{"role": "user", "content": turns[start]["content"]}]
        played.append(seeker.begin(from_conversation(conv), opening))
        events = [(t["role"], t["content"]) for t in turns[start + 1 :]]
        if max_supporter_turns is not None:
            events = _first_supporter_turns(events, max_supporter_turns)
        scripts.append(events)
    cursor = [0] * len(convs)
    while True:
        due = [i for i, events in enumerate(scripts) if cursor[i] < len(events)]
        if not due:
            return played
        seeker.respond([played[i] for i in due], [scripts[i][cursor[i]][1] for i in due], play=False)
        for i in due:
            cursor[i] += 1
            if cursor[i] < len(scripts[i]) and scripts[i][cursor[i]][0] == "user":
                seeker.add_seeker_turn(played[i], scripts[i][cursor[i]][1])
                cursor[i] += 1


def _first_supporter_turns(events: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """The events up to the `limit`-th supporter turn and the seeker turn after it."""
    out, seen = [], 0
    for role, text in events:
        if role == "assistant":
            if seen == limit:
                break
            seen += 1
        out.append((role, text))
    return out
