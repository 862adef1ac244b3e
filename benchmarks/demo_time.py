"""The demo as a new user meets it: `make demo` in a fresh clone, install included, then a cached re-run.

In a temporary folder: a clone of this repository at BASELINE (`--arm baseline`: the code before issue 15's
generation work) or at BASELINE with this working tree laid over it (`--arm result`: tracked files as they are
now, untracked files git does not ignore, deletions). Nothing of this checkout's state travels: no .venv, no
converted-model cache, no artifacts. Then, each timed:
1. `make install`: a new .venv and the pinned project installed into it (from the machine's package index; pip's
   own download cache is whatever this machine holds);
2. `make demo`: the whole pipeline on the cpu profile with the sample data, the Gemma conversion and SFT
   included; per-step seconds from the flow's own log lines ("<step>: ran in <s>s"), the rest (interpreter and
   Prefect start, the summary) as overhead;
3. `make demo` again: every step served from the cache.
From the first run it also reads whether the weights steered (issue 19 item 7): per objective that is not length-based,
the gain over the start policy of the policy weighted most towards it, with its paired 95% interval, under the
objective's evaluator and under the training reward, and whether that evaluator counts.
The machine is shared: the 1-minute load average is sampled every 5 s during each phase and recorded with it.
Beside the measured times stands the per-step budget of issue 15 (7 minutes in all). From the first run it also
keeps the evaluation's coherence per policy and the side-by-side replies (pretrained, start, trained).
Writes benchmarks/results/demo_time_<arm>.json whole.

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.demo_time --arm result
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import yaml

from benchmarks.alignment_measures import gains
from benchmarks.provenance import Provenance
from components.scorers.objectives import length_based

REPO = Path(__file__).resolve().parents[1]
BASELINE = "b3c13a38c98b671cfa4d22c550d1b3f03d059e38"
# seconds per step (issue 15 item 4): install, data steps, reward models, SFT, GRPO, evaluation, registration, and
# what the demo spends outside its steps (interpreter, Prefect and MLflow start-up, the summary)
BUDGET = {
    "install": 100,
    "data (ingest, validate, rubrics)": 20,
    "reward_model": 40,
    "sft": 60,
    "grpo": 150,
    "evaluate": 30,
    "register": 10,
    "overhead": 10,
}
GROUPS = {"ingest": "data (ingest, validate, rubrics)", "validate": "data (ingest, validate, rubrics)"}
GROUPS["rubrics"] = GROUPS["ingest"]
RAN = re.compile(r"\b(\w+): ran in ([\d.]+)s")
CACHED = re.compile(r"\b(\w+): cached, skipped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", choices=["baseline", "result"], required=True)
    args = parser.parse_args()
    provenance = Provenance("benchmarks.demo_time")
    with tempfile.TemporaryDirectory(prefix="demo-clone-") as tmp:
        clone = Path(tmp) / "paretoflow"
        laid = fresh_clone(clone, args.arm == "result")
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PREFECT_HOME", "PYTHONPATH")}
        phases = {"install": timed(["make", "install"], clone, env)}
        if phases["install"]["exit_status"]:
            raise RuntimeError(f"`make install` failed in the clone:\n{phases['install']['error_tail']}")
        phases["demo"] = timed(["make", "demo"], clone, env)
        phases["cached"] = timed(["make", "demo"], clone, env)
        evaluation = clone / "artifacts" / "evaluation"
        shown = read_json(evaluation / "side_by_side.json")
        coherence = read_json(evaluation / "coherence.json")
        steer = weights_steer(clone)
        side_by_side_md = (
            (evaluation / "side_by_side.md").read_text() if (evaluation / "side_by_side.md").exists() else None
        )
    steps = step_seconds(phases["demo"]["output"])
    measured = {"install": phases["install"]["seconds"]} | grouped(steps)
    measured["overhead"] = round(phases["demo"]["seconds"] - sum(steps.values()), 1)
    total = phases["install"]["seconds"] + phases["demo"]["seconds"]
    report = {
        **provenance.record(),
        "arm": args.arm,
        "code": f"{BASELINE}" + (" with this working tree laid over it" if laid else ""),
        "working_tree_files_laid_over": laid,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "phases": {name: {k: v for k, v in p.items() if k != "output"} for name, p in phases.items()},
        "steps_seconds": steps,
        "cached_run_steps": sorted(set(CACHED.findall(phases["cached"]["output"]))),
        "budget_seconds": BUDGET,
        "measured_seconds": measured,
        "over_budget": {k: round(measured[k] - b, 1) for k, b in BUDGET.items() if measured.get(k, 0) > b},
        "total_seconds": {"budget": sum(BUDGET.values()), "install_and_demo": round(total, 1)},
        "cached_rerun_share_of_install_and_demo": round(phases["cached"]["seconds"] / total, 4),
        "cached_rerun_share_of_demo": round(phases["cached"]["seconds"] / phases["demo"]["seconds"], 4),
        "weights_steer": steer,
        "coherence": coherence,
        "side_by_side": shown,
        "side_by_side_markdown": side_by_side_md,
    }
    out = REPO / "benchmarks" / "results" / f"demo_time_{args.arm}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        json.dumps({k: report[k] for k in ("phases", "budget_seconds", "measured_seconds", "total_seconds")}, indent=2)
    )


def fresh_clone(clone: Path, lay_working_tree: bool) -> list[str]:
    """A clone at BASELINE; with `lay_working_tree`, this checkout's changed and new files copied over it (and its
    deletions made); returns the paths laid over."""
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", BASELINE], cwd=clone, check=True)
    if not lay_working_tree:
        return []
    changed = _git("diff", "--name-only", BASELINE).splitlines()
    untracked = _git("ls-files", "--others", "--exclude-standard").splitlines()
    for name in sorted(set(changed + untracked)):
        src, dst = REPO / name, clone / name
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.exists():
            dst.unlink()
    return sorted(set(changed + untracked))


def timed(command: list[str], cwd: Path, env: dict) -> dict:
    """Wall seconds, exit status, output and the load average sampled every 5 s while it ran. A demo that fails
    after its steps ran (the summary, say) is still timed: its exit status and error stand in the report."""
    samples, done = [os.getloadavg()[0]], threading.Event()

    def sample():
        while not done.wait(5):
            samples.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    output = proc.stdout + proc.stderr
    return {
        "command": " ".join(command),
        "exit_status": proc.returncode,
        "error_tail": output[-3000:] if proc.returncode else None,
        "seconds": round(seconds, 1),
        "load_average_1min": {
            "mean": round(sum(samples) / len(samples), 2),
            "max": round(max(samples), 2),
            "samples": len(samples),
        },
        "output": output,
    }


def step_seconds(output: str) -> dict[str, float]:
    """Seconds of every step that ran, from the flow's log lines."""
    steps = {name: float(seconds) for name, seconds in RAN.findall(output)}
    if not steps:
        raise RuntimeError(f"no '<step>: ran in <s>s' line in the demo's output; its end:\n{output[-2000:]}")
    return steps


