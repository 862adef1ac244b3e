"""GRPO step time inside the pipeline against a raw TRL script, same model, same GRPOConfig, same seed.

Pipeline: the grpo component (`train_policies`) inside the step's MLflow run, with everything it attaches
(its reward functions, compact progress bar, MLflow metrics every step, completion sample tables, checkpoint
marker, SIGTERM handler). Raw: what one writes with TRL alone: `GRPOTrainer(...).train()` on the same
converted policy and train prompts, with plain reward functions computing the same scores and a copy of the
GRPOConfig the pipeline built (taken before the trainer saw it), and no callbacks beyond TRL's defaults.
A step's time is the interval between consecutive `on_step_begin` events (its generation, rewards, update,
logging and any save); each run's first step is warm-up and dropped. Same seed, so both arms generate the
same completions (checked: per-step mean completion length and reward). Rounds alternate which arm goes
first. Step times differ a lot from one step to the next (what was generated), identically in both arms, so
the headline ratio pairs them: raw seconds over pipeline seconds summed over the same measured steps, within
one invocation (target >= 0.97); the ratio of pooled medians and the spread of per-step ratios come with it.

The cpu profile's Gemma 3 270M from the converted cache, 4 completions of 24 tokens, two concision
objectives (no reward model to train first; scoring them costs the same in both arms).
Run it alone on the machine: `flock /tmp/pf-heavy.lock python -m benchmarks.grpo_step_time`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPY = ("params.yaml", "dvc.yaml", "components", "data")
OUT = REPO / "benchmarks" / "results" / "grpo_step_time.json"
TARGET = 0.97


def step_timer():
    """Records the start of every optimizer step (and the end of training)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.marks: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.marks.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kwargs):
            self.marks.append(time.perf_counter())

        def step_seconds(self) -> list[float]:
            """Full steps only: begin to next begin (the last step ends at on_train_end, after its save)."""
            return [b - a for a, b in zip(self.marks, self.marks[1:])]

    return StepTimer()


class Spent:
    """Seconds spent inside reward functions and inside each callback class, to say where a gap comes from."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, label: str, func):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        timed.__name__ = func.__name__  # TRL names reward columns after it
        return timed

    def rewards(self, funcs: list) -> list:
        return [self.wrap(f"reward/{f.__name__}", f) for f in funcs]

    def callbacks(self, trainer) -> None:
        """Time every callback event, per callback class, from the start of training (all are attached by then)."""
        from transformers import TrainerCallback

        events = [name for name in dir(TrainerCallback) if name.startswith("on_")]
        train = trainer.train

        def instrumented(*args, **kwargs):
            for callback in trainer.callback_handler.callbacks:
                label = f"callback/{type(callback).__name__}"
                for event in events:
                    setattr(callback, event, self.wrap(label, getattr(callback, event)))
            return train(*args, **kwargs)

        trainer.train = instrumented

    def per_step(self, steps: int) -> dict[str, float]:
        return {k: round(v / steps, 4) for k, v in sorted(self.seconds.items())}


def pipeline_arm(params, data: Path, reward_models: Path, out: Path) -> dict:
    """The component with its callbacks, in a step run. The trainer it builds gets a timer, and a copy of its
    GRPOConfig is taken before GRPOTrainer sees it (for the raw arm)."""
    from components.grpo import train as grpo
    from paretoflow import tracking

    captured, spent = {}, Spent()
    original = grpo.build_trainer

    def timed(params, base, train, rewards, args):
        captured["args"] = copy.deepcopy(args)
        trainer, tokenizer = original(params, base, train, spent.rewards(rewards), args)
        captured.update(timer=step_timer(), trainer=trainer)
        trainer.add_callback(captured["timer"])
        spent.callbacks(trainer)
        return trainer, tokenizer

    grpo.build_trainer = timed
    try:
        started = time.perf_counter()
        with tracking.step_run(params, "grpo", ("grpo",), {}, None, None):
            grpo.train_policies(params, data, reward_models, out)
        seconds = time.perf_counter() - started
    finally:
        grpo.build_trainer = original
    return {
        "steps": captured["timer"].step_seconds(),
        "seconds": seconds,
        "args": captured["args"],
        "work": work_per_step(captured["trainer"].state.log_history),
        "spent_per_step": spent.per_step(captured["trainer"].state.global_step),
    }


def raw_arm(params, data: Path, config, out: Path) -> dict:
    """A raw TRL script: the policy directory, the train prompts, plain reward functions (the concision formula
    of `components.scorers.objectives`, written out), the GRPOConfig copy; nothing from the grpo component."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from components.common.model_store import policy_dir
    from components.data.canonical import read_table

    def words_reward(name: str, target: int):
        def reward(completions, **kwargs):
            texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]
            return [0.0 if not t.split() else min(1.0, target / len(t.split())) for t in texts]

        reward.__name__ = name
        return reward

    base = str(policy_dir(params.policy, params.cache_dir))
    prompts = read_table(data / "prompts.parquet")  # prompts are stored as JSON message lists
    train = prompts[prompts["split"] == "train"].sort_values("id")
    args = copy.deepcopy(config)
    args.output_dir = str(out)
    spent = Spent()
    started = time.perf_counter()
    trainer = GRPOTrainer(
        model=base,
        reward_funcs=spent.rewards([words_reward(o.name, o.target_words) for o in params.objectives]),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": list(train["prompt"])}),
        processing_class=AutoTokenizer.from_pretrained(base, padding_side="left"),
    )
    timer = step_timer()
    trainer.add_callback(timer)
    spent.callbacks(trainer)
    trainer.train()
    return {
        "steps": timer.step_seconds(),
        "seconds": time.perf_counter() - started,
        "work": work_per_step(trainer.state.log_history),
        "spent_per_step": spent.per_step(trainer.state.global_step),
    }


