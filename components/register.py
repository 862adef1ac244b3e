"""register: every policy on the Pareto front becomes an MLflow model version; alias `candidate` on the best
equal-weight utility. Training never moves `champion`: promotion is its own flow.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import mlflow
import transformers
from mlflow.tracking import MlflowClient

from paretoflow import tracking
from paretoflow.config import Params
from paretoflow.hashing import dvc_md5

DATA_DIR = Path("artifacts/data")
POLICIES_DIR = Path("artifacts/policies")
EVALUATION_DIR = Path("artifacts/evaluation")
OUT_DIR = Path("artifacts/registry")
HACKING_SHOWN = ("length_growth", "repetition", "distinct_2")  # front.json columns a reviewer checks first


def register_front(
    params: Params,
    data_dir: Path = DATA_DIR,
    policies_dir: Path = POLICIES_DIR,
    evaluation_dir: Path = EVALUATION_DIR,
    out_dir: Path = OUT_DIR,
) -> dict:
    table = json.loads((evaluation_dir / "front.json").read_text())
    metrics = json.loads((evaluation_dir / "metrics.json").read_text())
    heldout = json.loads((evaluation_dir / "heldout.json").read_text())
    front = [row for row in table if row["on_front"]]
    if not front:
        raise ValueError("the evaluation found no policy on the Pareto front; nothing to register")
    if mlflow.active_run() is None:  # called outside `execute`: the registry still needs a run to log into
        tracking.setup(params)
        with mlflow.start_run(run_name="register"):
            return register_front(params, data_dir, policies_dir, evaluation_dir, out_dir)
    name, client = params.register.model_name, MlflowClient()
    data_md5 = dvc_md5(data_dir)
    run = mlflow.active_run()
    parent = run.data.tags.get("mlflow.parentRunId", run.info.run_id)
    registered = []
    for row in front:
        info = mlflow.transformers.log_model(
            transformers_model=transformers.pipeline("text-generation", model=str(policies_dir / row["policy"])),
            name=row["policy"],
            registered_model_name=name,
            input_example=["I have been feeling anxious about work lately."],
            pip_requirements=[f"{pkg}=={metadata.version(pkg)}" for pkg in ("torch", "transformers", "accelerate")],
        )
        version = str(info.registered_model_version)
        tags = {
            "policy": row["policy"],
            "data.md5": data_md5,
            "pareto.hypervolume": metrics["pareto/hypervolume"],
            "pareto.hv_contribution": row["hv_contribution"],
            "pareto.eum": metrics["pareto/eum"],
            "utility.equal_weights": row["utility"],
            "pipeline.run_id": parent,
            "heldout_set.md5": heldout["md5"],
            "objectives": ",".join(params.objective_names),
            **{f"weight.{o}": w for o, w in row["weights"].items()},
            **{f"heldout.{o}": row[o] for o in params.objective_names},
            **{
                f"heldout.{o}.ci95": f"[{row[f'{o}_ci_low']:.4f}, {row[f'{o}_ci_high']:.4f}]"
                for o in params.objective_names
            },
            **{f"hacking.{k}": round(row[k], 4) for k in HACKING_SHOWN},
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, str(value))
        registered.append(
            {
                "policy": row["policy"],
                "version": version,
                "utility": row["utility"],
                "model_uri": f"models:/{name}/{version}",
            }
        )
    best = max(registered, key=lambda r: r["utility"])
    client.set_registered_model_alias(name, params.register.alias, best["version"])
    summary = {
        "model_name": name,
        "alias": params.register.alias,
        "alias_version": best["version"],
        "versions": registered,
    }
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    (out_dir / "registered.json").write_text(json.dumps(summary, indent=2) + "\n")
    tracking.log_dict(summary, "registry/registered.json")
    return summary


if __name__ == "__main__":
    from paretoflow.cli import step_main

    step_main("register")
