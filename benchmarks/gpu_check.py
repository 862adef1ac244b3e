"""GPU check (gpu profile): a few GRPO steps of a real model through the grpo component, with and without
vLLM rollouts; step time and generated tokens per second to `benchmarks/results/gpu_check.json`.

Needs a CUDA device (it stops with a message otherwise; never part of the tests). The policy is the gpu
profile's (`--model` overrides it: a Hub id or a local directory). vLLM colocate needs `vllm` importable in
this environment; server mode needs `trl vllm-serve --model <model>` running and `--vllm-server URL`.
A vLLM variant that cannot run is recorded with the reason instead of a time.

    python -m benchmarks.gpu_check --steps 6
    python -m benchmarks.gpu_check --model Qwen/Qwen2.5-0.5B-Instruct --vllm-server http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.grpo_step_time import REPO, bench_project, pipeline_arm
from paretoflow.schema import Vllm

OUT = REPO / "benchmarks" / "results" / "gpu_check.json"


def variant(name: str, params, data: Path, reward_models: Path, out: Path) -> dict:
    run = pipeline_arm(params, data, reward_models, out)
    steps = run["steps"][1:]  # the first step is warm-up (CUDA kernels, vLLM graph capture)
    per_step = params.grpo.num_generations * params.grpo.prompts_per_step
    lengths = [e["completions/mean_length"] for e in run["log_history"] if "completions/mean_length" in e][1:]
    tokens = [length * per_step / seconds for length, seconds in zip(lengths, steps)]
    return {
        "variant": name,
        "step_seconds_median": round(statistics.median(steps), 3),
        "step_seconds_by_step": [round(s, 3) for s in run["steps"]],
        "completion_tokens_per_second": round(statistics.median(tokens), 1) if tokens else None,
        "train_wall_seconds": round(run["seconds"], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--model", help="policy (Hub id or local dir); default: the gpu profile's")
    parser.add_argument("--vllm-server", help="base URL of a running `trl vllm-serve` (server mode)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3, help="vLLM colocate share")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check needs a CUDA device and none is visible; run it on a GPU machine", file=sys.stderr)
        return 2
    overrides = [
        "profile=gpu",
        f"cache_dir={REPO / '.cache'}",
        f"grpo.max_steps={args.steps}",
        "grpo.save_steps=100000",
    ]
    if args.model:
        overrides.append(f"policy={{kind: pretrained, name_or_path: '{args.model}'}}")
    colocate = Vllm(enabled=True, mode="colocate", gpu_memory_utilization=args.gpu_memory_utilization)
    variants = [("vllm_colocate", colocate)]
    if args.vllm_server:
        variants.append(("vllm_server", Vllm(enabled=True, mode="server", server_base_url=args.vllm_server)))
    results = []
    with tempfile.TemporaryDirectory(prefix="pf-gpu-check-") as tmp:
        root = Path(tmp)
        params, data, reward_models = bench_project(root, overrides)
        results.append(variant("hf_generate", params, data, reward_models, root / "hf"))
        print(json.dumps(results[-1]), flush=True)
        for name, vllm in variants:
            if vllm.mode == "colocate" and importlib.util.find_spec("vllm") is None:
                results.append({"variant": name, "skipped": "vllm is not installed in this environment"})
                continue
            with_vllm = params.model_copy(update={"grpo": params.grpo.model_copy(update={"vllm": vllm})})
            try:
                results.append(variant(name, with_vllm, data, reward_models, root / name))
            except Exception as exc:  # a broken vLLM setup is a result to record, not a crash of the check
                results.append({"variant": name, "failed": f"{type(exc).__name__}: {exc}"[:2000]})
            print(json.dumps(results[-1]), flush=True)
    report = {
        "model": params.policy.model_dump(),
        "steps": args.steps,
        "num_generations": params.grpo.num_generations,
        "prompts_per_step": params.grpo.prompts_per_step,
        "max_completion_length": params.grpo.max_completion_length,
        "lora": params.grpo.lora.model_dump() if params.grpo.lora else None,
        "gpu": torch.cuda.get_device_name(0),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
