"""GRPO strategies at equal compute: sweep, dynamic weighting and rewarded soups, by held-out hypervolume.

Each strategy gets the same number of optimizer steps in total (sweep and dynamic: one run of S steps per
weight vector in params, K of them; soup: one specialist per objective, K*S/objectives steps each, then a soup
at each of the K weight vectors for free). Reward models are trained
first with the pipeline's own step on the configured data; candidates are scored by `components.evaluation.evaluate`
(same generation, scorers, hypervolume as the pipeline). Noise: every strategy is scored on the same held-out
prompts, so resampling those prompts (one resample shared by all strategies) gives each hypervolume a 95%
interval and each difference from sweep a paired one; a difference whose interval spans 0 is within noise.
Dynamic runs record their weight trajectories. Run it under the shared lock:

    flock /tmp/pf-heavy.lock .venv/bin/python -m benchmarks.grpo_strategies

Writes benchmarks/results/grpo_strategies.json, or the file given by --output (e.g. a longer run with fewer
weight vectors, `-o 'grpo.weights=[...]'`, kept beside the default comparison).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "grpo_strategies.json"
STRATEGIES = ("sweep", "dynamic", "soup")
BOOTSTRAP = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="cpu", choices=["tiny", "cpu"])
    parser.add_argument("--steps", type=int, default=4, help="S: optimizer steps per sweep/dynamic run")
    parser.add_argument("--work", type=Path, default=None, help="keep data and reward models here between runs")
    parser.add_argument("-o", "--override", action="append", default=[], help="extra params overrides")
    parser.add_argument(
        "--only", nargs="+", choices=list(STRATEGIES), help="run only these (merged into an existing results file)"
    )
    parser.add_argument("--output", type=Path, default=RESULT, help="results file (with --only: merged into it)")
    args = parser.parse_args()
    output = args.output.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        result = run(args.profile, args.steps, work, args.override, args.only or list(STRATEGIES))
    if args.only and output.exists():
        previous = json.loads(output.read_text())
        result["strategies"] = previous["strategies"] | result["strategies"]
    result["noise"] = noise(result["strategies"], result["objectives"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result["strategies"].items():
        print(
            f"{name:8s} hypervolume {r['hypervolume']:.5f}  EUM {r['eum']:.4f}  front {r['front_size']}/"
            f"{r['candidates']}  steps {r['optimizer_steps']}  train {r['train_seconds']:.0f}s"
        )
    for name, n in result["noise"].get("hypervolume_ci95", {}).items():
        diff = result["noise"]["difference_from_sweep_ci95"].get(name)
        print(f"{name:8s} 95% interval {n}" + (f", minus sweep {diff}" if diff else ""))
    print(f"written {output}")


def noise(strategies: dict, objectives: list[str]) -> dict:
    """Bootstrap over held-out prompts (the same resample for every strategy): 95% intervals of each front's
    hypervolume and of its difference from sweep's. Strategies without per-prompt scores are left out."""
    import numpy as np

    from components.common.pareto import hypervolume

    scored = {k: v["prompt_scores"] for k, v in strategies.items() if "prompt_scores" in v}
    if not scored:
        return {}
    prompts = len(next(iter(next(iter(scored.values())).values()))[objectives[0]])
    rng = np.random.default_rng(0)
    samples = {k: [] for k in scored}
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, prompts, prompts)
        for name, policies in scored.items():
            points = np.array([[np.mean(np.array(s[o])[pick]) for o in objectives] for s in policies.values()])
            samples[name].append(hypervolume(points, np.zeros(len(objectives))))
    interval = {k: [round(float(q), 5) for q in np.percentile(v, [2.5, 97.5])] for k, v in samples.items()}
    diff = {
        k: [round(float(q), 5) for q in np.percentile(np.array(v) - np.array(samples["sweep"]), [2.5, 97.5])]
        for k, v in samples.items()
        if k != "sweep" and "sweep" in samples
    }
    return {
        "heldout_prompts": prompts,
        "bootstrap_resamples": BOOTSTRAP,
        "hypervolume_ci95": interval,
        "difference_from_sweep_ci95": diff,
    }


