"""Registering one policy: logging its saved directory (what register does) vs building a transformers pipeline
and logging that (what it did before, which saves the weights a second time).

Alternates the two ways `--rounds` times on the same policy directory (the tiny policy by default, `--policy
DIR` for any saved causal LM) into a throwaway MLflow store; writes `benchmarks/results/register_log_<name>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", default=None, help="saved causal-LM directory (default: the tiny policy)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import mlflow
    import transformers

    from components.common.model_store import policy_dir
    from components.registry.register import INPUT_EXAMPLE, PIP_REQUIREMENTS, SIGNATURE, TASK, _resolve_pipeline_class
    from paretoflow.config import load_params

    tiny = load_params(REPO / "params.yaml", ["profile=tiny"]).policy
    policy = str(Path(args.policy).resolve()) if args.policy else str(policy_dir(tiny, REPO / ".cache"))
    seconds: dict[str, list[float]] = {"pipeline": [], "directory": []}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("register-benchmark")
        with mlflow.start_run():
            for i in range(args.rounds):
                started = time.perf_counter()
                mlflow.transformers.log_model(
                    transformers_model=transformers.pipeline(TASK, model=policy),
                    name=f"pipeline-{i}",
                    registered_model_name="benchmark",
                    input_example=INPUT_EXAMPLE,
                    pip_requirements=PIP_REQUIREMENTS,
                )
                seconds["pipeline"].append(time.perf_counter() - started)
                started = time.perf_counter()
                _resolve_pipeline_class(TASK)
                mlflow.transformers.log_model(
                    transformers_model=policy,
                    task=TASK,
                    name=f"directory-{i}",
                    registered_model_name="benchmark",
                    signature=SIGNATURE,
                    input_example=INPUT_EXAMPLE,
                    pip_requirements=PIP_REQUIREMENTS,
                )
                seconds["directory"].append(time.perf_counter() - started)
    size = sum(f.stat().st_size for f in Path(policy).rglob("*") if f.is_file())
    result = {
        "policy": policy,
        "policy_bytes": size,
        "rounds": args.rounds,
        "seconds": {k: [round(s, 3) for s in v] for k, v in seconds.items()},
        "median_seconds": {k: round(statistics.median(v), 3) for k, v in seconds.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
    }
    label = "tiny" if args.policy is None else Path(policy).name
    out = REPO / "benchmarks" / "results" / f"register_log_{label}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median_seconds"]))


if __name__ == "__main__":
    main()