def grouped(steps: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, seconds in steps.items():
        key = GROUPS.get(name, name)
        out[key] = round(out.get(key, 0.0) + seconds, 1)
    return out


def weights_steer(clone: Path) -> dict | None:
    """Per objective that is not length-based (components.scorers.objectives.length_based), the policy with the
    largest weight on it (alone) and its gain over the start policy on the held-out prompts; `moves` when the gain's
    interval is above 0 under an evaluator that counts."""
    evaluation, manifest = clone / "artifacts" / "evaluation", clone / "artifacts" / "policies" / "manifest.json"
    if not (evaluation / "scores.parquet").exists() or not manifest.exists():
        return None
    objectives = yaml.safe_load((clone / "params.yaml").read_text())["objectives"]
    names = [o["name"] for o in objectives if not length_based(o)]
    policies = json.loads(manifest.read_text())
    table = gains(evaluation, [o["name"] for o in objectives])
    judged = json.loads((evaluation / "evaluators.json").read_text())
    out = {}
    for name in names:
        weights = sorted(((float(p["weights"].get(name, 0.0)), p["name"]) for p in policies), reverse=True)
        if len(weights) > 1 and weights[0][0] == weights[1][0]:
            out[name] = {"policy": None, "why": "no policy alone weighs it most"}
            continue
        policy = weights[0][1]
        entry = table.get(policy, {}).get(name, {})
        counts = bool(judged.get(name, {}).get("judged"))
        evaluator = entry.get("evaluator")
        out[name] = {
            "policy": policy,
            "weight": weights[0][0],
            "evaluator_counts": counts,
            "evaluator_gain": evaluator,
            "training_gain": entry.get("training"),
            "moves": bool(counts and evaluator and evaluator["ci95"][0] > 0),
        }
    return {"objectives": out, "any_moves": any(v.get("moves") for v in out.values())}


def read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    main()
