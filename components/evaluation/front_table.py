"""The front table: one row per scored policy with its mean evaluator scores and their bootstrap 95% intervals,
its training rewards, coherence and reward-hacking indicators, front membership and hypervolume contribution (on
scores normalised over the start policy, BASE); and what is read off it: the summary's rows, the table the figures
draw, the coherence block, the champion front's scores under the same statistics.

Apart from the step (components.evaluation.evaluate), which generates and scores, so the table can be built and
checked from scores alone.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from components.common import pareto
from components.common.stats import bootstrap_ci
from components.evaluation import champion as champion_eval
from components.evaluation import coherence
from components.evaluation.heldout_replies import PRETRAINED
from components.evaluation.scorer_checks import TRAINING, scorer_gaps
from components.evaluation.stats import indicators
from components.registry.fronts import champion_policy
from paretoflow import tracking
from paretoflow.schema import Params

BASE = "start"  # the start policy: what every trained policy is compared against


def front_table(
    scores: pd.DataFrame,
    candidates,
    params: Params,
    perplexity: dict[str, float | None] | None = None,
    judged: list[str] | None = None,
) -> pd.DataFrame:
    """One row per policy: mean evaluator scores with 95% intervals (None for unjudged objectives), training
    rewards, coherence and reward-hacking indicators, front membership. The front, hypervolume and utility use the
    judged objectives only (`judged`; None: every objective)."""
    objectives = params.objective_names
    judged = list(objectives if judged is None else judged)
    base_words = scores.loc[scores["policy"] == BASE, "completion"].map(lambda t: len(t.split())).mean()
    rows = []
    for name, _, weights in candidates:
        replies = scores[scores["policy"] == name]
        row = {"policy": name, "is_base": name == BASE, "weights": weights} | _policy_stats(replies, params, judged)
        row |= coherence.policy_indicators(replies, (perplexity or {}).get(name))
        rows.append(row | indicators(list(replies["completion"]), base_words))
    table = pd.DataFrame(rows)
    trained = ~table["is_base"]
    start = table.loc[table["is_base"], judged].to_numpy(dtype=float)[0]
    declared = params.evaluate.normalisation
    norm = pareto.normalisation(
        judged,
        start,
        {o: v for o, v in declared.ideal.items() if o in judged},
        {o: v for o, v in declared.scale.items() if o in judged},
    )
    table["on_front"] = False
    table["hv_contribution"] = 0.0
    table.attrs["hypervolume"] = 0.0
    if judged:
        points, reference = norm.apply(table.loc[trained, judged]), norm.reference
        table.loc[trained, "on_front"] = pareto.front_mask(points)
        table.loc[trained, "hv_contribution"] = pareto.contributions(points, reference)
        table.attrs["hypervolume"] = pareto.hypervolume(points, reference)
    table["utility"] = table[judged].mean(axis=1) if judged else np.nan
    table = scorer_gaps(table, judged)
    table.attrs["normalisation"] = norm
    table.attrs["judged"] = judged
    return table


def _policy_stats(replies: pd.DataFrame, params: Params, judged: list[str] | None = None) -> dict[str, float | None]:
    """Mean evaluator score with its bootstrap 95% interval per judged objective (None for the others), and the
    mean training reward per objective where the scores carry it."""
    judged = params.objective_names if judged is None else judged
    row = {}
    for o in params.objective_names:
        if o not in judged:
            row |= {o: None, f"{o}_ci_low": None, f"{o}_ci_high": None}
            continue
        values = replies[o].astype(float)
        row[o] = float(values.mean())
        low, high = bootstrap_ci(values.dropna(), params.evaluate.bootstrap_samples, params.seed)
        row |= {f"{o}_ci_low": low, f"{o}_ci_high": high}
    row["end_of_turn_rate"] = float(replies["ended"].mean())
    if "in_language" in replies:  # what the coherence gate compares, with the end-of-turn rate
        row["in_language"] = float(replies["in_language"].mean())
    return row | {c: float(replies[c].astype(float).mean()) for c in replies.columns if c.endswith(TRAINING)}


def front_rows(table: pd.DataFrame, objectives: list[str]) -> list[dict]:
    """The front table in the step's summary (what the flow's Prefect artifact shows): per policy its weights,
    mean and 95% interval per objective, front membership and hypervolume contribution."""
    return [
        {
            "policy": row["policy"],
            "weights": row["weights"],
            "on_front": bool(row["on_front"]),
            "hv_contribution": float(row["hv_contribution"]),
            "utility": float(row["utility"]),
            "scores": {o: _triple(row, o) for o in objectives},
            "training_rewards": {o: float(row[f"{o}{TRAINING}"]) for o in objectives if f"{o}{TRAINING}" in row},
        }
        for _, row in table.iterrows()
    ]


def _triple(row, objective: str) -> list[float] | None:
    """[mean, 95% low, 95% high] of a judged objective; None for an unjudged one (not scored)."""
    if _number(row[objective]) is None:
        return None
    return [float(row[objective]), float(row[f"{objective}_ci_low"]), float(row[f"{objective}_ci_high"])]


def display_table(table: pd.DataFrame, objectives: list[str], judged: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """What the figures show: the judged objectives when there are two or more; else every objective, an unjudged
    one by its training reward under a label that says so (a front needs two axes to draw)."""
    if len(judged) >= 2:
        return table, judged
    shown, axes = table.copy(), []
    for o in objectives:
        if o in judged:
            axes.append(o)
            continue
        label = f"{o} (training reward, unjudged)"
        shown[label] = shown[f"{o}{TRAINING}"]
        shown[f"{label}_ci_low"] = shown[f"{label}_ci_high"] = shown[label]
        axes.append(label)
    return shown, axes


def champion_report(
    scores: pd.DataFrame,
    lookup: champion_eval.Lookup,
    heldout_md5: str,
    norm: pareto.Normalisation,
    params: Params,
) -> dict:
    """The champion front scored in this run (what register tags on the new versions and promotion compares):
    per version the mean and 95% interval of every objective, and the front's hypervolume under this run's
    normalisation and reference (this run's start policy)."""
    active = mlflow.active_run()
    report = {
        "model_name": params.register.model_name,
        "note": lookup.note,
        "run_id": active.info.run_id if active else None,
        "heldout_md5": heldout_md5,
        "objectives": params.objective_names,
        "versions": [],
        "scores": {},
    }
    if lookup.front is None:
        return report
    versions = champion_eval.versions_of(lookup.front)
    policies = {str(v.version): v.tags.get("policy") for v in lookup.front.versions}
    judged = list(norm.objectives)
    rows = {v: _policy_stats(scores[scores["policy"] == champion_policy(v)], params, judged) for v in versions}
    points = np.array([[rows[v][o] for o in judged] for v in versions])
    return report | {
        "versions": versions,
        "anchor_version": str(lookup.front.anchor.version),
        "champion_run_id": champion_eval.run_id(lookup.front),
        "scores": {v: {"policy": policies[v], **rows[v]} for v in versions},
        "judged": judged,
        "hypervolume": pareto.hypervolume(norm.apply(points), norm.reference) if judged else 0.0,
        "hypervolume_reference": norm.describe(),
    }


def coherence_block(
    table: pd.DataFrame, context: tuple[pd.DataFrame, dict | None] | None, perplexity: dict, examples: list[dict]
) -> dict:
    """coherence.json and the summary's `coherence`: per policy (the pretrained policy for context when SFT ran,
    the start policy, each trained policy) every coherence indicator, and what the perplexity was measured on."""
    policies = {}
    base_words = table.loc[table["is_base"], "length_words"].iloc[0]
    if context is not None:
        frame, held = context
        row = coherence.policy_indicators(frame, held and held["perplexity"])
        row |= indicators(list(frame["completion"]), base_words)
        policies[PRETRAINED] = {"role": "pretrained (context only)"} | _rounded(
            {k: row[k] for k in coherence.INDICATORS}
        )
    for _, row in table.iterrows():
        role = "start policy" if row["is_base"] else "trained"
        policies[row["policy"]] = {"role": role} | _rounded({k: row[k] for k in coherence.INDICATORS})
    measured = next((p for p in perplexity.values() if p), None)
    return {
        "language_id": coherence.LANGUAGE_ID,
        "perplexity_reference": {
            "replies": "chosen replies of the test split's pairs (sft.sources mix and length caps), reply and end "
            "of turn given the templated prompt",
            "examples": len(examples),
            "tokens": measured["tokens"] if measured else 0,
        },
        "policies": policies,
    }


def coherence_metrics(block: dict) -> dict[str, float]:
    """`coherence/<policy>/<indicator>` for every policy of the coherence block."""
    return {
        k: v
        for policy, row in block["policies"].items()
        for k, v in coherence_numbers(row, f"coherence/{tracking.metric_name(policy)}/").items()
    }


def coherence_numbers(row: dict, prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": _number(row.get(k)) for k in coherence.INDICATORS if _number(row.get(k)) is not None}


def _number(value) -> float | None:
    """A float, or None for a missing or NaN value (a perplexity not measured)."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def _rounded(row: dict) -> dict:
    return {k: (None if _number(v) is None else round(float(v), 4)) for k, v in row.items()}
