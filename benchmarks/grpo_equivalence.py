"""Does the fast GRPO path learn what the fp32 path learns? Reward curves and held-out scores, seeds per arm.

Arms (the grpo component itself, inside the step's MLflow run):
- `fp32`: `grpo.precision: fp32` and TRL's fused LM head projecting every position (the path before issue 15);
- `fast`: `grpo.precision: auto` on this CPU (bf16 autocast over fp32 weights and AdamW states, rollouts from a
  bf16 copy of the policy synced every step) and the head projecting only the completion's positions.
Each arm trains the pretrained Gemma 3 270M (cpu profile) for `--steps` optimizer steps with each seed, on the
sample prompts with two concision objectives (brevity: 6 words, concision: 12 words; weights 0.5 / 0.5), 4
completions of `--tokens` tokens per step, the cpu profile's learning rate. Settings are small so that the whole
run fits a loaded two-core machine; what is compared is the learning, not its size.

Measured per run: the reward curve (the per-step mean of the weighted standardised rewards GRPO optimised; the
reward scales come from fp32 start-policy rollouts with the same seed, so both arms share them) and the held-out
score: greedy replies of the trained policy (fp32 decoding for every policy, `--tokens` new tokens) on the test
split's prompts, scored by the same concision scorers, weighted 0.5 / 0.5 (raw scores in [0, 1]).

The margins are declared here, before any run, and written into the results:
- curve: the fast arm's mean reward over the last 10 steps, averaged over seeds, within CURVE_MARGIN of the fp32
  arm's (standardised reward units: 1 = one within-prompt standard deviation of the start policy's rewards);
- held-out: the fast arm's held-out score, averaged over seeds, within HELDOUT_MARGIN of the fp32 arm's.
The seed spread of each arm is reported beside them, and whether the fp32 arm learned at all (its last-10 mean
above its first-5 mean), since two flat curves would agree trivially.

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.grpo_equivalence [--seeds 1,2,3 --steps 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.grpo_step_time import bench_project
from benchmarks.provenance import REPO, Provenance

OUT = REPO / "benchmarks" / "results" / "grpo_equivalence.json"
CURVE_MARGIN = 0.15  # standardised reward units, mean of the last 10 steps, averaged over seeds
HELDOUT_MARGIN = 0.03  # weighted concision score in [0, 1], averaged over seeds
WEIGHTS = {"brevity": 0.5, "concision": 0.5}
TARGETS = {"brevity": 6, "concision": 12}


def train_arm(arm: str, seed: int, root: Path, overrides: list[str]) -> dict:
    from components.common import fused_head
    from components.grpo import train as grpo
    from paretoflow import tracking

    work = root / f"{arm}-{seed}"
    work.mkdir()
    precision = "fp32" if arm == "fp32" else "auto"
    params, data, reward_models = bench_project(work, [*overrides, f"seed={seed}", f"grpo.precision={precision}"])
    original = grpo.build_trainer

    def built(params, base, train, rewards, args):
        trainer, tokenizer = original(params, base, train, rewards, args)
        fused_head.score_labelled_positions(arm != "fp32")
        return trainer, tokenizer

    grpo.build_trainer = built
    try:
        with tracking.step_run(params, "grpo", ("grpo",), {}, None, None):
            grpo.train_policies(params, data, reward_models, work / "policies")
    finally:
        grpo.build_trainer = original
        fused_head.score_labelled_positions()
    curves = json.loads((work / "policies" / "policy-0" / "curves.json").read_text())
    curve = [sum(WEIGHTS[o] * c[o] for o in WEIGHTS) for c in curves]
    return {"params": params, "data": data, "policy": work / "policies" / "policy-0", "curve": curve}


def heldout_score(policy: Path, data: Path, tokens: int, seed: int) -> dict:
    from components.common.replies import DecodeSettings, generate_replies
    from components.data.canonical import read_table

    prompts = read_table(data / "prompts.parquet")
    test = list(prompts[prompts["split"] == "test"].sort_values("id")["prompt"])
    settings = DecodeSettings(max_new_tokens=tokens, batch_size=len(test), seed=seed)
    replies = generate_replies(policy, test, settings, precision="fp32")
    per_reply = []
    for reply in replies:
        words = len(reply.text.split())
        per_reply.append(sum(WEIGHTS[o] * (0.0 if not words else min(1.0, t / words)) for o, t in TARGETS.items()))
    return {"score": round(statistics.fmean(per_reply), 4), "prompts": len(test)}


def arm_summary(runs: list[dict]) -> dict:
    last = [statistics.fmean(r["curve"][-10:]) for r in runs]
    first = [statistics.fmean(r["curve"][:5]) for r in runs]
    heldout = [r["heldout"]["score"] for r in runs]
    return {
        "curve_last10_mean_by_seed": [round(x, 4) for x in last],
        "curve_first5_mean_by_seed": [round(x, 4) for x in first],
        "curve_last10_mean": round(statistics.fmean(last), 4),
        "curve_last10_seed_std": round(statistics.stdev(last), 4) if len(last) > 1 else None,
        "heldout_by_seed": heldout,
        "heldout_mean": round(statistics.fmean(heldout), 4),
        "heldout_seed_std": round(statistics.stdev(heldout), 4) if len(heldout) > 1 else None,
        "learned": statistics.fmean(last) > statistics.fmean(first),
        "curves": [[round(x, 4) for x in r["curve"]] for r in runs],
        "train_seconds": [r["seconds"] for r in runs],
    }


def main() -> None:
    import time

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=12, help="max_completion_length, and held-out new tokens")
    parser.add_argument("--profile", default="cpu", choices=["cpu", "tiny"], help="tiny: a smoke run of the script")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args()
    provenance = Provenance("benchmarks.grpo_equivalence")
    seeds = [int(s) for s in args.seeds.split(",")]
    overrides = [
        f"profile={args.profile}",
        f"cache_dir={REPO / '.cache'}",
        f"grpo.max_steps={args.steps}",
        f"grpo.max_completion_length={args.tokens}",
        "sft.enabled=false",
        "grpo.reward_scale.prompts=4",
        "grpo.log_completions_every=0",
        f"grpo.save_steps={args.steps}",
    ]
    runs = {"fp32": [], "fast": []}
    with tempfile.TemporaryDirectory(prefix="pf-grpo-equivalence-") as tmp:
        for seed in seeds:
            for arm in ("fp32", "fast") if seed % 2 else ("fast", "fp32"):
                started = time.perf_counter()
                run = train_arm(arm, seed, Path(tmp), overrides)
                run["seconds"] = round(time.perf_counter() - started, 1)
                run["heldout"] = heldout_score(run["policy"], run["data"], args.tokens, seed)
                runs[arm].append({k: run[k] for k in ("curve", "heldout", "seconds")})
                print(
                    f"seed {seed} {arm}: last10 {statistics.fmean(run['curve'][-10:]):.4f} {run['heldout']}", flush=True
                )
    fp32, fast = arm_summary(runs["fp32"]), arm_summary(runs["fast"])
    curve_gap = fast["curve_last10_mean"] - fp32["curve_last10_mean"]
    heldout_gap = fast["heldout_mean"] - fp32["heldout_mean"]
    report = provenance.record() | {
        "profile": args.profile,
        "settings": {
            "seeds": seeds,
            "steps": args.steps,
            "num_generations": 4,
            "max_completion_length": args.tokens,
            "objectives": TARGETS,
            "weights": WEIGHTS,
            "start_policy": "pretrained (sft disabled)",
        },
        "margins_declared_before_the_run": {
            "curve_last10_mean": CURVE_MARGIN,
            "heldout_mean": HELDOUT_MARGIN,
        },
        "arms": {"fp32": fp32, "fast": fast},
        "curve_gap_fast_minus_fp32": round(curve_gap, 4),
        "heldout_gap_fast_minus_fp32": round(heldout_gap, 4),
        "within_margins": {
            "curve": abs(curve_gap) <= CURVE_MARGIN,
            "heldout": abs(heldout_gap) <= HELDOUT_MARGIN,
        },
        "fp32_learned": fp32["learned"],
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "arms"}, indent=2))


if __name__ == "__main__":
    main()
