"""Do GRPO's weights steer? `sum_then_normalize` against `normalize_then_sum`, judged by independent evaluators.

Two reward-model objectives (not length-based), two weight vectors, (0.8, 0.2) and (0.2, 0.8), for each
aggregation (`grpo.multi_objective_aggregation`); rewards standardised by the start policy's rollouts in both
(grpo.reward_scale). Data: HH-RLHF helpful and ESConv from ../shared/data through the pipeline's ingest (the
project's sample pairs train reward models that score every reply alike). The training reward models learn from
the first `--train-pairs` train pairs of each objective (by id); the independent evaluators are reward models of
the same backbone trained on the next `--train-pairs` (disjoint) with another seed, set as `evaluate.independent`
(rm:PATH), and they count for an objective only when their held-out agreement with the human labels has a 95%
interval above 0.5 (`evaluators`). GRPO and the held-out evaluation use the ingested prompts of at most
`--max-prompt-chars` characters (the early turns of ESConv conversations; HH-RLHF gives pairs, no prompt rows): whole
ESConv dialogues made a GRPO step too slow for this 2-core machine. Every policy is scored
on the same held-out prompts by the independent evaluators and, for comparison, by the training reward models. The
weights steer on an objective when the policy weighted towards it beats the other on it: `steers` when the
paired-bootstrap 95% interval of the difference (over the same prompts) lies above 0, `separated_by_intervals`
when even the two policies' own 95% intervals do not overlap. The aggregation that steers on both objectives in
more seeds (then by the smaller of its two differences) is `recommended_default`; `null` when neither steers
or an evaluator does not count.

The result is the cpu profile's (Gemma 3 270M, MiniLM reward models). Start GRPO from the SFT policy (the
default): a run from the pretrained policy (`-o sft.enabled=false`, commit 48d86ea) compared nothing, because the
pretrained model repeats itself and never ends its turn, so the judge guard scores almost every reply 0 for every
policy alike (`replies` in the results file: the share that ended, and that each evaluator scored 0). The start
policy, reward models, GRPO step and decoding are the real-data recipe's (`recipe_settings`). Run it under the
shared lock:

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.aggregation --work .cache/aggregation

`--profile tiny --steps 2` only checks the plumbing (random tiny models): give it `--output` elsewhere, so the
results file only ever holds a cpu-profile result. Writes the results file whole: command, commit, load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.results_file import add_run_arguments, write_result

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "aggregation.json"
AGGREGATIONS = ("sum_then_normalize", "normalize_then_sum")
BOOTSTRAP = 2000
DATA = REPO.parent / "shared" / "data"
SOURCES = [
    f"{{name: helpful, uri: {DATA}/hh-rlhf/helpful-base.dev.jsonl.gz, format: hh-rlhf, objective: helpfulness}}",
    f"{{name: esconv, uri: {DATA}/esconv, format: esconv}}",
]
RECIPE = REPO / "recipes" / "support-cpu.yaml"
INDEPENDENT_SEED_OFFSET = 1000  # the independent reward models' seed: the run's plus this
SAMPLE_PROMPTS = 4  # held-out prompts whose replies the results file shows per policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=["tiny", "cpu"])
    parser.add_argument("--objectives", nargs=2, default=["empathy", "helpfulness"], help="two reward-model objectives")
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per policy")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="one pair of policies per seed")
    parser.add_argument("--heldout", type=int, default=32, help="held-out prompts (evaluate.max_prompts)")
    parser.add_argument("--train-pairs", type=int, default=300, help="train pairs per reward model (each set)")
    parser.add_argument("--heldout-pairs", type=int, default=200, help="held-out pairs for reward-model agreement")
    parser.add_argument("--max-prompt-chars", type=int, default=400, help="longest prompt GRPO and evaluation use")
    add_run_arguments(parser, RESULT, kept="data, SFT and reward models")
    args = parser.parse_args()
    result = write_result("benchmarks.aggregation", args, lambda work: run(args, work))
    for name, r in result["aggregations"].items():
        print(f"{name}: steers on both objectives in {r['steers_on_both']} of {len(args.seeds)} seeds")
        for seed, s in r["seeds"].items():
            for o, d in s["independent"]["difference"].items():
                if d.get("unjudged"):
                    print(f"  seed {seed} {o}: unjudged (its evaluator's agreement interval reaches 0.5)")
                else:
                    print(f"  seed {seed} {o}: toward-minus-away {d['mean']:+.4f} {d['ci95']}  steers {d['steers']}")
    for o, e in result["evaluators"].items():
        print(
            f"{o}: training RM {e['training']['accuracy']} {e['training']['ci95']}, independent RM "
            f"{e['independent']['accuracy']} {e['independent']['ci95']}, counts {e['counts']}"
        )
    print(f"recommended_default: {result['recommended_default']}\nwritten {args.output}")


def run(args, work: Path) -> dict:
    os.chdir(REPO)  # data sources in params.yaml are relative to the project
    from components.data.ingest import ingest
    from components.reward_models.train import train_reward_models
    from components.scorers.reward_model import is_reward_model
    from components.sft.train import train_sft
    from paretoflow import paths
    from paretoflow.config import load_params

    first, second = args.objectives
    base = [
        f"profile={args.profile}",
        f"cache_dir={REPO / '.cache'}",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        f"data.sources=[{', '.join(SOURCES)}]",
        f"reward_model.max_train_pairs={args.train_pairs}",
        f"reward_model.max_heldout_pairs={args.heldout_pairs}",
        "reward_model.evaluator.enabled=false",  # the independent evaluators are this benchmark's own (below)
        *recipe_settings(),
        f"objectives=[{{name: {first}, scorer: reward_model}}, {{name: {second}, scorer: reward_model}}]",
        f"grpo.weights=[{{{first}: 0.8, {second}: 0.2}}, {{{first}: 0.2, {second}: 0.8}}]",
        f"grpo.max_steps={args.steps}",
        "grpo.log_completions_every=0",
        f"evaluate.max_prompts={args.heldout}",
        "evaluate.perplexity_examples=0",
        "evaluate.side_by_side_prompts=0",
        "evaluate.independent={}",
        *args.override,
    ]
    data, sft, models, judges = work / "data", work / paths.SFT.name, work / "reward_models", work / "independent"
    base.append(f"evaluate.independent={{{', '.join(f'{o}: rm:{judges / o}' for o in args.objectives)}}}")
    params = load_params("params.yaml", base[:-1])
    started = time.perf_counter()
    reused = is_reward_model(models / first) and is_reward_model(judges / first)
    if not (data / "prompts.parquet").exists():
        ingest(params, data)
    if params.sft.enabled and not (sft / "policy" / "config.json").exists():
        train_sft(params, data, sft)
    if not all(is_reward_model(models / o) for o in args.objectives):
        train_reward_models(params, data, models)
    if not all(is_reward_model(judges / o) for o in args.objectives):
        other = load_params("params.yaml", [*base[:-1], f"seed={params.seed + INDEPENDENT_SEED_OFFSET}"])
        train_reward_models(other, disjoint_pairs(data, work / "data-independent", params), judges)
    params = load_params("params.yaml", base)
    evaluators = agreement(models, judges, args.objectives)
    prompts = short_prompts(data, work / "data-short", args.max_prompt_chars)
    timings = {
        "data_sft_reward_models_seconds": round(time.perf_counter() - started, 1),
        "reward_models_reused_from_work_dir": reused,
    }
    results = {}
    for aggregation in AGGREGATIONS:
        seeds = {}
        for seed in args.seeds:
            p = load_params("params.yaml", [*base, f"grpo.multi_objective_aggregation={aggregation}", f"seed={seed}"])
            seeds[str(seed)] = run_pair(p, work / "data-short", models, work / f"{aggregation}-{seed}", timings)
        both = sum(all(d["steers"] for d in s["independent"]["difference"].values()) for s in seeds.values())
        results[aggregation] = {"steers_on_both": both, "seeds": seeds}
    return {
        "benchmark": "do the weights steer: (0.8, 0.2) vs (0.2, 0.8) policies on two reward-model objectives, "
        "per aggregation, held-out scores of independent evaluators with paired-bootstrap 95% intervals",
        "profile": args.profile,
        "policy": params.policy.model_dump(mode="json"),
        "sft": params.sft.enabled,
        "objectives": args.objectives,
        "data": SOURCES,
        "prompts": prompts,
        "independent_evaluators": "reward models (same backbone) trained on the next train pairs of each objective "
        f"(disjoint from the training reward models' first {args.train_pairs}), seed {params.seed} + "
        f"{INDEPENDENT_SEED_OFFSET}",
        "evaluators": evaluators,
        "reward_model": params.reward_model.model_dump(
            mode="json",
            include={
                "backbone",
                "architecture",
                "cut_reply_pairs",
                "max_train_pairs",
                "max_heldout_pairs",
                "max_length",
                "learning_rate",
            },
        ),
        "weights": params.grpo.weights,
        "grpo": params.grpo.model_dump(
            mode="json",
            include={"max_steps", "num_generations", "prompts_per_step", "max_completion_length", "learning_rate"}
            | {"beta", "temperature", "scale_rewards", "lora", "reward_scale"},
        ),
        "evaluate": params.evaluate.model_dump(mode="json", include={"max_new_tokens", "do_sample", "temperature"}),
        "timings": timings,
        "aggregations": results,
        "recommended_default": recommend(results) if all(e["counts"] for e in evaluators.values()) else None,
    }


def short_prompts(data: Path, out: Path, limit: int) -> dict:
    """A copy of the ingested tables keeping the prompts of at most `limit` characters (their JSON text)."""
    import shutil

    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(data / "pairs.parquet", out / "pairs.parquet")
    prompts = pd.read_parquet(data / "prompts.parquet")
    kept = prompts[prompts["prompt"].str.len() <= limit]
    kept.to_parquet(out / "prompts.parquet", index=False)
    return {"max_chars": limit, "kept": kept.groupby("split").size().to_dict(), "of": len(prompts)}


def disjoint_pairs(data: Path, out: Path, params) -> Path:
    """A copy of the ingested tables without each objective's first `reward_model.max_train_pairs` train pairs (by
    id, the ones the training reward models learn from), so reward models trained on it see other pairs."""
    import shutil

    from components.data.canonical import read_table, write_table

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(data / "prompts.parquet", out / "prompts.parquet")
    pairs = read_table(data / "pairs.parquet")
    train = pairs[pairs["split"] == "train"].sort_values("id")
    used = train.groupby("objective").head(params.reward_model.max_train_pairs)["id"]
    write_table(pairs[~pairs["id"].isin(set(used))], out / "pairs.parquet")
    return out


def agreement(models: Path, judges: Path, objectives: list[str]) -> dict:
    """Held-out agreement with the human labels of both reward-model sets (same held-out pairs); an independent
    evaluator counts when its 95% interval lies above 0.5."""
    training, independent = (json.loads((d / "metrics.json").read_text()) for d in (models, judges))

    def summary(m: dict) -> dict:
        interval = [round(m["heldout_ci95_low"], 4), round(m["heldout_ci95_high"], 4)]
        return {"accuracy": round(m["heldout_accuracy"], 4), "ci95": interval, "pairs": m["heldout_pairs"]}

    return {
        o: {
            "training": summary(training[o]),
            "independent": summary(independent[o]),
            "counts": independent[o]["heldout_ci95_low"] > 0.5,
        }
        for o in objectives
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
        "replies": reply_shares(scores, objectives),
        "samples": samples(scores, SAMPLE_PROMPTS),
        "reward_scales": scales,
        "zero_variance_groups": {m["name"]: m.get("zero_variance_groups") for m in manifest},
        "independent": compare(scores, toward, away, {o: o for o in objectives}, signs, params.seed),
        "training_reward_models": compare(
            scores, toward, away, {o: f"{o}_training" for o in objectives}, signs, params.seed
        ),
    }


def reply_shares(scores, objectives: list[str]) -> dict:
    """Per policy: the share of replies that ended their turn, and per objective the share its evaluator scored 0
    (what the judge guard gives a flagged reply): where nearly all are 0, no comparison can steer."""
    return {
        policy: {"ended": round(float(f["ended"].mean()), 4)}
        | {"median_words": float(f["completion"].str.split().str.len().median())}
        | {f"{o}_zero": round(float((f[o] == 0).mean()), 4) for o in objectives if f[o].notna().any()}
        for policy, f in scores.groupby("policy")
    }


def samples(scores, prompts: int) -> list[dict]:
    """The replies of the start policy and of both trained policies to the first `prompts` held-out prompts, side by
    side, so a reader sees what the scores rewarded."""
    chosen = sorted(scores["prompt_id"].unique())[:prompts]
    return [
        {"prompt_id": pid} | dict(zip(f["policy"], f["completion"]))
        for pid, f in scores[scores["prompt_id"].isin(chosen)].groupby("prompt_id")
    ]


RECIPE_KEYS = {  # what the start policy, the reward models, GRPO and evaluation take from the real-data recipe
    "sft": None,  # the whole section
    "reward_model": ("architecture", "max_length", "cut_reply_pairs"),
    "grpo": ("num_generations", "prompts_per_step", "max_completion_length", "learning_rate", "beta", "unfinished"),
    "evaluate": ("max_new_tokens", "max_prompt_tokens", "do_sample", "no_repeat_ngram_size"),
}


def recipe_settings() -> list[str]:
    """Overrides that train and judge as recipes/support-cpu.yaml does (benchmarks/alignment.py's run): its start
    policy (LoRA SFT on ESConv supporter replies), reward-model architecture, GRPO step and decoding. Two runs that
    left them at the params file's defaults compared nothing: the full fine-tune made for the sample data ended 31%
    of the held-out turns (commit 5acb50c), and 24-token completions cut the SFT policy's replies (about 35 tokens)
    before their end, so GRPO taught both policies to stop ending their turns and the guard scored most replies 0."""
    import yaml

    recipe = yaml.safe_load(RECIPE.read_text())
    out = []
    for section, keys in RECIPE_KEYS.items():
        if keys is None:
            out.append(f"{section}={json.dumps(recipe[section])}")
        else:
            out += [f"{section}.{k}={json.dumps(recipe[section][k])}" for k in keys]
    return out


def compare(scores, toward: str, away: str, columns: dict[str, str], signs: dict[str, int], seed: int) -> dict:
    """Per objective: each policy's mean with its 95% interval, and the paired difference (the policy weighted
    towards the objective minus the other) with its 95% interval over the same prompts."""
    from components.common.stats import bootstrap_ci

    unjudged = [o for o, column in columns.items() if scores[column].isna().all()]  # evaluate found no evaluator
    columns = {o: c for o, c in columns.items() if o not in unjudged}
    wide = scores.pivot_table(index="prompt_id", columns="policy", values=list(columns.values()))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(wide), size=(BOOTSTRAP, len(wide)))
    policies, difference = {}, {o: {"unjudged": True, "steers": False} for o in unjudged}
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
        smallest = min(d.get("mean", 0.0) for s in r["seeds"].values() for d in s["independent"]["difference"].values())
        return r["steers_on_both"], smallest

    best = max(results, key=lambda k: strength(results[k]))
    return best if results[best]["steers_on_both"] else None


if __name__ == "__main__":
    main()
