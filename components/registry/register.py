"""register: every policy on the Pareto front becomes an MLflow model version; alias `candidate` on the best
equal-weight utility. Training never moves `champion`: promotion is its own flow.

Each version is the policy's saved directory logged as it is (a transformers text-generation checkpoint with
a signature and an input example), tagged with what a reviewer needs to trust it: weights, held-out scores
with intervals, hypervolume contribution, coherence of its replies (`coherence.*`, beside the start policy's
and the pretrained policy's), reward-hacking signs, the judge-attack rate, rubric version, the DVC md5 of every
step input (the values dvc.lock records, read from the lineage files steps write as they run) and the pipeline
run. When evaluate scored the champion front beside the candidates, every version also carries
those champion scores (`sidebyside.*`), which promotion compares against instead of the champion's own older
evaluation.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import mlflow
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from paretoflow import paths, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params

TASK = "text-generation"
INPUT_EXAMPLE = ["I have been feeling anxious about work lately."]
SIGNATURE = infer_signature(INPUT_EXAMPLE, ["I am sorry work has been weighing on you."])  # str in, str out
# pinned to what trained the policy; MLflow's own guess imports torchvision, which is not installed
PIP_REQUIREMENTS = [f"{pkg}=={metadata.version(pkg)}" for pkg in ("torch", "transformers", "accelerate")]
HACKING_SHOWN = ("length_growth", "repetition", "distinct_2")  # front.json columns a reviewer checks first
# front.json coherence columns tagged on each version as `coherence.<indicator>` (gate.coherence reads the first two)
COHERENCE_SHOWN = ("end_of_turn_rate", "in_language", "as_seeker", "median_words", "perplexity")
SIDE_BY_SIDE_COHERENCE = ("end_of_turn_rate", "in_language")  # champion.json columns gate.coherence reads
# the policies a version is compared with, one readable tag each (`coherence.start`, `coherence.pretrained`)
COHERENCE_CONTEXT = ("start", "pretrained")


def register_front(
    params: Params,
    data_dir: Path = paths.DATA,
    policies_dir: Path = paths.POLICIES,
    evaluation_dir: Path = paths.EVALUATION,
    out_dir: Path = paths.REGISTRY,
    rubrics_dir: Path = paths.RUBRICS,
    lineage_dir: Path = paths.LINEAGE,
) -> dict:
    if mlflow.active_run() is None:  # called outside `execute`: the registry still needs a run to log into
        tracking.setup(params)
        with mlflow.start_run(run_name="register"):
            return register_front(params, data_dir, policies_dir, evaluation_dir, out_dir, rubrics_dir, lineage_dir)
    table = json.loads((evaluation_dir / "front.json").read_text())
    metrics = json.loads((evaluation_dir / "metrics.json").read_text())
    heldout = json.loads((evaluation_dir / "heldout.json").read_text())
    front = [row for row in table if row["on_front"]]
    if not front:
        raise ValueError("the evaluation found no policy on the Pareto front; nothing to register")
    name, client = params.register.model_name, MlflowClient()
    data_md5 = dvc_md5(data_dir)
    run = mlflow.active_run()
    parent = run.data.tags.get("mlflow.parentRunId", run.info.run_id)
    shared = {
        **{f"dvc.md5.{path}": md5 for path, md5 in step_inputs_md5(lineage_dir).items()},
        "rubrics.version": rubric_version(rubrics_dir),
        **judge_attack_tags(evaluation_dir / "judge_attack.json"),
        **side_by_side_tags(evaluation_dir / "champion.json", params.objective_names),
        **coherence_context_tags(evaluation_dir / "coherence.json"),
    }
    _resolve_pipeline_class(TASK)
    registered = []
    for row in front:
        info = mlflow.transformers.log_model(
            transformers_model=str((policies_dir / row["policy"]).resolve()),  # the saved directory, copied as is
            task=TASK,
            name=row["policy"],
            registered_model_name=name,
            signature=SIGNATURE,
            input_example=INPUT_EXAMPLE,
            pip_requirements=PIP_REQUIREMENTS,
        )
        version = str(info.registered_model_version)
        tags = {
            "policy": row["policy"],
            "data.md5": data_md5,
            **shared,
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
            **coherence_tags(row),
            **{
                f"independent.{o}": row[f"{o}_independent"] for o in params.objective_names if f"{o}_independent" in row
            },
            **{
                f"hacking.{o}.scorer_gap": row[f"{o}_scorer_gap"]
                for o in params.objective_names
                if f"{o}_scorer_gap" in row
            },
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


def step_inputs_md5(lineage_dir: Path) -> dict[str, str]:
    """Every input of every step that ran (data sources, step outputs read downstream, code) with its DVC md5, from
    the lineage file each step wrote as it ran: the deps dvc.lock records, so a version names exactly the data and
    code behind it."""
    return {
        path: md5
        for lineage in sorted(Path(lineage_dir).glob("*.json"))
        for path, md5 in json.loads(lineage.read_text()).items()
    }


def judge_attack_tags(path: Path) -> dict[str, str]:
    """The probes' false-positive rate on the training judges (what gate.judge_attack reads), overall and per judge."""
    if not path.exists():
        return {}
    attack = json.loads(path.read_text())
    return {
        "judge_attack.fpr": f"{attack['fpr']:.4f}",
        "judge_attack.worst_judge": attack["worst_judge"] or "none",
        **{f"judge_attack.{o}.fpr": f"{r['rate']:.4f}" for o, r in attack["judges"].items()},
    }