def work_per_step(history: list[dict]) -> list[list[float]]:
    """[mean completion length, mean reward] per step: equal in both arms when they did the same work."""
    return [
        [round(e.get("completions/mean_length", -1), 3), round(e.get("reward", -1), 4)]
        for e in history
        if "step" in e and "reward" in e
    ]


def bench_project(root: Path, overrides: list[str]):
    """A throwaway project copy in `root` (the working directory from here on) with ingested sample prompts,
    two concision objectives and one weight vector; returns params and the data / reward-model folders."""
    for name in COPY:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    os.chdir(root)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from components.data.ingest import ingest
    from paretoflow.config import load_params

    params = load_params(
        "params.yaml",
        [
            f"tracking.uri=sqlite:///{root / 'mlflow.db'}",
            "objectives=[{name: brevity, scorer: concision, target_words: 6}, {name: concision, scorer: concision}]",
            "grpo.weights=[{brevity: 0.5, concision: 0.5}]",
            "evaluate.independent={}",  # its default names the default objectives
            "grpo.strategy=sweep",
            *overrides,
        ],
    )
    data, reward_models = root / "artifacts" / "data", root / "artifacts" / "reward_models"
    ingest(params, data)
    reward_models.mkdir(parents=True, exist_ok=True)
    return params, data, reward_models


def summary(steps: list[list[float]]) -> dict:
    measured = [s for run in steps for s in run[1:]]  # each run's first step is warm-up
    return {
        "step_seconds_median": round(statistics.median(measured), 3),
        "step_seconds_mean": round(statistics.fmean(measured), 3),
        "step_seconds_min": round(min(measured), 3),
        "steps_measured": len(measured),
        "step_seconds_by_run": [[round(s, 3) for s in run] for run in steps],
    }


def ratios(pipeline: list[list[float]], raw: list[list[float]]) -> dict:
    """Raw over pipeline: summed over the measured steps (paired: same rounds, same steps), of pooled medians,
    and per step (min, median, max)."""
    pairs = [(p, r) for run_p, run_r in zip(pipeline, raw) for p, r in zip(run_p[1:], run_r[1:])]
    per_step = [r / p for p, r in pairs]
    medians = statistics.median(r for _, r in pairs) / statistics.median(p for p, _ in pairs)
    return {
        "ratio_raw_over_pipeline": round(sum(r for _, r in pairs) / sum(p for p, _ in pairs), 4),
        "ratio_of_medians": round(medians, 4),
        "ratio_per_step": {
            k: round(f(per_step), 4) for k, f in (("min", min), ("median", statistics.median), ("max", max))
        },
    }


def earlier_runs() -> list[dict]:
    """The headline figures of the runs before this one (newest first): on a shared machine one run's ratio
    moves by several percent, so the spread across runs is part of the result."""
    if not OUT.exists():
        return []
    last = json.loads(OUT.read_text())
    keys = ("measured_at", "ratio_raw_over_pipeline", "ratio_of_medians", "ratio_per_step", "same_work")
    return [
        {k: last.get(k) for k in keys}
        | {"seconds_median": [last["pipeline"]["step_seconds_median"], last["raw_trl"]["step_seconds_median"]]}
        | {"step_seconds_by_run": {arm: last[arm]["step_seconds_by_run"] for arm in ("pipeline", "raw_trl")}},
        *last.get("earlier_runs", []),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (the first is warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="pipeline/raw pairs, alternating")
    parser.add_argument("--profile", default="cpu", choices=["cpu", "tiny"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-grpo-bench-") as tmp:
        root = Path(tmp)
        params, data, reward_models = bench_project(
            root, [f"profile={args.profile}", f"cache_dir={REPO / '.cache'}", f"grpo.max_steps={args.steps}"]
        )
        pipeline, raw, config = [], [], None
        walls, work, spent = ({"pipeline": [], "raw": []} for _ in range(3))
        for i in range(args.rounds):
            for arm in ("pipeline", "raw") if i % 2 == 0 else ("raw", "pipeline"):  # alternate who goes first
                if arm == "pipeline":
                    run = pipeline_arm(params, data, reward_models, root / f"policies-{i}")
                    config = config or run["args"]
                    pipeline.append(run["steps"])
                else:
                    run = raw_arm(params, data, config, root / f"raw-{i}")
                    raw.append(run["steps"])
                walls[arm].append(round(run["seconds"], 2))
                work[arm].append(run["work"])
                spent[arm].append(run["spent_per_step"])
            print(f"round {i}: pipeline {pipeline[-1]}, raw {raw[-1]}", flush=True)
    report = {
        "profile": args.profile,
        "policy": params.policy.model_dump(),
        "num_generations": params.grpo.num_generations,
        "max_completion_length": params.grpo.max_completion_length,
        "steps_per_run": args.steps,
        "rounds": args.rounds,
        "grpo_config": {k: str(getattr(config, k)) for k in ("save_strategy", "save_steps", "logging_steps", "seed")},
        "pipeline": summary(pipeline),
        "raw_trl": summary(raw),
        "train_wall_seconds": walls,
        "work_per_step": work,
        "seconds_per_step_in": spent,
        "same_work": work["pipeline"] == work["raw"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    report |= ratios(pipeline, raw)
    report["target"] = TARGET
    report["meets_target"] = report["ratio_raw_over_pipeline"] >= TARGET
    report["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["earlier_runs"] = earlier_runs()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
