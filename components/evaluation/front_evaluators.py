"""Which scorer measures each objective of a front, whether it may, and how to say so precisely enough that two runs'
fronts compare only when the same evaluators measured them.

Evaluators the policies never saw (issue 14.3). GRPO optimised its training rewards; scored by them, a policy that
games a reward model looks like progress. So the front, hypervolume, EUM and promotion gates use another scorer per
objective, its *evaluator*:
- `evaluate.independent[objective]` when given (`rm:PATH`, `rubric:offline|hf|openai#objective` for a rubric judge or
  an LLM judge endpoint, `brevity:...`);
- else, for a `reward_model` objective, its evaluator model from the reward_model step (trained on train prompts the
  training model never saw, another seed; components/reward_models/evaluators.py);
- else, for a rule (`concision`, `novelty`; `brevity` specs too), the rule itself.

An evaluator that is not a rule counts for its objective only when its agreement with the human labels of held-out
pairs of that objective has a 95% interval whose lower end is above 0.5 (chance), measured in every run (`check`). An
objective without one is *unjudged*: it stays in the table with its training reward, flagged, and out of the
hypervolume, EUM and gates. A deterministic rule needs no agreement check: it measures what the objective defines
(words or characters counted), so there is no human judgement for it to disagree with.

A score is a number only with its evaluator: a retrained model, another judge or another word budget gives another
scale. Evaluate records the evaluators (MLflow param `pareto/evaluators`) beside the normalisation its hypervolume
used; `paretoflow fronts` overlays only runs whose evaluators and declared normalisation match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from components.evaluation.agreement import agreement
from components.scorers.reward_model import is_reward_model
from components.scorers.specs import scorer_from_spec
from paretoflow import paths
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Objective, Params
from paretoflow.step_params import result_settings

if TYPE_CHECKING:
    from components.common.pareto import Normalisation

EVALUATORS = "pareto/evaluators"  # JSON {objective: evaluator}
NORMALISATION = "pareto/normalisation"  # JSON {objective: what 1 is}; the zero is always the run's start policy
REFERENCE = "pareto/hypervolume_reference"  # the sentence: reference point and scale
RULE_SCORERS = frozenset({"concision", "novelty"})  # objective scorers that compute what their objective defines
RULE_SPECS = frozenset({"brevity"})  # evaluator spec kinds that are rules
CHANCE = 0.5
RULE = (
    "a deterministic rule, its own evaluator: no agreement check is needed, it measures what the objective defines "
    "and no human label could disagree with it"
)

Scorer = Callable[..., list[float]]


@dataclass(frozen=True)
class Evaluator:
    """An objective's evaluator: its spec (None: none available, then `missing` says why) and whether it is a rule."""

    objective: str
    spec: str | None
    rule: bool
    missing: str = ""


@dataclass(frozen=True)
class Panel:
    """What evaluate scores the front with: per judged objective its evaluator's scorer, and per objective the
    record of `evaluators.json` (evaluator, kind, agreement and its interval, judged or not, and why)."""

    scorers: dict[str, Scorer]
    report: dict[str, dict]

    @property
    def judged(self) -> list[str]:
        return [o for o, r in self.report.items() if r["judged"]]

    @property
    def unjudged(self) -> list[str]:
        return [o for o, r in self.report.items() if not r["judged"]]


def evaluators_dir(reward_models_dir: Path) -> Path:
    """Where the reward_model step put the evaluator models: `evaluators` beside the reward models."""
    return Path(reward_models_dir).parent / paths.EVALUATORS.name


def choose(objective: Objective, params: Params, reward_models_dir: Path) -> Evaluator:
    """The objective's evaluator by the rules of the module docstring."""
    spec = params.evaluate.independent.get(objective.name)
    if spec is not None:
        return Evaluator(objective.name, spec, spec.partition(":")[0] in RULE_SPECS)
    if objective.scorer in RULE_SCORERS:
        return Evaluator(objective.name, None, True)
    if objective.scorer == "reward_model":
        path = evaluators_dir(reward_models_dir) / objective.name
        if is_reward_model(path):
            return Evaluator(objective.name, f"rm:{path.as_posix()}", False)
        why = (
            "reward_model.evaluator.enabled is false"
            if not params.reward_model.evaluator.enabled
            else f"no evaluator model at {path} (run `paretoflow train-rm`)"
        )
        return Evaluator(objective.name, None, False, f"no evaluator: {why}")
    return Evaluator(
        objective.name,
        None,
        False,
        f"no evaluator for a {objective.scorer} objective: name one in evaluate.independent (e.g. an LLM judge, "
        f"rubric:openai#{objective.name})",
    )


