"""How many held-out prompts promotion's intervals need, from a measured spread (issue 14.4).

Reads the per-prompt held-out scores that a results file recorded (default: the cpu demo's GRPO strategies run,
`benchmarks/results/grpo_strategies.json`, strategy sweep: Gemma 3 270M policies, 12 held-out prompts), and for each
objective computes in normalised units (start policy 0, scale 1: the scorers' [0, 1] range, the default
normalisation) the per-prompt spread, the width of the 95% interval that many prompts reach, and the number of prompts
whose interval is narrower than `promote.tolerance`: once for a policy's mean (the front table's intervals) and once
for the paired difference of two policies on the same prompts (what the objectives gate compares).

    .venv/bin/python -m benchmarks.heldout_precision

Those scores come from the training reward models (that run predates the evaluator models); the spread of evaluator
scores is of the same kind. Writes `benchmarks/results/heldout_precision.json` whole.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
from pathlib import Path

import numpy as np

from benchmarks.provenance import REPO, Provenance
from components.evaluation.paired import interval_width, mean_difference, precision, precision_line, prompts_needed
from paretoflow.config import load_params

SOURCE = "benchmarks/results/grpo_strategies.json"
# The last cpu run of grpo_strategies that recorded per-prompt scores (its rerun at equal candidate counts records
# fronts and intervals only), read from git so the figure stays reproducible.
SOURCE_REVISION = "b3c13a38c98b671cfa4d22c550d1b3f03d059e38"
RESULT = REPO / "benchmarks" / "results" / "heldout_precision.json"


def recorded_text(source: str, revision: str) -> str:
    """The source results file as committed at `revision`, or as it is in the tree when `revision` is empty."""
    if not revision:
        return (REPO / source).read_text()
    shown = subprocess.run(["git", "show", f"{revision}:{source}"], cwd=REPO, capture_output=True, text=True)
    if shown.returncode:
        raise SystemExit(f"cannot read {source} at {revision}: {shown.stderr.strip()}")
    return shown.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=SOURCE, help="results file of benchmarks.grpo_strategies")
    parser.add_argument("--revision", default=SOURCE_REVISION, help="git revision to read it at ('' = the tree)")
    parser.add_argument("--strategy", default="sweep")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    provenance = Provenance("benchmarks.heldout_precision")
    recorded = json.loads(recorded_text(args.source, args.revision))
    scores = recorded["strategies"][args.strategy]["prompt_scores"]  # policy -> objective -> per-prompt score
    objectives = recorded["objectives"]
    tolerance = load_params(REPO / "params.yaml").promote.tolerance
    means = precision(scores, objectives)
    for found in means.values():
        found["prompts_needed"] = prompts_needed(found["sd"], tolerance)
    paired = {}
    for o in objectives:
        differences = [mean_difference(scores[a][o], scores[b][o]) for a, b in itertools.combinations(scores, 2)]
        worst = max(differences, key=lambda d: d["sd"])
        paired[o] = {
            "sd": worst["sd"],
            "prompts": worst["prompts"],
            "ci95_width": interval_width(worst["sd"], worst["prompts"]),
            "bootstrap_ci95_width": worst["ci95"][1] - worst["ci95"][0],
            "prompts_needed": prompts_needed(worst["sd"], tolerance),
        }
    result = provenance.record() | {
        "benchmark": "held-out prompts needed for 95% intervals narrower than promote.tolerance (normalised units)",
        "source": {
            "file": args.source,
            "revision": args.revision or "the working tree",
            "strategy": args.strategy,
            "profile": recorded["profile"],
        },
        "scores_from": "training reward models and the concision rule (the run predates evaluator models)",
        "tolerance": tolerance,
        "heldout_prompts": int(min(f["prompts"] for f in means.values())),
        "policy_means": {o: _rounded(f) for o, f in means.items()},
        "paired_differences": {o: _rounded(f) for o, f in paired.items()},
        "policy_means_line": precision_line(means, tolerance),
        "paired_line": precision_line(paired, tolerance, "paired 95% intervals"),
        "prompts_needed": int(max(max(f["prompts_needed"] for f in d.values()) for d in (means, paired))),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(result["policy_means_line"], result["paired_line"], sep="\n")


def _rounded(found: dict) -> dict:
    return {k: round(float(v), 5) if isinstance(v, float | np.floating) else v for k, v in found.items()}


if __name__ == "__main__":
    main()
