"""The start policy on the cpu profile: pretrained Gemma 3 270M against its SFT warm start, on held-out prompts.

Runs ingest, validate and sft on the project's sample data (the demo's inputs) in a temporary copy of the project,
then generates greedy replies of both policies on every held-out prompt (the prompts table's test split and the
test pairs' prompts, up to `--prompts`, cut to their latest turns as evaluation cuts them) within evaluation's budget
of 64 new tokens, and measures:
- held-out loss and perplexity of the test split's reference replies (the sft step's own report);
- end-of-turn rate (the reply closed its turn within 64 tokens), replies carrying a role marker or the next
  speaker's turn, median length in words (so stubs cannot pass), with Wilson 95% intervals on the rates;
- SFT training time (wall seconds of `trainer.train()`), steps, examples;
- sample replies of both policies side by side.
Each policy decodes greedily once per arm: each `--penalties` value (default 1.0, none; CTRL's 1.2 showed that a
small model's greedy replies under a penalty run on without reaching the end of the turn), without n-gram blocking
and with the params' `evaluate.no_repeat_ngram_size` where it is set. The issue's bar is checked on the decoding the
pipeline uses (`evaluate.repetition_penalty` and `evaluate.no_repeat_ngram_size`): end-of-turn >= 95%, no role
marker, median >= 8 words.
Writes benchmarks/results/sft_cpu.json whole.

`--recipe support-cpu` measures the real-data recipe's start policy instead: recipes/support-cpu.yaml with its
sources pointed at ../shared/data (as benchmarks/alignment.py points them), held-out prompts of ESConv's test split.

    .venv/bin/python -m benchmarks.sft [--prompts 40] [--keep DIR] [--recipe support-cpu -o sft.lora=null --output F]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.provenance import Provenance
from components.common.messages import latest_turns
from components.common.model_store import policy_dir
from components.common.replies import DecodeSettings, generate_replies
from components.data.canonical import read_table
from paretoflow.config import load_params
from paretoflow.steps import execute

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "sft_cpu.json"
ROLE_MARKER = re.compile(r"(^|\n)\s*(user|model|assistant|seeker|supporter|human|patient|therapist)\s*[:\n]", re.I)
BUDGET = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=40, help="held-out prompts to generate on")
    parser.add_argument("--keep", type=Path, help="copy the trained SFT policy here (for reading its replies)")
    parser.add_argument(
        "--penalties", default="1.0", help="repetition penalties, one decoding arm each (e.g. 1.0,1.2: CTRL's value)"
    )
    parser.add_argument("-o", "--override", action="append", default=[], help="params override, e.g. sft.epochs=2")
    parser.add_argument("--output", type=Path, default=OUT)
    parser.add_argument("--recipe", help="a recipe of recipes/ (its sources on ../shared/data) instead of params.yaml")
    args = parser.parse_args()
    penalties = tuple(float(p) for p in args.penalties.split(","))
    provenance = Provenance("benchmarks.sft")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("params.yaml", "data", "recipes"):
            subprocess.run(["cp", "-r", str(REPO / name), str(root / name)], check=True)
        os.chdir(root)
        params_file, sources = "params.yaml", []
        if args.recipe:
            from benchmarks.alignment import local_sources

            params_file, sources = f"recipes/{args.recipe}.yaml", [local_sources()]
        params = load_params(
            params_file,
            [f"cache_dir={REPO / '.cache'}", f"tracking.uri=sqlite:///{root}/mlflow.db", *sources, *args.override],
        )
        started = time.perf_counter()
        for step in ("ingest", "validate", "sft"):
            result = execute(step, params)
        step_seconds = time.perf_counter() - started
        sft = json.loads((root / "artifacts/sft/sft.json").read_text())
        prompts = heldout_prompts(root / "artifacts/data", args.prompts, root / "artifacts/sft/policy", params)
        policies = {"pretrained": policy_dir(params.policy, params.cache_dir), "sft": root / "artifacts/sft/policy"}
        arms = [(p, n) for p in penalties for n in sorted({0, params.evaluate.no_repeat_ngram_size})]
        replies = {
            (name, arm): generate_replies(
                path,
                prompts,
                DecodeSettings(
                    max_new_tokens=BUDGET,
                    batch_size=8,
                    seed=params.seed,
                    repetition_penalty=arm[0],
                    no_repeat_ngram_size=arm[1],
                ),
            )
            for name, path in policies.items()
            for arm in arms
        }
        if args.keep:
            subprocess.run(["cp", "-r", str(policies["sft"]), str(args.keep)], check=True)
        os.chdir(REPO)
    indicators = {name: {_arm(arm): reply_indicators(replies[name, arm]) for arm in arms} for name in policies}
    used = (params.evaluate.repetition_penalty, params.evaluate.no_repeat_ngram_size)
    bar = reply_indicators(replies["sft", used]) if ("sft", used) in replies else None
    report = {
        **provenance.record(),
        "params_file": params_file,
        "overrides": args.override,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "policy": params.policy.model_dump(),
        "sft_settings": params.sft.model_dump(),
        "sft": {
            "examples": sft["examples"],
            "steps": sft["steps"],
            "bf16": sft["bf16"],
            "train_seconds": sft["train_seconds"],
            "step_seconds_with_heldout_checks": round(result["seconds"], 1),
            "ingest_validate_sft_seconds": round(step_seconds, 1),
            "heldout_reference_replies": sft["heldout"],
        },
        "heldout_prompts": len(prompts),
        "max_new_tokens": BUDGET,
        "decoding": "greedy; each repetition penalty, with and without n-gram blocking, an arm",
        "indicators": indicators,
        "bar": {
            "decoding": f"evaluate: {_arm(used)}",
            "measured": bar is not None,
            "end_of_turn_rate>=0.95": bool(bar and bar["end_of_turn_rate"] >= 0.95),
            "no_role_marker": bool(bar and bar["role_marker_replies"] == 0),
            "median_words>=8": bool(bar and bar["median_words"] >= 8),
        },
        "samples": [
            {"prompt": p[-1]["content"], **{f"{n} ({_arm(k)})": replies[n, k][i].text for n, k in replies}}
            for i, p in enumerate(prompts[:12])
        ],
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("sft", "indicators", "bar")}, indent=2))


def _arm(arm: tuple[float, int]) -> str:
    return f"repetition_penalty={arm[0]},no_repeat_ngram_size={arm[1]}"


def heldout_prompts(data_dir: Path, limit: int, policy: Path, params) -> list[list[dict]]:
    """The test split's prompts, then the test pairs' prompts, without repeats, in id order; each dialogue keeps its
    latest turns within `evaluate.max_prompt_tokens`, as the pipeline's evaluation cuts them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy)
    prompts = read_table(data_dir / "prompts.parquet")
    pairs = read_table(data_dir / "pairs.parquet")
    seen, out = set(), []
    for table in (prompts, pairs):
        for prompt in table[table["split"] == "test"].sort_values("id")["prompt"]:
            key = json.dumps(prompt)
            kept = latest_turns(list(prompt), tokenizer, params.evaluate.max_prompt_tokens)
            if key not in seen and kept:
                seen.add(key)
                out.append(kept)
    return out[:limit]


def reply_indicators(replies) -> dict:
    n = len(replies)
    ended = sum(r.ended for r in replies)
    marked = sum(bool(ROLE_MARKER.search(r.text)) for r in replies)
    words = sorted(len(r.text.split()) for r in replies)
    return {
        "n": n,
        "end_of_turn_rate": round(ended / n, 3),
        "end_of_turn_ci95": wilson(ended, n),
        "role_marker_replies": marked,
        "median_words": words[n // 2],
        "median_tokens": sorted(r.tokens for r in replies)[n // 2],
    }


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    centre = (k + z * z / 2) / (n + z * z)
    half = z * ((k * (n - k) / n + z * z / 4) ** 0.5) / (n + z * z)
    return [round(centre - half, 3), round(centre + half, 3)]


if __name__ == "__main__":
    main()
