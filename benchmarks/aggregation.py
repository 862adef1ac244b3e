"""Do GRPO's weights steer? `sum_then_normalize` against `normalize_then_sum`, judged by independent evaluators.

Two reward-model objectives (not length-based), two weight vectors, (0.8, 0.2) and (0.2, 0.8), for each
aggregation (`grpo.multi_objective_aggregation`); rewards standardised by the start policy's rollouts in both
(grpo.reward_scale). Every policy is scored on the same held-out prompts by the independent evaluators
(`evaluate.independent`: scorers GRPO never optimised) and, for comparison, by the training reward models. The
weights steer on an objective when the policy weighted towards it beats the other on it: `steers` when the
paired-bootstrap 95% interval of the difference (over the same prompts) lies above 0, `separated_by_intervals`
when even the two policies' own 95% intervals do not overlap. The aggregation that steers on both objectives in
more seeds (then by the smaller of its two differences) is `recommended_default`; `null` when neither steers.

The result is the cpu profile's (Gemma 3 270M after SFT, MiniLM reward models); run it under the shared lock:

    flock /tmp/pf-heavy.lock .venv/bin/python -m benchmarks.aggregation

`--profile tiny --steps 2` only checks the plumbing (random tiny models): give it `--output` elsewhere, so the
results file only ever holds a cpu-profile result. Writes the results file whole: command, commit, load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "aggregation.json"
AGGREGATIONS = ("sum_then_normalize", "normalize_then_sum")
BOOTSTRAP = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=["tiny", "cpu"])
    parser.add_argument("--objectives", nargs=2, default=["empathy", "helpfulness"], help="two reward-model objectives")
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps per policy")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="one pair of policies per seed")
    parser.add_argument("--heldout", type=int, default=64, help="held-out prompts (evaluate.max_prompts)")
    parser.add_argument("--work", type=Path, default=None, help="keep data, SFT and reward models here between runs")
    parser.add_argument("-o", "--override", action="append", default=[], help="extra params overrides")
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    output = args.output.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args, (args.work or Path(tmp)).resolve())
    result = {
        "command": " ".join([".venv/bin/python -m benchmarks.aggregation", *sys.argv[1:]]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **result,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result["aggregations"].items():
        print(f"{name}: steers on both objectives in {r['steers_on_both']} of {len(args.seeds)} seeds")
        for seed, s in r["seeds"].items():
            for o, d in s["independent"]["difference"].items():
                print(f"  seed {seed} {o}: toward-minus-away {d['mean']:+.4f} {d['ci95']}  steers {d['steers']}")
    print(f"recommended_default: {result['recommended_default']}\nwritten {output}")


def run(args, work: Path) -> dict:
    os.chdir(REPO)  # data sources in params.yaml are relative to the project
    from components.data.ingest import ingest
    from components.reward_models.train import train_reward_models
    from components.sft.train import train_sft
    from paretoflow import paths
    from paretoflow.config import load_params

    first, second = args.objectives
    base = [
        f"profile={args.profile}",
        f"cache_dir={REPO / '.cache'}",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        f"objectives=[{{name: {first}, scorer: reward_model}}, {{name: {second}, scorer: reward_model}}]",
        f"grpo.weights=[{{{first}: 0.8, {second}: 0.2}}, {{{first}: 0.2, {second}: 0.8}}]",
        f"grpo.max_steps={args.steps}",
        "grpo.log_completions_every=0",
        f"evaluate.max_prompts={args.heldout}",
        "evaluate.perplexity_examples=0",
        "evaluate.side_by_side_prompts=0",
        *args.override,
    ]
    params = load_params("params.yaml", base)
    unjudged = [o for o in args.objectives if o not in params.evaluate.independent]
    if unjudged:
        raise SystemExit(f"no independent evaluator for {unjudged}: give one with -o 'evaluate.independent={{...}}'")
    data, sft, models = work / "data", work / paths.SFT.name, work / "reward_models"
    started = time.perf_counter()
    if not (data / "prompts.parquet").exists():
        ingest(params, data)
    if params.sft.enabled and not (sft / "policy" / "config.json").exists():
        train_sft(params, data, sft)
    if not all((models / o / "config.json").exists() for o in args.objectives):
        train_reward_models(params, data, models)
    timings = {"data_sft_reward_models_seconds": round(time.perf_counter() - started, 1)}
    results = {}
    for aggregation in AGGREGATIONS:
        seeds = {}
        for seed in args.seeds:
            p = load_params("params.yaml", [*base, f"grpo.multi_objective_aggregation={aggregation}", f"seed={seed}"])
            seeds[str(seed)] = run_pair(p, data, models, work / f"{aggregation}-{seed}", timings)
        both = sum(all(d["steers"] for d in s["independent"]["difference"].values()) for s in seeds.values())
        results[aggregation] = {"steers_on_both": both, "seeds": seeds}
    return {
        "benchmark": "do the weights steer: (0.8, 0.2) vs (0.2, 0.8) policies on two reward-model objectives, "
        "per aggregation, held-out scores of independent evaluators with paired-bootstrap 95% intervals",
        "profile": args.profile,
        "policy": params.policy.model_dump(mode="json"),
        "sft": params.sft.enabled,
        "objectives": args.objectives,
        "independent_evaluators": {o: params.evaluate.independent[o] for o in args.objectives},
        "weights": params.grpo.weights,
        "grpo": params.grpo.model_dump(
            mode="json",
            include={"max_steps", "num_generations", "prompts_per_step", "max_completion_length", "learning_rate"}
            | {"beta", "temperature", "scale_rewards", "lora", "reward_scale"},
        ),
        "evaluate": params.evaluate.model_dump(mode="json", include={"max_new_tokens", "do_sample", "temperature"}),
        "timings": timings,
        "aggregations": results,
        "recommended_default": recommend(results),
    }


def run_pair(params, data: Path, models: Path, work: Path, timings: dict) -> dict:
    """Train both weight vectors' policies, evaluate them, and compare them on every objective."""
    import pandas as pd

    from components.evaluation.evaluate import evaluate_policies
    from components.grpo.train import train_candidates

    t0 = time.perf_counter()
    train_candidates(params, data, models, work / "policies")
    t1 = time.perf_counter()
    evaluate_policies(params, data, models, work / "policies", work / "evaluation")
    timings[work.name] = {"train_seconds": round(t1 - t0, 1), "evaluate_seconds": round(time.perf_counter() - t1, 1)}
    scores = pd.read_parquet(work / "evaluation" / "scores.parquet")
    manifest = json.loads((work / "policies" / "manifest.json").read_text())
    toward, away = (m["name"] for m in manifest)  # params order: (0.8, 0.2) then (0.2, 0.8)
    objectives = params.objective_names
    signs = dict(zip(objectives, (1, -1)))  # the first policy should win the first objective, lose the second
    scales = json.loads((work / "policies" / "reward_scales.json").read_text())["objectives"]
    return {
        "heldout_prompts": int(scores["prompt_id"].nunique()),
        "reward_scales": scales,
        "zero_variance_groups": {m["name"]: m.get("zero_variance_groups") for m in manifest},
        "independent": compare(scores, toward, away, {o: f"{o}_independent" for o in objectives}, signs, params.seed),
        "training_reward_models": compare(scores, toward, away, {o: o for o in objectives}, signs, params.seed),
    }


