"""Rubric reward (Rubric-as-Judge, algorithms.md 1.6 and 2.1): one scorer per objective, TRL's signature, in [0, 1].

`f(prompts, completions, rubric=None, **kwargs)`: GRPO passes a dataset column `rubric` as a keyword (one
rubric per completion: a dict with `hard_rules`/`principles`, the numbered text, or a mapping objective ->
rubric); evaluation passes none, and each prompt's rubric is looked up by prompt id in the rubrics step's
table (kept rubrics only) or synthesized from the prompt alone (hard rules + the objective's principles).
Every score passes the guard (`components.rubrics.guard`) and is cached by content hash.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from components.common.encoder import minilm
from components.common.messages import as_messages, reply_text
from components.data.canonical import prompt_id
from components.rubrics import guard as rubric_guard
from components.rubrics import offline as rubric_offline
from components.rubrics.judging import judge_pointwise
from components.rubrics.parsing import parse_rubric
from components.rubrics.result_cache import ResultCache, content_key
from paretoflow.code_deps import code_version
from paretoflow.factories import JUDGE_BACKENDS
from paretoflow.hashing import text_sha

if TYPE_CHECKING:
    from components.scorers.objectives import ScorerContext
    from paretoflow.schema import Objective, Params


def offline_version() -> str:
    """The version of rubric scoring without an LLM: the code the rubric scorer reaches (offline rules, guard,
    parsing, templates), hashed where it is installed."""
    return code_version(__name__)


def judge_version(kind: str, client) -> str:
    """What a rubric score depends on besides its inputs: the scorer's code and, for an LLM judge, the chat
    client's version (its code and result-shaping settings) and scoring method (expected scores never mix with
    parsed ones)."""
    if kind == "offline":
        return offline_version()
    scoring = getattr(client, "scoring", None) or "parsed-text"
    return text_sha(offline_version(), getattr(client, "version", ""), scoring, length=12)


class RubricJudge:
    """Scores (prompt, reply, rubric) with one backend: offline checks or an LLM's pointwise verdict, guarded."""

    def __init__(self, kind: str, cache_dir: str | Path, client=None, encoder=None):
        if kind != "offline" and client is None:
            raise ValueError(f"judge kind {kind!r} needs a chat client (components.judges.backends.make_chat_client)")
        self.kind = kind
        self.client = client
        self.encoder = encoder or minilm()
        self.model = getattr(client, "model", "minilm+rules")
        self.version = judge_version(kind, client)
        self.cache = ResultCache(Path(cache_dir) / "rubric-cache", "scores")
        self.calls = 0  # scorings not answered by the cache

    def score(self, prompts: list, replies: list[str], rubrics: list[dict]) -> list[float]:
        keys = [
            content_key("score", self.kind, self.model, self.version, as_messages(p), r, _plain(rub))
            for p, r, rub in zip(prompts, replies, rubrics)
        ]
        scores = [self.cache.get(k) for k in keys]
        todo = [i for i, s in enumerate(scores) if s is None]
        if todo:
            fresh = self._score([prompts[i] for i in todo], [replies[i] for i in todo], [rubrics[i] for i in todo])
            self.calls += len(todo)
            for i, value in zip(todo, fresh):
                scores[i] = value
            self.cache.put_many({keys[i]: scores[i] for i in todo})  # one fsync for the batch
        return [float(s) for s in scores]

    def _score(self, prompts: list, replies: list[str], rubrics: list[dict]) -> list[float]:
        signals = rubric_offline.signals(prompts, replies, self.encoder)
        passing = [
            i for i, (r, p) in enumerate(zip(replies, prompts)) if rubric_guard.precheck(r, rubric_offline.dialogue(p))
        ]
        raw: list[float | None] = [0.0] * len(replies)
        judged = [rubrics[i] for i in passing]
        if self.kind == "offline":  # the signals computed above, not embedded again
            base = rubric_offline.score_offline(judged, [signals[i] for i in passing], self.encoder)
        else:  # the guard's pre-check spares the judge every content-free reply
            base = judge_pointwise(self.client, [prompts[i] for i in passing], [replies[i] for i in passing], judged)
        for i, value in zip(passing, base):
            raw[i] = value
        return [
            rubric_guard.guarded(s, r, rubric_offline.dialogue(p), sig.cosine)
            for s, r, p, sig in zip(raw, replies, prompts, signals)
        ]


