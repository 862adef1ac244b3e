"""GRPO strategies at equal optimizer steps and equal candidate counts: sweep, dynamic weighting, rewarded soups.

Equal steps: sweep and dynamic train one run of S steps per weight vector in params (K of them, K*S steps); soup
trains one specialist per objective (N of them) for K*S/N steps each, so K*S must divide by N (refused otherwise).
Equal candidates: each strategy's front holds exactly its K policies at the K weight vectors: sweep's and dynamic's
runs, soup's mixtures (a one-hot vector's specialist stands for its soup). Soup's other specialists are trained
and evaluated but left out of its front.

Scoring: `components.evaluation.evaluate` on the same held-out prompts for every strategy, then per evaluator set
(the training scorers, and the independent ones of `evaluate.independent` where every objective has one) each
front's hypervolume, normalised as pareto.Normalisation does (start policy = 0, `evaluate.normalisation`'s ideal or
scale = 1) with the start policy as the reference. Intervals: paired bootstrap over the held-out prompts, one
resample shared by every front and the reference (components.evaluation.hypervolume_interval): each hypervolume's
95% interval and each pairwise difference's. A difference whose interval spans 0 is within noise.

SFT on this 2-core machine takes about 40 minutes (benchmarks/results/sft_cpu.json), so GRPO starts from the
pretrained policy (sft.enabled=false, recorded). Run it under the shared lock:

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.grpo_strategies

Writes benchmarks/results/grpo_strategies.json whole (command, commit, load average), or --output.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.results_file import add_run_arguments, write_result

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "grpo_strategies.json"
STRATEGIES = ("sweep", "dynamic", "soup")
BOOTSTRAP = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=["tiny", "cpu"])
    parser.add_argument("--steps", type=int, default=4, help="S: optimizer steps per sweep/dynamic run")
    add_run_arguments(parser, RESULT, kept="data and reward models")
    args = parser.parse_args()
    result = write_result(
        "benchmarks.grpo_strategies", args, lambda work: run(args.profile, args.steps, work, args.override)
    )
    for evaluators, c in result["comparison"].items():
        for name, f in c["fronts"].items():
            print(f"{evaluators:12s} {name:8s} hypervolume {f['hypervolume']:.5f} {f['ci95']}  front {f['front_size']}")
        for pair, d in c["differences"].items():
            print(f"{evaluators:12s} {pair:18s} {d['difference']:+.5f} {d['ci95']}")
    print(f"written {args.output}")


def run(profile: str, steps: int, work: Path, extra: list[str]) -> dict:
    import pandas as pd

    os.chdir(REPO)  # data sources in params.yaml are relative to the project
    from components.data.ingest import ingest
    from components.evaluation.evaluate import evaluate_policies
    from components.grpo.train import train_candidates, weight_vectors
    from components.reward_models.train import train_reward_models
    from paretoflow.config import load_params

    base = [
        f"profile={profile}",
        f"cache_dir={REPO / '.cache'}",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        "sft.enabled=false",
        "grpo.log_completions_every=0",
        "evaluate.max_prompts=12",
        "evaluate.max_new_tokens=24",
        "evaluate.perplexity_examples=0",
        *(["grpo.lora={r: 8, alpha: 16, dropout: 0.0}", "grpo.learning_rate=2.0e-4"] if profile == "cpu" else []),
        *extra,
    ]
    params = load_params("params.yaml", base)
    objectives, vectors = params.objective_names, weight_vectors(params)
    if len(vectors) * steps % len(objectives):
        raise SystemExit(
            f"{len(vectors)} weight vectors x {steps} steps do not split evenly over {len(objectives)} soup "
            f"specialists; choose --steps a multiple of {len(objectives) // np.gcd(len(vectors), len(objectives))}"
        )
    specialist_steps = len(vectors) * steps // len(objectives)
    data, models = work / "data", work / "reward_models"
    started = time.perf_counter()
    if not (data / "prompts.parquet").exists():
        ingest(params, data)
    if not any(models.glob("*/config.json")):
        train_reward_models(params, data, models)
    timings = {"data_and_reward_models_seconds": round(time.perf_counter() - started, 1)}
    settings = {
        "sweep": [f"grpo.max_steps={steps}"],
        "dynamic": [f"grpo.max_steps={steps}"],
        "soup": [f"grpo.soup.specialist_steps={specialist_steps}"],
    }
    results, scores = {}, {}
    for name in STRATEGIES:
        p = load_params("params.yaml", [*base, f"grpo.strategy={name}", *settings[name]])
        policies, evaluation = work / f"policies-{name}", work / f"evaluation-{name}"
        t0 = time.perf_counter()
        train_candidates(p, data, models, policies)
        t1 = time.perf_counter()
        evaluate_policies(p, data, models, policies, evaluation)
        t2 = time.perf_counter()
        manifest = json.loads((policies / "manifest.json").read_text())
        candidates = [m["name"] for m in manifest if m["weights"] in vectors]  # one per weight vector
        scores[name] = pd.read_parquet(evaluation / "scores.parquet")
        results[name] = {
            "candidates": candidates,
            "trained_policies": [m["name"] for m in manifest if m.get("role", "run") != "soup"],
            "optimizer_steps": sum(m.get("steps", 0) for m in manifest),
            "train_seconds": round(t1 - t0, 1),
            "evaluate_seconds": round(t2 - t1, 1),
            "dynamic": {m["name"]: _dynamic_summary(m, policies) for m in manifest if m["strategy"] == "dynamic"},
        }
    steps_used = {k: r["optimizer_steps"] for k, r in results.items()}
    if len(set(steps_used.values())) != 1 or len({len(r["candidates"]) for r in results.values()}) != 1:
        shown = {k: r["candidates"] for k, r in results.items()}
        raise SystemExit(f"unequal comparison: optimizer steps {steps_used}, candidates {shown}")
    evaluator_sets = {"training_scorers": objectives}
    if all(f"{o}_independent" in scores["sweep"] for o in objectives):
        evaluator_sets["independent"] = [f"{o}_independent" for o in objectives]
    comparison = {
        label: compare(scores, {k: r["candidates"] for k, r in results.items()}, columns, params)
        for label, columns in evaluator_sets.items()
    }
    return {
        "benchmark": "grpo strategies at equal optimizer steps and equal candidate counts, held-out hypervolume "
        "(normalised, reference: the start policy) with paired-bootstrap 95% intervals",
        "profile": profile,
        "sft": params.sft.enabled,
        "policy": params.policy.model_dump(mode="json"),
        "objectives": objectives,
        "independent_evaluators": dict(params.evaluate.independent),
        "weights": vectors,
        "steps_per_run": steps,
        "specialist_steps": specialist_steps,
        "grpo": params.grpo.model_dump(
            mode="json",
            include={"num_generations", "max_completion_length", "learning_rate", "lora", "dynamic"}
            | {"multi_objective_aggregation", "scale_rewards"},
        ),
        "timings": timings,
        "strategies": results,
        "comparison": comparison,
    }


def _dynamic_summary(entry: dict, policies: Path) -> dict:
    trajectory = policies / entry["name"] / "weight_trajectory.json"
    kept = ("final_weights", "final_meta", "front_points", "validations", "validation_prompts")
    return {k: entry[k] for k in (*kept, "validation_seconds", "seconds_per_validation") if k in entry} | {
        "trajectory": json.loads(trajectory.read_text()) if trajectory.exists() else None
    }


def compare(scores: dict, candidates: dict[str, list[str]], columns: list[str], params) -> dict:
    """Each front's normalised hypervolume with its interval, and every pairwise difference with its paired one
    (the same prompt resamples throughout; the start policy's means, resampled alike, are the reference)."""
    import pandas as pd

    from components.common import pareto
    from components.evaluation.hypervolume_interval import hypervolume_difference, hypervolume_interval

    objectives = params.objective_names
    start = {k: s[s["policy"] == "start"].sort_values("prompt_id") for k, s in scores.items()}
    reference = start["sweep"]
    same_start = all(
        np.allclose(s[columns].to_numpy(float), reference[columns].to_numpy(float)) for s in start.values()
    )
    norm = pareto.normalisation(
        objectives,
        reference[columns].astype(float).mean().to_numpy(),
        dict(params.evaluate.normalisation.ideal),
        dict(params.evaluate.normalisation.scale),
    )
    prompts = list(reference["prompt_id"])

    def matrix(frame: pd.DataFrame, policy: str) -> np.ndarray:  # prompts x objectives, normalised
        rows = frame[frame["policy"] == policy].set_index("prompt_id").reindex(prompts)
        return norm.apply(rows[columns].to_numpy(float))

    base = matrix(scores["sweep"], "start")
    fronts_arrays = {k: np.stack([matrix(scores[k], p) for p in candidates[k]]) for k in scores}
    fronts = {}
    for name, front in fronts_arrays.items():
        long = pd.concat(
            [
                pd.DataFrame(front[i], columns=objectives).assign(policy=p, prompt_id=prompts)
                for i, p in enumerate(candidates[name])
            ]
            + [pd.DataFrame(base, columns=objectives).assign(policy="start", prompt_id=prompts)]
        )
        means = front.mean(axis=1)
        fronts[name] = {
            "hypervolume": round(pareto.hypervolume(means, np.zeros(len(objectives))), 6),
            "ci95": [
                round(v, 6)
                for v in hypervolume_interval(
                    long, candidates[name], objectives, None, BOOTSTRAP, params.seed, reference_policy="start"
                )
            ],
            "front_size": int(pareto.front_mask(means).sum()),
            "candidates": len(candidates[name]),
            "means": {p: dict(zip(objectives, np.round(m, 5).tolist())) for p, m in zip(candidates[name], means)},
        }
    differences = {}
    for a, b in itertools.combinations(fronts_arrays, 2):
        d = hypervolume_difference(fronts_arrays[a], fronts_arrays[b], base, BOOTSTRAP, params.seed)
        differences[f"{a} - {b}"] = {
            "difference": round(d["difference"], 6),
            "ci95": [round(v, 6) for v in d["ci95"]],
            "within_noise": d["ci95"][0] <= 0 <= d["ci95"][1],
        }
    return {
        "columns": columns,
        "normalisation": norm.describe(),
        "start_policy_identical_across_strategies": bool(same_start),
        "heldout_prompts": len(prompts),
        "bootstrap_resamples": BOOTSTRAP,
        "fronts": fronts,
        "differences": differences,
    }


if __name__ == "__main__":
    main()