def side_by_side_tags(path: Path, objectives: list[str]) -> dict[str, str]:
    """The champion front as evaluate re-scored it in this run: which versions, in which MLflow run, and each
    version's held-out mean per objective (`sidebyside.v<version>.<objective>`; intervals stay in champion.json,
    one tag per score keeps a large front within a few dozen tags)."""
    if not path.exists():
        return {}
    champion = json.loads(path.read_text())
    if not champion["versions"]:
        return {}
    return {
        "sidebyside.champion_versions": ",".join(champion["versions"]),
        "sidebyside.run_id": champion["run_id"] or "unknown",
        "sidebyside.heldout_set.md5": champion["heldout_md5"],
        **{
            f"sidebyside.v{version}.{o}": str(scores[o])
            for version, scores in champion["scores"].items()
            for o in objectives
        },
        **{  # what gate.coherence compares, measured on the champion's replies in this run
            f"sidebyside.v{version}.coherence.{k}": str(scores[k])
            for version, scores in champion["scores"].items()
            for k in SIDE_BY_SIDE_COHERENCE
            if scores.get(k) is not None
        },
    }


def coherence_tags(row: dict) -> dict[str, float]:
    """The version's own coherence (`coherence.<indicator>`); an indicator evaluate did not measure is left out."""
    return {f"coherence.{k}": round(row[k], 4) for k in COHERENCE_SHOWN if row.get(k) is not None}


def coherence_context_tags(path: Path) -> dict[str, str]:
    """The start policy's (and, when SFT ran, the pretrained policy's) coherence in one readable tag each, from
    coherence.json: what the version's own `coherence.*` tags compare with."""
    if not path.exists():
        return {}
    policies = json.loads(path.read_text())["policies"]
    return {
        f"coherence.{policy}": describe_coherence(policies[policy])
        for policy in COHERENCE_CONTEXT
        if policy in policies
    }


def describe_coherence(row: dict) -> str:
    """The measured indicators in one line: `end_of_turn_rate 0.917, in_language 1.000, ...`."""
    return ", ".join(
        f"{k} {row[k]:.3f}" if k != "median_words" else f"{k} {row[k]:g}"
        for k in COHERENCE_SHOWN
        if row.get(k) is not None
    )


def rubric_version(rubrics_dir: Path) -> str:
    """The rubric generator's version (content hash of its template and rules) from the rubrics summary."""
    summary = rubrics_dir / "summary.json"
    if not summary.exists():
        return "none"
    values = json.loads(summary.read_text())
    return str(values.get("template_version") or values.get("generator") or "unknown")


def _resolve_pipeline_class(task: str) -> None:
    """MLflow 3.17 reads the pipeline class's `__name__` from transformers' task table when logging a saved
    directory; transformers 5 keeps a dotted path there and resolves it on first use. Resolve it now, as
    transformers itself would (its resolver passes a class through unchanged)."""
    from transformers.pipelines import PIPELINE_REGISTRY, _resolve_impl

    entry = PIPELINE_REGISTRY.supported_tasks[task]
    entry["impl"] = _resolve_impl(entry["impl"])
