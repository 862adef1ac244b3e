"""rubrics: one rubric per prompt and objective (hard rules from the prompt, principles from the data), filtered.

Backend from `params.rubrics.judge.kind`:
- `offline`: principles mined from the objective's train pairs (components.rubrics.offline), ordered per
  prompt by its own pairs, plus the ESConv strategy's principle; scored with MiniLM and rules.
- `hf` / `openai`: the CRG template through the judges' chat client (components.rubrics.generation), parsed
  strictly; a rubric the parser leaves empty falls back to the prompt-only rubric and is counted.
Then the label-consistency filter (components.rubrics.label_filter) judges every prompt's pairs with its rubric
(both orders for LLM judges) and marks the rubric consistent only when the judge prefers chosen. Only train-split
pairs are read: prompts without them (test-split prompts included, so no held-out label shapes a training
artefact) get the prompt-only rubric: hard rules + the objective's mined principles.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from components.data.canonical import prompt_id, read_table
from components.judges.expected_score import WINNER
from components.rubrics import offline as rubric_offline
from components.rubrics.generation import dropped_total, generate
from components.rubrics.judging import rubric_text
from components.rubrics.label_filter import consistency, kept_fraction, pairwise_preference, score_preference
from components.rubrics.prompt_templates import templates_version
from components.rubrics.result_cache import ResultCache, content_key
from components.scorers.rubric import RubricJudge, new_judge, offline_version
from paretoflow import paths, tracking
from paretoflow.schema import Params

COLUMNS = [
    *("prompt_id", "objective", "hard_rules", "principles", "rubric", "backend", "model", "template_version"),
    *("source", "dropped_items", "consistency", "preference"),
]


def synthesize_rubrics(params: Params, data_dir: Path = paths.DATA, out_dir: Path = paths.RUBRICS) -> dict:
    if params.rubrics.build == "auto" and not rubric_users(params):
        return _skipped(out_dir)
    prompts = read_table(data_dir / "prompts.parquet")
    pairs = read_table(data_dir / "pairs.parquet")
    pairs["prompt_id"] = pairs["prompt"].map(prompt_id)
    judge = new_judge(params.rubrics.judge, params.cache_dir)
    cache = ResultCache(Path(params.cache_dir) / "rubric-cache", "rubrics")
    k = params.rubrics.max_principles
    frames, principles, dropped, unparsed = [], {}, Counter(), 0
    for objective in params.objective_names:
        own = pairs[pairs["objective"] == objective]
        train = own[own["split"] == "train"]
        principles[objective] = _mined(train, judge, cache, k) or (rubric_offline.default_principles(objective)[:k])
        targets = _rubric_targets(prompts, own)
        rows, lost, bad = _objective_rubrics(targets, train, objective, principles[objective], judge, cache, k)
        frames.append(rows)
        dropped.update(lost)
        unparsed += bad
        judged = int((rows["consistency"] != "no_pair").sum())
        kept = f"kept {kept_fraction(list(rows['consistency'])):.2f} of {judged}" if judged else "no pairs to judge"
        print(f"rubrics {objective}: {len(rows)} rubrics, {kept}")
    df = pd.concat(frames, ignore_index=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    df.to_parquet(out_dir / "rubrics.parquet", index=False)
    (out_dir / "principles.json").write_text(json.dumps(principles, indent=2, sort_keys=True) + "\n")
    summary = _summary(df, judge, cache, dropped, unparsed)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _log(summary)
    return summary


def rubric_users(params: Params) -> list[str]:
    """The objectives scored by a rubric judge: what reads the rubrics table (the step's key holds `objectives`
    only, so a `grpo.audit` rubric reward, which reads it too, needs `rubrics.build: always`; the scorer says so)."""
    return [o.name for o in params.objectives if o.scorer == "rubric"]


def _skipped(out_dir: Path) -> dict:
    """An empty rubrics table: no scorer of this run reads one (the real-data recipe spent 3 minutes building
    rubrics nothing used)."""
    reason = "no objective is scored by a rubric judge (rubrics.build: auto)"
    print(f"rubrics: none built; {reason}", flush=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    pd.DataFrame(columns=COLUMNS).to_parquet(out_dir / "rubrics.parquet", index=False)
    (out_dir / "principles.json").write_text("{}\n")
    summary = {"rubrics": 0, "built": False, "reason": reason}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tracking.log_metrics({"rubrics/count": 0})
    tracking.set_tags({"rubrics.built": "false", "rubrics.skipped_because": reason})
    return summary


def _rubric_targets(prompts: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Every prompt that gets a rubric: the prompts table, then the pairs' other prompts in id order (an order
    that no label changes)."""
    extra = pairs[~pairs["prompt_id"].isin(prompts["id"])].drop_duplicates("prompt_id").sort_values("prompt_id")
    extra = extra[["prompt_id", "prompt", "meta"]].rename(columns={"prompt_id": "id"})
    return pd.concat([prompts[["id", "prompt", "meta"]], extra], ignore_index=True)


