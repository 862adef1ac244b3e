"""Pipeline benchmark: per-step wall time of a full run and of a cached re-run, measured in one process.

Runs the Prefect flow twice in a throwaway copy of the project (tiny profile by default, `--profile
cpu` for the demo models) and writes `benchmarks/results/pipeline_<profile>.json`, with what the first run's
evaluation says of the replies: the coherence of each policy (pretrained for context, start, trained) and their
replies side by side on the same held-out prompts (also as `pipeline_<profile>_side_by_side.md`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.provenance import Provenance

REPO = Path(__file__).resolve().parents[1]
COPY = ("params.yaml", "dvc.yaml", "components", "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="tiny", choices=["tiny", "cpu"])
    args = parser.parse_args()
    out = REPO / "benchmarks" / "results" / f"pipeline_{args.profile}.json"
    provenance = Provenance("benchmarks.run")
    with tempfile.TemporaryDirectory() as tmp:
        for name in COPY:
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, Path(tmp) / name)
        os.chdir(tmp)
        os.environ["PREFECT_HOME"] = str(Path(tmp) / ".prefect")
        from paretoflow.cli import embedded_defaults

        embedded_defaults()
        from flows.pipeline import training_pipeline

        overrides = [f"profile={args.profile}", f"cache_dir={REPO / '.cache'}"]
        runs = []
        for label in ("first", "cached"):
            started = time.perf_counter()
            result = training_pipeline(params_file="params.yaml", overrides=overrides)
            runs.append(
                {
                    "run": label,
                    "wall_seconds": round(time.perf_counter() - started, 2),
                    "steps": {n: {"seconds": r["seconds"], "cached": r["cached"]} for n, r in result["steps"].items()},
                }
            )
        hv = result["steps"]["evaluate"]["summary"]["pareto/hypervolume"]
        evaluation = Path(tmp) / "artifacts" / "evaluation"
        coherence = json.loads((evaluation / "coherence.json").read_text())["policies"]
        side_by_side = json.loads((evaluation / "side_by_side.json").read_text())
        side_by_side_md = (evaluation / "side_by_side.md").read_text()
        os.chdir(REPO)
    report = {
        **provenance.record(),
        "profile": args.profile,
        "runs": runs,
        "cached_over_first_wall_ratio": round(runs[1]["wall_seconds"] / runs[0]["wall_seconds"], 4),
        "pareto_hypervolume": hv,
        "coherence": coherence,
        "side_by_side": side_by_side,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_name(f"pipeline_{args.profile}_side_by_side.md").write_text(side_by_side_md)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
