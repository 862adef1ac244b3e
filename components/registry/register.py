"""register: every policy on the Pareto front becomes an MLflow model version; alias `candidate` on the best
equal-weight utility. Training never moves `champion`: promotion is its own flow.

Each version is the policy's saved directory logged as it is (a transformers checkpoint served as chat completions,
`llm/v1/chat`, with evaluation's decoding as its defaults and an input example). A reviewer reads it in its
description (`descriptions`): weights, held-out scores with intervals, its evaluators and their checks, coherence,
reward-hacking signs, the judge-attack rate, the champion front scored beside it, its pipeline run and lineage. Its
tags are the few people filter on and the gates read: weights, held-out scores, hypervolume contribution, data and
held-out set md5s, pipeline run, git commit, the judge-attack rate, the gated coherence indicators, the champion
front's side-by-side scores (one JSON tag), and `lineage`: the `runs:/` URI of one JSON file holding the DVC md5 of
every input of every step (data, step outputs, code: the values dvc.lock records, read from the lineage files
`paretoflow.steps.execute` writes as each step runs, from `dvc repro` and Prefect alike).
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from components.registry.descriptions import Evaluation, front_line, model_description, version_description
from components.registry.fronts import SIDE_SCORES
from paretoflow import paths, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params

TASK = "llm/v1/chat"  # served as chat completions: messages in, the chat template applied, the reply out
PIPELINE = "text-generation"  # the transformers pipeline underneath (what `mlflow.transformers.load_model` gives)
INPUT_EXAMPLE = {"messages": [{"role": "user", "content": "I have been feeling anxious about work lately."}]}
# pinned to what trained the policy; MLflow's own guess imports torchvision, which is not installed
PIP_REQUIREMENTS = [f"{pkg}=={metadata.version(pkg)}" for pkg in ("torch", "transformers", "accelerate")]
# what gate.coherence reads (promotion.COHERENCE_GATED; importing promotion would add its stage deps to this step's)
COHERENCE_GATED = ("end_of_turn_rate", "in_language")
LINEAGE = "lineage.json"  # in the register run's artifacts and in out_dir; tag `lineage` holds its runs:/ URI


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
    front = [row for row in table if row["on_front"]]
    if not front:
        raise ValueError("the evaluation found no policy on the Pareto front; nothing to register")
    name, client = params.register.model_name, MlflowClient()
    run = mlflow.active_run().info.run_id
    ev = front_evaluation(params, evaluation_dir, data_dir, rubrics_dir, f"runs:/{run}/{LINEAGE}")
    lineage = {"pipeline_run_id": ev.pipeline_run, "git_commit": ev.git_commit, "steps": step_inputs_md5(lineage_dir)}
    tracking.log_dict(lineage, LINEAGE)
    shared = {
        "pipeline.run_id": ev.pipeline_run,
        "git.commit": ev.git_commit,
        "data.md5": ev.data_md5,
        "heldout_set.md5": ev.heldout["md5"],
        "lineage": ev.lineage_uri,
        **judge_attack_tags(ev.judge_attack),
        **side_by_side_tags(ev.champion, params.objective_names),
    }
    _resolve_pipeline_class(PIPELINE)
    registered = []
    for row in front:
        info = mlflow.transformers.log_model(
            transformers_model=str((policies_dir / row["policy"]).resolve()),  # the saved directory, copied as is
            task=TASK,
            name=row["policy"],
            registered_model_name=name,
            input_example=INPUT_EXAMPLE,
            model_config=ev.decoding,  # a request's own settings (max_tokens, temperature, ...) override these
            pip_requirements=PIP_REQUIREMENTS,
        )
        version = str(info.registered_model_version)
        for key, value in version_tags(row, params.objective_names, shared).items():
            client.set_model_version_tag(name, version, key, str(value))
        client.update_model_version(name, version, description=version_description(row, ev))
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
    latest = front_line(name, [r["version"] for r in registered], ev)
    client.update_registered_model(name, description=model_description(params.objective_names, latest))
    summary = {
        "model_name": name,
        "alias": params.register.alias,
        "alias_version": best["version"],
        "versions": registered,
    }
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    (out_dir / "registered.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / LINEAGE).write_text(json.dumps(lineage, indent=2, sort_keys=True) + "\n")
    tracking.log_dict(summary, "registry/registered.json")
    return summary


def front_evaluation(
    params: Params, evaluation_dir: Path, data_dir: Path, rubrics_dir: Path, lineage_uri: str
) -> Evaluation:
    """The evaluate step's files and the run's context, as every version of this front shares them."""
    run = mlflow.active_run()
    return Evaluation(
        objectives=params.objective_names,
        evaluators={o.name: describe_scorer(o) for o in params.objectives},
        checks=_optional(evaluation_dir / "evaluators.json"),
        metrics=json.loads((evaluation_dir / "metrics.json").read_text()),
        heldout=json.loads((evaluation_dir / "heldout.json").read_text()),
        judge_attack=_optional(evaluation_dir / "judge_attack.json"),
        coherence=_optional(evaluation_dir / "coherence.json"),
        champion=_optional(evaluation_dir / "champion.json"),
        pipeline_run=run.data.tags.get("mlflow.parentRunId", run.info.run_id),
        lineage_uri=lineage_uri,
        data_md5=dvc_md5(data_dir),
        rubrics=rubric_version(rubrics_dir),
        git_commit=tracking.git_commit(),
        decoding=served_decoding(params),
    )


def version_tags(row: dict, objectives: list[str], shared: dict) -> dict:
    """What people filter versions on and the gates read; the rest of the row is in the description."""
    return {
        "policy": row["policy"],
        **shared,
        **{f"weight.{o}": w for o, w in row["weights"].items()},
        **{f"heldout.{o}": row[o] for o in objectives},
        "pareto.hv_contribution": row["hv_contribution"],
        **{f"coherence.{k}": round(row[k], 4) for k in COHERENCE_GATED if row.get(k) is not None},
    }


def served_decoding(params: Params) -> dict:
    """Evaluation's decoding as the served model's defaults, so a request without settings is decoded as the
    scored replies were. The end of the turn comes from the saved generation config (its eos ids), as in evaluation.
    transformers applies the repetition penalty and n-gram blocking over the prompt as well; evaluation's apply
    within the reply only (the version's description says so)."""
    ev = params.evaluate
    config = {"max_new_tokens": ev.max_new_tokens, "do_sample": ev.do_sample}
    if ev.do_sample:
        config["temperature"] = ev.temperature
    if ev.repetition_penalty != 1.0:
        config["repetition_penalty"] = ev.repetition_penalty
    if ev.no_repeat_ngram_size:
        config["no_repeat_ngram_size"] = ev.no_repeat_ngram_size
    return config


def describe_scorer(objective) -> str:
    """An objective's scorer as params configure it: `concision (target 12 words)`, `reward_model`."""
    if objective.scorer == "concision":
        return f"concision (target {objective.target_words} words)"
    return objective.scorer


def step_inputs_md5(lineage_dir: Path) -> dict[str, dict[str, str]]:
    """Per step, every input (data sources, step outputs read downstream, code) with its DVC md5, from the lineage
    file the step wrote as it ran: the deps dvc.lock records. Kept per step: a cached step may stand on older code
    than the steps after it."""
    return {lineage.stem: json.loads(lineage.read_text()) for lineage in sorted(Path(lineage_dir).glob("*.json"))}


def judge_attack_tags(attack: dict | None) -> dict[str, str]:
    """The probes' false-positive rate on the training judges (what gate.judge_attack reads) and the worst judge
    (its detail names it); the rate per judge is in the description."""
    if attack is None:
        return {}
    return {"judge_attack.fpr": f"{attack['fpr']:.4f}", "judge_attack.worst_judge": attack["worst_judge"] or "none"}


def side_by_side_tags(champion: dict | None, objectives: list[str]) -> dict[str, str]:
    """The champion front as evaluate re-scored it in this run, which promotion compares against: which versions,
    in which MLflow run, and per version its held-out mean per objective and the coherence gate.coherence reads,
    as one JSON tag (intervals stay in champion.json)."""
    if not champion or not champion["versions"]:
        return {}
    scores = {
        version: {o: values[o] for o in objectives}
        | {f"coherence.{k}": values[k] for k in COHERENCE_GATED if values.get(k) is not None}
        for version, values in champion["scores"].items()
    }
    return {
        "sidebyside.champion_versions": ",".join(champion["versions"]),
        "sidebyside.run_id": champion["run_id"] or "unknown",
        SIDE_SCORES: json.dumps(scores, separators=(",", ":")),
    }


def _optional(path: Path) -> dict | None:
    """An evaluation file an older evaluate did not write."""
    return json.loads(path.read_text()) if path.exists() else None


def rubric_version(rubrics_dir: Path) -> str:
    """The rubric generator's version (content hash of its template and rules) from the rubrics summary."""
    summary = rubrics_dir / "summary.json"
    if not summary.exists():
        return "none"
    values = json.loads(summary.read_text())
    if values.get("built") is False:  # no objective is a rubric judge (rubrics.build: auto)
        return "none built"
    return str(values.get("template_version") or values.get("generator") or "unknown")


def _resolve_pipeline_class(task: str) -> None:
    """MLflow 3.17 reads the pipeline class's `__name__` from transformers' task table when logging a saved
    directory; transformers 5 keeps a dotted path there and resolves it on first use. Resolve it now, as
    transformers itself would (its resolver passes a class through unchanged)."""
    from transformers.pipelines import PIPELINE_REGISTRY, _resolve_impl

    entry = PIPELINE_REGISTRY.supported_tasks[task]
    entry["impl"] = _resolve_impl(entry["impl"])
