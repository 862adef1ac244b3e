"""Held-out generation on the cpu profile: today's `generate` path against the decoding loop, at a fixed length.

The policy is the cpu profile's converted Gemma 3 270M; the prompts are the sample data's test-split prompts
(`--prompts`, evaluation's 12 by default) in one batch of evaluation's size, each decoded greedily to exactly
`--tokens` new tokens (evaluation's budget, 64): no arm may stop early, so shorter replies cannot make a gain.
Arms, run in turn within every round (`--rounds`, paired ratios per round):
- old/fp32: `generate_replies` as it was at BASELINE (HF `generate`, fp32), its end-of-turn suppressed by
  `min_new_tokens`;
- old/bf16: the same code on the bf16 model (what bf16 alone gives);
- new/fp32 and new/bf16: `components.common.replies.generate_ids` (the decoding loop, on the cores other work
  leaves idle) with no stop tokens.
Besides the timing it writes:
- a profile of one decoding step in each precision, with torch's threads and with one (prefill, the 18 layers,
  the 262k-token head, greedy pick, `torch.multinomial` against the inverse-CDF sampler), and per arm the seconds
  per token outside the model's step; with the arithmetic limit beside it: the step's FLOPs and weight bytes from
  the model's shape, this machine's measured matmul throughput (fp32, bf16) and copy bandwidth;
- equivalence: greedy replies (stopping at end of turn, as evaluation decodes) of the old and new paths, token for
  token, per precision; the loop's greedy tokens with one thread and with torch's threads; and a frequency test of
  the sampler: `--draws` tokens from one real next-token distribution by `torch.multinomial` and by the inverse-CDF
  sampler, each against the exact probabilities (chi-square over the tokens with expected count >= 5, the rest
  pooled), and against each other.
Writes benchmarks/results/generation_time.json whole. Run it alone (the machine's load is recorded per round):

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.generation_time [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from scipy.stats import chi2_contingency, chisquare

from benchmarks.provenance import Provenance
from components.common import decoding
from components.common.decoding import idle_cores, sample_tokens, threads
from components.common.model_store import policy_dir
from components.common.replies import DecodeSettings, generate_ids, load_policy, stop_token_ids
from components.data.canonical import assign_split
from paretoflow.config import load_params

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BASELINE = "b3c13a38c98b671cfa4d22c550d1b3f03d059e38"  # the last commit whose replies.py decoded with `generate`
ARMS = ("old/fp32", "old/bf16", "new/fp32", "new/bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=["tiny", "cpu"], help="tiny: a smoke run of this script")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--draws", type=int, default=20000, help="sampled tokens per sampler in the frequency test")
    args = parser.parse_args()
    provenance = Provenance("benchmarks.generation_time")
    params = load_params(REPO / "params.yaml", [f"profile={args.profile}", f"cache_dir={REPO / '.cache'}"])
    path = policy_dir(params.policy, params.cache_dir)
    prompts = heldout_prompts(params, args.prompts)
    old = baseline_module()
    loads, models = {}, {}
    for precision in ("fp32", "bf16"):
        started = time.perf_counter()
        models[precision] = load_policy(path, precision)
        loads[precision] = round(time.perf_counter() - started, 2)
    batch = params.evaluate.batch_size

    def run_arm(arm: str, tokens: int) -> list[list[int]]:
        code, precision = arm.split("/")
        model, tokenizer = models[precision]
        if code == "new":
            settings = DecodeSettings(max_new_tokens=tokens, batch_size=batch, seed=params.seed)
            return generate_ids(model, tokenizer, prompts, settings, stops=[])
        model.generation_config.min_new_tokens = tokens  # today's code has no switch for it: the model's default
        try:
            replies = old.generate_replies(
                path,
                prompts,
                max_new_tokens=tokens,
                batch_size=batch,
                seed=params.seed,
                model=model,
                tokenizer=tokenizer,
            )
        finally:
            model.generation_config.min_new_tokens = None
        return [[0] * r.tokens for r in replies]  # only their lengths are checked

    checks = {"profile": profile(models, prompts, batch)}  # first: a failing check costs no timed round
    checks["equivalence"] = equivalence(models, old, path, prompts, params, args.tokens, args.draws)
    for arm in ARMS:  # warm-up: first-call allocations and kernel choices land in no round
        run_arm(arm, 2)
    rounds = []
    for r in range(args.rounds):
        seconds, used, load = {}, {}, os.getloadavg()[0]
        for arm in ARMS if r % 2 == 0 else ARMS[::-1]:  # alternate the order: drifting load hits every arm alike
            used[arm] = min(idle_cores(), torch.get_num_threads()) if arm.startswith("new") else torch.get_num_threads()
            started = time.perf_counter()
            rows = run_arm(arm, args.tokens)
            seconds[arm] = round(time.perf_counter() - started, 3)
            if any(len(row) != args.tokens for row in rows):
                raise RuntimeError(f"{arm} did not generate exactly {args.tokens} tokens per prompt")
        rounds.append(
            {
                "round": r,
                "seconds": seconds,
                "threads": used,
                "load_average_1min_start": round(load, 2),
                "load_average_1min_end": round(os.getloadavg()[0], 2),
            }
        )
        print(json.dumps(rounds[-1]), flush=True)
    tokens = len(prompts) * args.tokens
    header = provenance.record()
    header["machine"] |= torch_and_bf16()
    report = {
        **header,
        "baseline_commit": BASELINE,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "policy": str(path.name),
        "settings": {
            "prompts": len(prompts),
            "new_tokens_per_prompt": args.tokens,
            "batch_size": batch,
            "decoding": "greedy, no early stop",
            "threads": torch.get_num_threads(),
            "prompt_tokens": prompt_lengths(models["fp32"][1], prompts),
        },
        "load_seconds": loads,
        "rounds": rounds,
        "summary": summary(rounds, tokens),
        "where_the_seconds_go": attribution(rounds, checks["profile"], args.tokens),
        **checks,
    }
    out = RESULTS / ("generation_time.json" if args.profile == "cpu" else f"generation_time_{args.profile}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("summary", "equivalence")}, indent=2))


def heldout_prompts(params, limit: int) -> list[list[dict]]:
    """The sample prompts that the split puts in the test set, in file order."""
    splits = params.data.splits
    rows = [json.loads(line) for line in (REPO / "data/sample/prompts.jsonl").read_text().splitlines()]
    test = [r["prompt"] for r in rows if assign_split(r["prompt"], splits.salt, splits.test_fraction) == "test"]
    return test[:limit]


def baseline_module():
    """`components/common/replies.py` as committed at BASELINE, imported under its own name."""
    source = _git("show", f"{BASELINE}:components/common/replies.py")
    path = Path(tempfile.mkdtemp()) / "replies_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("replies_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["replies_baseline"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def summary(rounds: list[dict], tokens: int) -> dict:
    """Per arm: median seconds and tokens/s; per new arm: the old/fp32 / arm ratio of each round and their median."""
    out = {}
    for arm in ARMS:
        times = [r["seconds"][arm] for r in rounds]
        out[arm] = {
            "median_seconds": round(statistics.median(times), 3),
            "tokens_per_second": round(tokens / statistics.median(times), 1),
        }
    for arm in ARMS[1:]:
        ratios = [r["seconds"]["old/fp32"] / r["seconds"][arm] for r in rounds]
        out[arm]["speedup_vs_old_fp32_per_round"] = [round(x, 2) for x in ratios]
        out[arm]["speedup_vs_old_fp32_median"] = round(statistics.median(ratios), 2)
    ratios = [r["seconds"]["old/bf16"] / r["seconds"]["new/bf16"] for r in rounds]
    out["new/bf16"]["speedup_vs_old_bf16_median"] = round(statistics.median(ratios), 2)
    out["target_3x_met"] = min(out["new/bf16"]["speedup_vs_old_fp32_per_round"]) >= 3.0
    return out


def attribution(rounds: list[dict], parts: dict, tokens: int) -> dict:
    """Per arm (median round): the prefill, and per generated token the model's own step (layers and head, as
    profiled with the arm's thread count) and the rest: cache, sampling, masks, processors, Python."""
    out = {}
    for arm in ARMS:
        count = statistics.median_low(r["threads"][arm] for r in rounds)
        part = parts[arm.split("/")[1]][f"threads={count}"]
        total = statistics.median(r["seconds"][arm] for r in rounds)
        per_token = (total - part["prefill_seconds"]) / tokens
        model_step = part["step_layers_seconds"] + part["step_head_seconds"]
        out[arm] = {
            "threads": count,
            "seconds": round(total, 3),
            "prefill_seconds": part["prefill_seconds"],
            "per_token_seconds": round(per_token, 4),
            "per_token_model_step_seconds": round(model_step, 4),
            "per_token_rest_seconds": round(per_token - model_step, 4),
        }
    return out


