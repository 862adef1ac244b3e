"""Seconds per multi-turn GRPO step on the cpu profile, beside a single-turn step of the same problem.

Both arms run the grpo component (components.grpo.train, in a step run) on the sample prompts with the pretrained
Gemma 3 270M as the start policy (`sft.enabled=false`: no SFT weights are trained here), 4 completions of up to 24
tokens per turn, one prompt per step, seed 42:
- `multi_turn`: objectives emotion (the simulated seeker, Gemma 3 270M through the `hf` backend) and concision, so the
  rollouts are whole conversations of up to `seeker.max_turns` (3) supporter turns;
- `single_turn`: the same policy and settings with concision and the one-turn `novelty`, so rollouts are one reply.
A step's time is the interval between consecutive `on_step_begin` events (rollouts, seeker, rewards, update,
logging); each run's first step is warm-up and dropped. Also recorded: the seeker's malformed output, conversation
turns and the seeker's share of a step (its LLM calls, timed).
Writes benchmarks/results/multiturn_step.json whole:

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.multiturn_step [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.grpo_step_time import step_timer
from benchmarks.provenance import Provenance

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "multiturn_step.json"
ARMS = {
    "multi_turn": [
        "objectives=[{name: emotion, scorer: emotion}, {name: concision, scorer: concision, target_words: 12}]",
        "grpo.weights=[{emotion: 0.5, concision: 0.5}]",
    ],
    "single_turn": [
        "objectives=[{name: novelty, scorer: novelty}, {name: concision, scorer: concision, target_words: 12}]",
        "grpo.weights=[{novelty: 0.5, concision: 0.5}]",
    ],
}
COMMON = [
    "data.sources=[{name: sample-pairs, uri: data/sample/pairs.jsonl},"
    " {name: sample-prompts, uri: data/sample/prompts.jsonl}]",
    "sft.enabled=false",
    "evaluate.independent={}",
    "grpo.reward_scale={prompts: 4, completions_per_prompt: 2}",
    "grpo.log_completions_every=0",
    "grpo.audit=[]",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per arm (the first is warm-up)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("-o", "--override", action="append", default=[], help="params override, as paretoflow's -o")
    args = parser.parse_args()
    provenance = Provenance("benchmarks.multiturn_step")
    arms = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("params.yaml", "data"):
            shutil.copytree(REPO / name, root / name) if (REPO / name).is_dir() else shutil.copy(REPO / name, root)
        os.chdir(root)
        try:
            for arm, overrides in ARMS.items():
                arms[arm] = run_arm(root, [*COMMON, *overrides, f"grpo.max_steps={args.steps}", *args.override])
        finally:
            os.chdir(REPO)
    multi, single = (statistics.median(arms[a]["steady_step_seconds"]) for a in ("multi_turn", "single_turn"))
    report = {
        **provenance.record(),
        "policy": "Gemma 3 270M pretrained (sft disabled)",
        "arms": arms,
        "median_step_seconds": {"multi_turn": round(multi, 2), "single_turn": round(single, 2)},
        "multi_over_single": round(multi / single, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("median_step_seconds", "multi_over_single")}, indent=2))


def run_arm(root: Path, overrides: list[str]) -> dict:
    from components.data.ingest import ingest
    from components.grpo import train as grpo
    from components.seeker.simulator import seeker_for
    from paretoflow import tracking
    from paretoflow.config import load_params

    params = load_params(
        root / "params.yaml", [f"cache_dir={REPO / '.cache'}", f"tracking.uri=sqlite:///{root}/mlflow.db", *overrides]
    )
    data, reward_models, out = root / "artifacts" / "data", root / "artifacts" / "reward_models", root / "policies"
    ingest(params, data)
    reward_models.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    captured, seeker_seconds = {}, [0.0]
    original = grpo.build_trainer
    seeker = seeker_for(params)
    respond = seeker.respond

    def timed_respond(*a, **k):
        started = time.perf_counter()
        try:
            return respond(*a, **k)
        finally:
            seeker_seconds[0] += time.perf_counter() - started

    def timed(params, base, train, rewards, args):
        trainer, tokenizer = original(params, base, train, rewards, args)
        captured.update(timer=step_timer(), trainer=trainer, seeker_at_start=seeker_seconds[0])
        trainer.add_callback(captured["timer"])
        return trainer, tokenizer

    grpo.build_trainer, seeker.respond = timed, timed_respond
    try:
        with tracking.step_run(params, "grpo", ("grpo",), {}, None, None):
            grpo.train_policies(params, data, reward_models, out)
    finally:
        grpo.build_trainer, seeker.respond = original, respond
    trainer = captured["trainer"]
    steps = captured["timer"].step_seconds()
    history = [e for e in trainer.state.log_history if "step" in e and "loss" in e]
    in_training = seeker_seconds[0] - captured["seeker_at_start"]
    return {
        "objectives": [o.name for o in params.objectives],
        "multi_turn": any(o.scorer == "emotion" for o in params.objectives),
        "seeker_max_turns": params.seeker.max_turns,
        "num_generations": params.grpo.num_generations,
        "max_completion_length_per_turn": params.grpo.max_completion_length,
        "step_seconds": [round(s, 2) for s in steps],
        "steady_step_seconds": [round(s, 2) for s in steps[1:]] or [round(s, 2) for s in steps],
        "seeker_seconds_per_step": round(in_training / max(1, len(steps)), 2),
        "seeker_turns_mean": [e.get("seeker/turns") for e in history],
        "seeker_final_emotion_mean": [e.get("seeker/final_emotion") for e in history],
        "completion_tokens_mean": [e.get("completions/mean_length") for e in history],
        "seeker_malformed": dict(seeker.malformed),
    }


if __name__ == "__main__":
    main()