class RubricReward:
    """The reward for one objective; `__name__` is the objective, as TRL logs reward functions by name."""

    def __init__(
        self,
        objective: str,
        judge: RubricJudge,
        stored: dict[str, dict] | None = None,
        principles: list[str] | None = None,
    ):
        self.objective = objective
        self.__name__ = objective
        self.judge = judge
        self.stored = stored or {}
        self.principles = principles or rubric_offline.default_principles(objective)

    def rubric_for(self, prompt, given=None) -> dict:
        if isinstance(given, dict) and self.objective in given:
            given = given[self.objective]
        if isinstance(given, str) and given.strip():
            parsed = parse_rubric(given)
            if not parsed.empty:
                return {"hard_rules": parsed.hard_rules, "principles": parsed.principles}
        if isinstance(given, dict) and ("principles" in given or "hard_rules" in given):
            return _plain(given)
        messages = as_messages(prompt)
        found = self.stored.get(prompt_id(messages))
        if found is not None:
            return found
        return {"hard_rules": rubric_offline.hard_rules_from(messages), "principles": list(self.principles)}

    def __call__(self, prompts, completions, rubric=None, **kwargs) -> list[float]:
        given = list(rubric) if rubric is not None else [None] * len(prompts)
        rubrics = [self.rubric_for(p, g) for p, g in zip(prompts, given)]
        return self.judge.score(list(prompts), [reply_text(c) for c in completions], rubrics)

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        return self(prompts, replies)


def _plain(rubric: dict) -> dict:
    return {"hard_rules": list(rubric.get("hard_rules", [])), "principles": list(rubric.get("principles", []))}


def stored_rubrics(rubrics_dir: str | Path, objective: str) -> tuple[dict[str, dict], list[str] | None]:
    """(kept rubrics of the rubrics step by prompt id, the objective's mined principles) or ({}, None)."""
    rubrics_dir = Path(rubrics_dir)
    table, defaults = rubrics_dir / "rubrics.parquet", rubrics_dir / "principles.json"
    summary = rubrics_dir / "summary.json"
    if summary.exists() and json.loads(summary.read_text()).get("built") is False:
        raise ValueError(
            f"{objective} is judged with the rubrics step's rubrics, but that step built none ({summary}: no "
            "objective is scored by a rubric judge); set rubrics.build: always and run the rubrics step again"
        )
    stored: dict[str, dict] = {}
    if table.exists():
        df = pd.read_parquet(table)
        df = df[(df["objective"] == objective) & (df["consistency"] == "consistent")]
        stored = {
            pid: {"hard_rules": list(h), "principles": list(p)}
            for pid, h, p in zip(df["prompt_id"], df["hard_rules"], df["principles"])
        }
    mined = json.loads(defaults.read_text()).get(objective) if defaults.exists() else None
    return stored, mined or None


def new_judge(settings, cache_dir: str | Path) -> RubricJudge:
    """A judge for `params.rubrics.judge`-style settings (offline, hf, openai), with its own counters."""
    from components.judges.backends import make_chat_client

    return RubricJudge(settings.kind, cache_dir, client=make_chat_client(settings, cache_dir))


# One per process and settings, so every rubric objective of a GRPO or evaluation run shares one loaded model.
make_judge = lru_cache(maxsize=4)(new_judge)


def for_objective(objective: Objective, context: ScorerContext) -> RubricReward:
    """`scorer: rubric`: the rubrics step's kept rubrics and mined principles, judged with `rubrics.judge`."""
    stored, mined = stored_rubrics(context.rubrics_dir, objective.name)
    judge = make_judge(context.params.rubrics.judge, context.params.cache_dir)
    return RubricReward(objective.name, judge, stored, mined)


def from_spec(argument: str, params: Params) -> RubricReward:
    """`offline|hf|openai[#objective]`: prompt-only rubrics for the objective (default: helpfulness's principles),
    judged with `rubrics.judge` of the params when it is of that kind, else with that kind's defaults."""
    from pydantic import TypeAdapter

    from paretoflow.schema import JudgeSpec

    kind, _, objective = argument.partition("#")
    if kind not in JUDGE_BACKENDS:
        forms = ", ".join(f"rubric:{k}" for k in JUDGE_BACKENDS)
        raise ValueError(f"scorer rubric:{argument} must be one of {forms} (then #objective)")
    settings = params.rubrics.judge
    if settings.kind != kind:
        settings = TypeAdapter(JudgeSpec).validate_python({"kind": kind})
    return RubricReward(objective or "helpfulness", make_judge(settings, params.cache_dir))