def _mined(train_pairs: pd.DataFrame, judge: RubricJudge, cache: ResultCache, k: int) -> list[str]:
    key = content_key("mined", offline_version(), k, _pairs_content(train_pairs))
    found = cache.get(key)
    if found is None:
        found = rubric_offline.mine_principles(train_pairs, judge.encoder, k)
        cache.put(key, found)
    return found


def _pairs_content(pairs: pd.DataFrame) -> list:
    return [[p, c, r] for p, c, r in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"])]


def _objective_rubrics(prompts, pairs, objective, principles, judge, cache, k) -> tuple[pd.DataFrame, Counter, int]:
    groups = {pid: g for pid, g in pairs.groupby("prompt_id")}
    rows = []
    meta = dict(zip(prompts["id"], prompts["meta"]))  # ESConv prompts carry the turn's strategy
    with_pairs = [(pid, g["prompt"].iloc[0], meta.get(pid) or g["meta"].iloc[0]) for pid, g in groups.items()]
    generated, dropped = _generate(with_pairs, groups, objective, principles, judge, cache, k)
    preference, unparsed = _filter(with_pairs, groups, generated, judge)
    for (pid, _, _), (rubric, source, n_dropped), pref in zip(with_pairs, generated, preference):
        rows.append(_record(pid, objective, rubric, judge, source, n_dropped, consistency(pref), pref))
    for pid, messages in zip(prompts["id"], prompts["prompt"]):
        if pid not in groups:
            rubric = {"hard_rules": rubric_offline.hard_rules_from(messages), "principles": list(principles)}
            rows.append(_record(pid, objective, rubric, judge, "prompt_only", 0, "no_pair", np.nan))
    return pd.DataFrame(rows, columns=COLUMNS), dropped, unparsed


def _generate(items, groups, objective, principles, judge, cache, k):
    """[(rubric, source, dropped items)] per prompt with pairs, and the dropped items by reason."""
    if judge.kind == "offline":
        out = []
        for pid, messages, meta in items:
            g = groups[pid]
            strategy = (meta or {}).get("strategy")
            key = content_key(
                "offline-rubric", offline_version(), messages, objective, principles, k, strategy, _pairs_content(g)
            )
            rubric = cache.get(key)
            if rubric is None:
                rubric = rubric_offline.offline_rubric(messages, objective, principles, g, strategy, k, judge.encoder)
                cache.put(key, rubric)
            out.append((rubric, "generated", 0))
        return out, Counter()
    firsts = [groups[pid].iloc[0] for pid, _, _ in items]
    parsed = generate(judge.client, [dict(p) for p in firsts], objective, max_items=k + 3)
    out = []
    for (_, messages, _), rubric in zip(items, parsed):
        source = "generated"
        hard = rubric.hard_rules or rubric_offline.hard_rules_from(messages)
        chosen_principles = rubric.principles[:k]
        if rubric.empty:
            source = "fallback"  # nothing usable came back: the prompt-only rubric stands in, counted
        if not chosen_principles:
            chosen_principles = list(principles)
        out.append(({"hard_rules": hard, "principles": chosen_principles}, source, sum(rubric.dropped.values())))
    return out, dropped_total(parsed)


def _filter(items, groups, generated, judge: RubricJudge) -> tuple[list[float], int]:
    """Preference for chosen per prompt (mean over its pairs) and verdicts left unparsable."""
    flat_prompts, flat_chosen, flat_rejected, flat_rubrics, owner = [], [], [], [], []
    for j, ((pid, _, _), (rubric, _, _)) in enumerate(zip(items, generated)):
        g = groups[pid]
        flat_prompts += list(g["prompt"])
        flat_chosen += list(g["chosen"])
        flat_rejected += list(g["rejected"])
        flat_rubrics += [rubric] * len(g)
        owner += [j] * len(g)
    if judge.kind == "offline":
        chosen = judge.score(flat_prompts, flat_chosen, flat_rubrics)
        rejected = judge.score(flat_prompts, flat_rejected, flat_rubrics)
        prefs, unparsed = score_preference(chosen, rejected), 0
    else:
        prefs, unparsed = pairwise_preference(judge.client, flat_prompts, flat_chosen, flat_rejected, flat_rubrics)
    per_item = pd.Series(prefs, dtype=float).groupby(pd.Series(owner, dtype=int)).mean()
    return [float(per_item.get(j, 0.5)) for j in range(len(items))], unparsed


def _record(pid, objective, rubric, judge, source, n_dropped, outcome, preference) -> dict:
    return {
        "prompt_id": pid,
        "objective": objective,
        "hard_rules": list(rubric["hard_rules"]),
        "principles": list(rubric["principles"]),
        "rubric": rubric_text(rubric),
        "backend": judge.kind,
        "model": judge.model,
        "template_version": offline_version() if judge.kind == "offline" else templates_version(),
        "source": source,
        "dropped_items": int(n_dropped),
        "consistency": outcome,
        "preference": preference,
    }


def _summary(df: pd.DataFrame, judge: RubricJudge, cache: ResultCache, dropped: Counter, unparsed: int) -> dict:
    with_pair = df[df["consistency"] != "no_pair"]
    stats = judge.client.stats() if hasattr(judge.client, "stats") else {}
    return {
        "rubrics": len(df),
        "with_pair": len(with_pair),
        "kept_fraction": {o: kept_fraction(list(g["consistency"])) for o, g in with_pair.groupby("objective")},
        "backend": judge.kind,
        "model": judge.model,
        "template_version": str(df["template_version"].iloc[0]) if len(df) else "",
        "dropped_items": dict(dropped),
        "fallback_rubrics": int((df["source"] == "fallback").sum()),
        "unparsed_verdicts": unparsed,
        "filter_method": _filter_method(judge),
        "cache": {
            "rubric_hit_rate": cache.hit_rate,
            "score_hit_rate": judge.cache.hit_rate,
            "scorings_computed": judge.calls,
            **stats,
        },
    }


def _filter_method(judge: RubricJudge) -> str:
    """How the filter read the judge's pairwise verdicts (kept fractions differ by method)."""
    if judge.kind == "offline":
        return offline_version()
    return WINNER.method if getattr(judge.client, "scoring", None) else "parsed-text"


def _log(summary: dict) -> None:
    metrics = {
        "rubrics/count": summary["rubrics"],
        "rubrics/dropped_items": sum(summary["dropped_items"].values()),
        "rubrics/fallback_rubrics": summary["fallback_rubrics"],
        "rubrics/unparsed_verdicts": summary["unparsed_verdicts"],
        "rubrics/cache_hit_rate": summary["cache"]["score_hit_rate"],
        **{f"rubrics/{o}/kept_fraction": v for o, v in summary["kept_fraction"].items()},
        **{f"rubrics/dropped/{reason}": n for reason, n in summary["dropped_items"].items()},
        **{k.replace("judge/", "rubrics/judge/"): v for k, v in summary["cache"].items() if k.startswith("judge/")},
    }
    tracking.log_metrics(metrics)
    tags = {"rubrics.backend": summary["backend"], "rubrics.template_version": summary["template_version"]}
    tracking.set_tags({**tags, "rubrics.filter_method": summary["filter_method"]})
