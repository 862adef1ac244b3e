"""What measured each objective of a front, precisely enough that two runs' fronts compare only when it is the same.

A score is a number only with its evaluator: a retrained reward model, another judge or another word budget
gives another scale, and fronts measured by different evaluators do not share axes. Evaluate records these
strings (MLflow param `pareto/evaluators`) beside the normalisation its hypervolume used; `paretoflow fronts`
overlays only runs whose evaluators and declared normalisation match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.scorers.reward_model import reward_model_location
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Objective, Params
from paretoflow.step_params import result_settings

if TYPE_CHECKING:
    from components.common.pareto import Normalisation

EVALUATORS = "pareto/evaluators"  # JSON {objective: evaluator}
NORMALISATION = "pareto/normalisation"  # JSON {objective: what 1 is}; the zero is always the run's start policy
REFERENCE = "pareto/hypervolume_reference"  # the sentence: reference point and scale


def front_evaluators(params: Params, reward_models_dir: Path) -> dict[str, str]:
    """Objective -> the scorer that scored its front column: the scorer's settings and the md5 of what it loads."""
    return {o.name: describe(o, params, Path(reward_models_dir)) for o in params.objectives}


def describe(objective: Objective, params: Params, reward_models_dir: Path) -> str:
    if objective.scorer == "reward_model":
        path = reward_model_location(objective.name, params, reward_models_dir)
        return f"reward_model {_md5(path)} ({params.reward_model.output.transform}) head {objective.name}"
    if objective.scorer == "rubric":
        judge = json.dumps(result_settings(params.rubrics.judge), sort_keys=True)
        return f"rubric judge {judge} on rubrics {_md5(reward_models_dir.parent / 'rubrics')}"
    if objective.scorer == "concision":
        return f"concision (target {objective.target_words} words)"
    if objective.scorer == "novelty":
        novelty = params.novelty
        return f"novelty (encoder {novelty.encoder.model_dump_json()}, tactic weight {novelty.tactic_weight})"
    return objective.scorer


def _md5(path: Path) -> str:
    return dvc_md5(path)[:12] if path.exists() else "missing"


def measurement_params(norm: Normalisation, evaluators: dict[str, str]) -> dict[str, str]:
    """The evaluate run's MLflow params that say how its front was measured and its hypervolume computed."""
    return {
        EVALUATORS: json.dumps(evaluators),
        NORMALISATION: json.dumps(norm.declared()),
        REFERENCE: norm.describe(),
    }