def panel(params: Params, reward_models_dir: Path, pairs: pd.DataFrame, training: dict[str, Scorer]) -> Panel:
    """Every objective's evaluator, checked against the human labels of its held-out (test) pairs in `pairs`;
    `training`: the training reward per objective (a rule's evaluator is its training rule)."""
    scorers, report = {}, {}
    test = pairs[pairs["split"] == "test"].sort_values("id")
    for objective in params.objectives:
        chosen = choose(objective, params, reward_models_dir)
        name = objective.name
        if chosen.rule:
            scorers[name] = training[name] if chosen.spec is None else scorer_from_spec(chosen.spec, params)
            report[name] = {"evaluator": describe(chosen, objective, params, reward_models_dir), "kind": "rule"}
            report[name] |= {"judged": True, "agreement": None, "why": RULE}
            continue
        if chosen.spec is None:
            report[name] = {"evaluator": None, "kind": "none", "judged": False, "agreement": None}
            report[name]["why"] = chosen.missing
            continue
        scorer = scorer_from_spec(chosen.spec, params)
        measured = check(scorer, test[test["objective"] == name].head(params.evaluate.agreement_pairs), params.seed)
        report[name] = {"evaluator": describe(chosen, objective, params, reward_models_dir), "kind": "model"}
        report[name] |= measured
        if measured["judged"]:
            scorers[name] = scorer
    return Panel(scorers, report)


def check(scorer: Scorer, pairs: pd.DataFrame, seed: int) -> dict:
    """The evaluator's agreement with the human labels of `pairs` (chosen scored above rejected, ties half) with a
    95% interval resampling prompts (pairs of one prompt are not independent draws); judged when its lower end is
    above 0.5."""
    if pairs.empty:
        return {"judged": False, "agreement": None, "why": "no held-out pairs of this objective to check it on"}
    measured = agreement(pairs, lambda prompts, replies: scorer(prompts, replies), seed, by_prompt=True)
    low, high = measured["ci95"]
    judged = low > CHANCE
    verdict = "above" if judged else "not above"
    return {
        "judged": judged,
        "agreement": measured,
        "why": f"agreement {measured['agreement']:.3f} with the human labels, 95% interval [{low:.3f}, {high:.3f}] "
        f"on {measured['n']} held-out pairs: lower end {verdict} {CHANCE}",
    }


def front_evaluators(params: Params, reward_models_dir: Path, unjudged: tuple[str, ...] = ()) -> dict[str, str]:
    """Objective -> the evaluator that scored its front column (its settings and the md5 of what it loads), or
    `unjudged` for an objective that had none that passed the agreement check."""
    described = {}
    for o in params.objectives:
        chosen = choose(o, params, Path(reward_models_dir))
        judged = o.name not in unjudged and (chosen.rule or chosen.spec is not None)
        described[o.name] = describe(chosen, o, params, Path(reward_models_dir)) if judged else "unjudged"
    return described


def describe(evaluator: Evaluator, objective: Objective, params: Params, reward_models_dir: Path) -> str:
    if evaluator.spec is None:
        return _rule(objective, params) + " (rule)"
    kind, _, argument = evaluator.spec.partition(":")
    if kind == "rm":
        path = Path(argument.partition("#")[0])
        return f"{evaluator.spec} {_md5(path)} (sigmoid)"
    if kind == "rubric":
        judge = json.dumps(result_settings(params.rubrics.judge), sort_keys=True)
        return f"{evaluator.spec} judge {judge}"
    return evaluator.spec + (" (rule)" if evaluator.rule else "")


def _rule(objective: Objective, params: Params) -> str:
    if objective.scorer == "concision":
        return f"concision (target {objective.target_words} words)"
    novelty = params.novelty
    return f"novelty (encoder {novelty.encoder.model_dump_json()}, tactic weight {novelty.tactic_weight})"


def _md5(path: Path) -> str:
    return dvc_md5(path)[:12] if path.exists() else "missing"


def measurement_params(norm: Normalisation, evaluators: dict[str, str]) -> dict[str, str]:
    """The evaluate run's MLflow params that say how its front was measured and its hypervolume computed."""
    return {
        EVALUATORS: json.dumps(evaluators),
        NORMALISATION: json.dumps(norm.declared()),
        REFERENCE: norm.describe(),
    }