def profile(models: dict, prompts: list, batch: int) -> dict:
    """Seconds of each part of decoding one token for the first batch (median of 5), with torch's threads and with
    one, and the arithmetic limit."""
    out = {"limit": arithmetic_limit(models["fp32"][0], len(prompts[:batch]))}
    for precision, (model, tokenizer) in models.items():
        out[precision] = {}
        for count in sorted({torch.get_num_threads(), 1}):
            with threads(count):
                out[precision][f"threads={count}"] = step_parts(model, tokenizer, prompts[:batch])
    return out


def step_parts(model, tokenizer, prompts: list) -> dict:
    from transformers import DynamicCache

    ids, mask = _batch(tokenizer, prompts)
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        prefill = _timed(lambda: model(input_ids=ids, attention_mask=mask, logits_to_keep=1), 3)
        model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True, logits_to_keep=1)
        token = torch.zeros((len(ids), 1), dtype=torch.long)
        grown = torch.cat([mask, torch.ones_like(token)], 1)
        position = grown.sum(-1, keepdim=True) - 1

        def layers():
            cache.crop(ids.shape[1] - cache.get_seq_length())  # back to the prompt: every call appends one token
            step = model.model(
                input_ids=token, attention_mask=grown, position_ids=position, past_key_values=cache, use_cache=True
            )
            return step.last_hidden_state

        hidden = layers()
        logits = model.lm_head(hidden)[:, -1].float()
        generator = torch.Generator().manual_seed(0)
        return {
            "prefill_seconds": prefill,
            "prefill_tokens": int(mask.sum()),
            "prefill_padded_tokens": int(mask.numel()),
            "step_layers_seconds": _timed(layers),
            "step_head_seconds": _timed(lambda: model.lm_head(hidden)),
            "greedy_pick_seconds": _timed(lambda: logits.argmax(-1)),
            "multinomial_seconds": _timed(lambda: torch.multinomial(torch.softmax(logits, -1), 1)),
            "inverse_cdf_sample_seconds": _timed(lambda: sample_tokens(logits, 1.0, generator)),
        }