def run(profile: str, steps: int, work: Path, extra: list[str], strategies: list[str]) -> dict:
    import os

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
        "grpo.log_completions_every=0",
        "evaluate.max_prompts=12",
        "evaluate.max_new_tokens=24",
        *(["grpo.lora={r: 8, alpha: 16, dropout: 0.0}", "grpo.learning_rate=2.0e-4"] if profile == "cpu" else []),
        *extra,
    ]
    params = load_params("params.yaml", base)
    objectives, runs = len(params.objectives), len(weight_vectors(params))
    specialist_steps = max(1, round(runs * steps / objectives))
    data, models = work / "data", work / "reward_models"
    timings = {}
    started = time.perf_counter()
    if not (data / "prompts.parquet").exists():
        ingest(params, data)
    if not any(models.glob("*/config.json")):
        train_reward_models(params, data, models)
    timings["data_and_reward_models_seconds"] = round(time.perf_counter() - started, 1)
    settings = {
        "sweep": [f"grpo.max_steps={steps}"],
        "dynamic": [f"grpo.max_steps={steps}"],
        "soup": [f"grpo.soup.specialist_steps={specialist_steps}"],
    }
    results = {}
    for name in strategies:
        p = load_params("params.yaml", [*base, f"grpo.strategy={name}", *settings[name]])
        policies = work / f"policies-{name}"
        t0 = time.perf_counter()
        summary = train_candidates(p, data, models, policies)
        t1 = time.perf_counter()
        metrics = evaluate_policies(p, data, models, policies, work / f"evaluation-{name}")
        t2 = time.perf_counter()
        manifest = json.loads((policies / "manifest.json").read_text())
        front = json.loads((work / f"evaluation-{name}" / "front.json").read_text())
        scores = pd.read_parquet(work / f"evaluation-{name}" / "scores.parquet").sort_values("prompt_id")
        trained = scores[scores["policy"] != "start"]
        results[name] = {
            "hypervolume": metrics["pareto/hypervolume"],
            "eum": metrics["pareto/eum"],
            "front_size": metrics["pareto/front_size"],
            "candidates": metrics["pareto/candidates"],
            "optimizer_steps": sum(m.get("steps", 0) for m in manifest),
            "trained_runs": summary["trained"],
            "train_seconds": round(t1 - t0, 1),
            "evaluate_seconds": round(t2 - t1, 1),
            "points": [
                {k: row[k] for k in ["policy", "on_front", *p.objective_names]} | {"weights": row["weights"]}
                for row in front
            ],
            "final_weights": {m["name"]: m["final_weights"] for m in manifest if "final_weights" in m},
            "weight_trajectories": {
                m["name"]: json.loads((policies / m["name"] / "weight_trajectory.json").read_text())
                for m in manifest
                if (policies / m["name"] / "weight_trajectory.json").exists()
            },
            "prompt_scores": {
                policy: {o: group[o].round(5).tolist() for o in p.objective_names}
                for policy, group in trained.groupby("policy")
            },
        }
    heldout_prompts = len(json.loads((work / f"evaluation-{strategies[0]}" / "heldout.json").read_text())["prompt_ids"])
    return {
        "benchmark": "grpo strategies at equal optimizer steps, held-out hypervolume (reference: zeros)",
        "profile": profile,
        "policy": params.policy.model_dump(),
        "objectives": params.objective_names,
        "runs_per_strategy": runs,
        "steps_per_run": steps,
        "weights": weight_vectors(params),
        "specialist_steps": specialist_steps,
        "heldout_prompts": heldout_prompts,
        "grpo": params.grpo.model_dump(
            mode="json", include={"num_generations", "max_completion_length", "learning_rate", "lora", "dynamic"}
        ),
        "timings": timings,
        "strategies": results,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }


if __name__ == "__main__":
    main()