def compare(scores, toward: str, away: str, columns: dict[str, str], signs: dict[str, int], seed: int) -> dict:
    """Per objective: each policy's mean with its 95% interval, and the paired difference (the policy weighted
    towards the objective minus the other) with its 95% interval over the same prompts."""
    from components.common.stats import bootstrap_ci

    wide = scores.pivot_table(index="prompt_id", columns="policy", values=list(columns.values()))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(wide), size=(BOOTSTRAP, len(wide)))
    policies, difference = {}, {}
    for o, column in columns.items():
        a, b = wide[(column, toward)].to_numpy(), wide[(column, away)].to_numpy()
        for name, values in ((toward, a), (away, b)):
            policies.setdefault(name, {})[o] = {
                "mean": round(float(values.mean()), 5),
                "ci95": [round(v, 5) for v in bootstrap_ci(values, BOOTSTRAP, seed)],
            }
        diff = signs[o] * (a - b)
        low, high = np.quantile(diff[draws].mean(axis=1), [0.025, 0.975])
        mine, theirs = (
            (policies[toward][o], policies[away][o]) if signs[o] > 0 else (policies[away][o], policies[toward][o])
        )
        difference[o] = {
            "mean": round(float(diff.mean()), 5),
            "ci95": [round(float(low), 5), round(float(high), 5)],
            "steers": bool(low > 0),
            "separated_by_intervals": mine["ci95"][0] > theirs["ci95"][1],
        }
    return {"policies": policies, "difference": difference}


def recommend(results: dict) -> str | None:
    """The aggregation that steers on both objectives in more seeds, then by its smaller mean difference."""

    def strength(r: dict) -> tuple:
        smallest = min(d["mean"] for s in r["seeds"].values() for d in s["independent"]["difference"].values())
        return r["steers_on_both"], smallest

    best = max(results, key=lambda k: strength(results[k]))
    return best if results[best]["steers_on_both"] else None


if __name__ == "__main__":
    main()