def arithmetic_limit(model, rows: int) -> dict:
    """FLOPs and weight bytes of one decoding step of `rows` sequences, and this machine's measured rates."""
    head = model.lm_head.weight.numel()
    body = sum(p.numel() for p in model.model.parameters()) - model.model.embed_tokens.weight.numel()
    rates = {name: matmul_rate(dtype) for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    bandwidth = copy_bandwidth()
    out = {
        "head_parameters": head,
        "layer_parameters": body,
        "rows": rows,
        "step_flops": 2 * rows * (head + body),
        "copy_bandwidth_gb_per_s": bandwidth,
        "matmul_gflops": rates,
    }
    for name, width in (("fp32", 4), ("bf16", 2)):
        compute = out["step_flops"] / (rates[name]["head_shape"] * 1e9)
        memory = (head + body) * width / (bandwidth * 1e9)
        out[f"step_limit_seconds_{name}"] = {
            "compute": round(compute, 4),
            "weights_read": round(memory, 4),
            "bound": round(max(compute, memory), 4),
        }
    return out


def matmul_rate(dtype) -> dict:
    """GFLOP/s of the head's matmul at evaluation's batch (12 x 640 by 640 x 262144) and of a prefill-sized one."""
    shapes = {"head_shape": (12, 640, 262144), "prefill_shape": (2048, 640, 2048)}
    return {name: _gflops(m, k, n, dtype) for name, (m, k, n) in shapes.items()}


def _gflops(m: int, k: int, n: int, dtype) -> float:
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    return round(2 * m * k * n / _timed(lambda: a @ b) / 1e9, 1)


def copy_bandwidth() -> float:
    """GB/s read plus written by copying 512 MB."""
    src = torch.empty(128 * 2**20, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    seconds = _timed(lambda: dst.copy_(src))
    return round(2 * src.numel() * 4 / seconds / 1e9, 1)


def equivalence(models: dict, old, path, prompts: list, params, tokens: int, draws: int) -> dict:
    """Greedy replies of both paths token for token (evaluation's decoding: stop at end of turn) and the sampler's
    frequency test."""
    out = {}
    for precision, (model, tokenizer) in models.items():
        stops = stop_token_ids(tokenizer, model.generation_config)
        settings = DecodeSettings(max_new_tokens=tokens, batch_size=params.evaluate.batch_size, seed=params.seed)
        new = generate_ids(model, tokenizer, prompts, settings, stops=stops)
        before = old.generate_replies(
            path,
            prompts,
            max_new_tokens=tokens,
            batch_size=params.evaluate.batch_size,
            seed=params.seed,
            model=model,
            tokenizer=tokenizer,
        )
        mine = [old._reply(row, stops, tokenizer) for row in new]
        same = [(a.text, a.ended, a.tokens) == (b.text, b.ended, b.tokens) for a, b in zip(before, mine)]
        out[f"greedy_{precision}"] = {
            "identical_replies": sum(same),
            "replies": len(same),
            "differing": [{"old": a.text, "new": b.text} for a, b, s in zip(before, mine, same) if not s],
        }
    out["greedy_bf16_threads"] = thread_check(models["bf16"], prompts, params, 16)
    out["sampler"] = sampler_test(models["fp32"], prompts[0], draws)
    return out


def thread_check(loaded, prompts: list, params, tokens: int) -> dict:
    """Greedy tokens of the decoding loop with one thread and with torch's threads: the same, or the thread count
    would change replies."""
    model, tokenizer = loaded
    rows = {}
    settings = DecodeSettings(max_new_tokens=tokens, batch_size=params.evaluate.batch_size, seed=params.seed)
    for count in sorted({1, torch.get_num_threads()}):
        with mock.patch.object(decoding, "idle_cores", lambda n=count: n):
            rows[count] = generate_ids(model, tokenizer, prompts, settings, stops=[])
    first, *others = rows.values()
    return {
        "threads": sorted(rows),
        "tokens": tokens,
        "identical_rows": [sum(a == b for a, b in zip(first, o)) for o in others],
        "rows": len(first),
    }


def sampler_test(loaded, prompt, draws: int) -> dict:
    """`draws` tokens from the model's next-token distribution after `prompt`, by each sampler."""
    model, tokenizer = loaded
    ids, mask = _batch(tokenizer, [prompt])
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[0, -1].float()
    probs = torch.softmax(logits.double(), -1).numpy()
    chunk = 100
    generator = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    rows = logits.expand(chunk, -1)
    multinomial = torch.multinomial(torch.softmax(logits, -1), draws, replacement=True).numpy()
    inverse = np.concatenate([sample_tokens(rows, 1.0, generator).numpy() for _ in range(draws // chunk)])
    frequent = np.flatnonzero(probs * len(inverse) >= 5)
    out = {
        "draws": len(inverse),
        "tokens_with_expected_count_ge_5": len(frequent),
        "probability_mass_of_those": round(float(probs[frequent].sum()), 4),
    }
    rest = 1 - probs[frequent].sum()  # the other tokens, one pooled bin when it expects 5 draws, else left out
    pooled = rest * len(inverse) >= 5
    counts = {}
    for name, sample in (("multinomial", multinomial), ("inverse_cdf", inverse)):
        counted = np.bincount(sample, minlength=len(probs))
        observed, expected = counted[frequent], probs[frequent] * len(sample)
        if pooled:
            observed, expected = (
                np.append(observed, len(sample) - observed.sum()),
                np.append(expected, rest * len(sample)),
            )
        expected = expected * observed.sum() / expected.sum()
        counts[name] = observed
        out[f"{name}_vs_exact_chi2_p"] = round(float(chisquare(observed, expected).pvalue), 4)
    table = np.stack(list(counts.values()))
    out["two_sample_chi2_p"] = round(float(chi2_contingency(table[:, table.sum(0) > 0])[1]), 4)
    return out


def prompt_lengths(tokenizer, prompts) -> dict:
    lengths = [
        len(tokenizer.apply_chat_template(p, add_generation_prompt=True, return_dict=True)["input_ids"])
        for p in prompts
    ]
    return {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths), "total": sum(lengths)}


def torch_and_bf16() -> dict:
    """What the machine block of the provenance lacks here: torch's version and the CPU's native bf16 support."""
    from components.common.precision import cpu_flags

    return {"torch": torch.__version__, "bf16_flags": sorted({"amx_bf16", "avx512_bf16"} & cpu_flags())}


def _batch(tokenizer, prompts):
    tokenizer.padding_side = "left"
    batch = tokenizer.apply_chat_template(
        prompts, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
    )
    return batch["input_ids"], batch["attention_mask"]


def _timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    main()
