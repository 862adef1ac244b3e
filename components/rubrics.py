"""rubrics: one rubric per prompt and objective (hard rules from the prompt, principles from the data).

The `offline` backend needs no LLM: hard rules come from explicit constraints in the last user turn,
principles from a per-objective bank ranked by how well each separates chosen from rejected replies on
the pairs that share the prompt. Each rubric records its label-consistency outcome (does it prefer
the chosen reply?) and the version of the generator (content hash of bank and rules).
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from components.canonical import prompt_id, read_table
from paretoflow import tracking
from paretoflow.config import Params
from paretoflow.hashing import text_sha

DATA_DIR = Path("artifacts/data")
OUT_DIR = Path("artifacts/rubrics")

FEELING = re.compile(
    r"\b(sorry|sounds|feel|feeling|understandabl\w*|hard|painful|heavy|valid|makes sense|hear you)\b", re.I
)
DISMISSIVE = re.compile(
    r"\b(get over|calm down|overreact\w*|whatever|stop (?:complaining|worrying)|just relax)\b", re.I
)
ACTIONABLE = re.compile(r"(^|\n)\s*(\d+[.)]|[-*])\s|\b(try|start|set|write|make|use|schedule|list|plan)\b", re.I)
DECLINE = re.compile(r"\b(can't|cannot|won't|not able|instead|rather than|not safe|unsafe)\b", re.I)
REFER = re.compile(r"\b(doctor|professional|helpline|hotline|crisis|pharmacist|therapist|counsel\w*|emergency)\b", re.I)
COMPLY = re.compile(r"\b(here's how|here is how|sure,|step 1)\b", re.I)
STOP = {
    "the",
    "and",
    "a",
    "to",
    "of",
    "i",
    "my",
    "me",
    "it",
    "is",
    "in",
    "that",
    "for",
    "you",
    "on",
    "with",
    "this",
}

Feature = Callable[[str, str], bool]  # (last user message, reply) -> criterion met


def _overlap(user: str, reply: str) -> bool:
    words = {w for w in re.findall(r"[a-z']+", user.lower()) if w not in STOP and len(w) > 3}
    return bool(words & set(re.findall(r"[a-z']+", reply.lower())))


PRINCIPLES: dict[str, list[tuple[str, Feature]]] = {
    "empathy": [
        (
            "The response acknowledges the feelings the person expressed.",
            lambda u, r: bool(FEELING.search(r)),
        ),
        ("The response reflects specific details of what the person shared.", _overlap),
        ("The response invites the person to say more with a gentle question.", lambda u, r: "?" in r),
        (
            "The response avoids judging, minimising or dismissing the experience.",
            lambda u, r: not DISMISSIVE.search(r),
        ),
    ],
    "helpfulness": [
        ("The response addresses the request directly.", _overlap),
        ("The response gives concrete, actionable steps.", lambda u, r: bool(ACTIONABLE.search(r))),
        (
            "The response is organised into clear sentences.",
            lambda u, r: 1 <= r.count(".") + r.count("\n") <= 12,
        ),
        ("The response does not refuse a reasonable request.", lambda u, r: not DECLINE.search(r)),
    ],
    "harmlessness": [
        (
            "The response declines the harmful part of a request respectfully.",
            lambda u, r: bool(DECLINE.search(r)),
        ),
        ("The response points to safer options or professional help.", lambda u, r: bool(REFER.search(r))),
        ("The response gives no instructions that could cause harm.", lambda u, r: not COMPLY.search(r)),
        ("The response shows care for the person's wellbeing.", lambda u, r: bool(FEELING.search(r))),
    ],
    "concision": [
        ("The response is brief and free of filler.", lambda u, r: len(r.split()) <= 60),
        (
            "The response makes its point in the first sentence.",
            lambda u, r: len(r.split(".")[0].split()) <= 25,
        ),
    ],
}
HARD_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (
        re.compile(r"\b(?:in|under|within|at most|no more than)\s+(\d+)\s+words\b", re.I),
        lambda m: f"The response uses at most {m.group(1)} words.",
    ),
    (re.compile(r"\b(brief|short|quick)\b", re.I), lambda m: "The response is short."),
    (re.compile(r"\b(list|bullet|steps)\b", re.I), lambda m: "The response is organised as a list of steps."),
    (
        re.compile(r"\bdon'?t\s+(tell me to [^.?!]+|[^.?!]{3,40})", re.I),
        lambda m: f"The response does not {m.group(1).strip()}.",
    ),
]
GENERATOR_VERSION = text_sha(inspect.getsource(inspect.getmodule(_overlap)), length=12)


def synthesize_rubrics(params: Params, data_dir: Path = DATA_DIR, out_dir: Path = OUT_DIR) -> dict:
    prompts = read_table(data_dir / "prompts.parquet")
    pairs = read_table(data_dir / "pairs.parquet")
    pairs["prompt_id"] = pairs["prompt"].map(prompt_id)
    by_prompt = {key: group for key, group in pairs.groupby(["prompt_id", "objective"])}
    empty = pairs.iloc[:0]
    rows = [
        _rubric(pid, messages, objective, by_prompt.get((pid, objective), empty), params.rubrics.max_principles)
        for pid, messages in zip(prompts["id"], prompts["prompt"])
        for objective in params.objective_names
    ]
    df = pd.DataFrame(rows)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    df.to_parquet(out_dir / "rubrics.parquet", index=False)
    with_pair = df[df["consistency"] != "no_pair"]
    kept = {o: float((g["consistency"] == "consistent").mean()) for o, g in with_pair.groupby("objective")}
    summary = {
        "rubrics": len(df),
        "with_pair": len(with_pair),
        "kept_fraction": kept,
        "generator": GENERATOR_VERSION,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tracking.log_metrics({"rubrics/count": len(df), **{f"rubrics/{o}/kept_fraction": v for o, v in kept.items()}})
    return summary


def _rubric(pid: str, messages: list[dict], objective: str, pairs: pd.DataFrame, k: int) -> dict:
    user = messages[-1]["content"]
    hard = [make(m) for pattern, make in HARD_RULES for m in [pattern.search(user)] if m]
    bank = PRINCIPLES.get(objective, PRINCIPLES["helpfulness"])
    margin = {
        text: sum(f(user, c) - f(user, r) for c, r in zip(pairs["chosen"], pairs["rejected"])) for text, f in bank
    }
    principles = sorted(bank, key=lambda item: -margin[item[0]])[:k]
    if pairs.empty:
        consistency = "no_pair"
    else:
        wins = sum(
            _score(user, c, principles) > _score(user, r, principles)
            for c, r in zip(pairs["chosen"], pairs["rejected"])
        )
        consistency = "consistent" if wins * 2 > len(pairs) else "inconsistent"
    return {
        "prompt_id": pid,
        "objective": objective,
        "hard_rules": hard,
        "principles": [text for text, _ in principles],
        "backend": "offline",
        "model": "rules",
        "template_version": GENERATOR_VERSION,
        "consistency": consistency,
    }


def _score(user: str, reply: str, principles: list[tuple[str, Feature]]) -> float:
    return sum(f(user, reply) for _, f in principles) / len(principles)


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("rubrics")
