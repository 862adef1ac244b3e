"""Checks on the training scorers, run by evaluate on the held-out set.

Scorer gap: the front is scored by evaluators GRPO never optimised (components/evaluation/front_evaluators.py); the
training rewards are reported beside them. A policy that games its training reward gains on it but not on the
evaluator: the difference of the two gains over the start policy is the objective's reward-hacking indicator.

Judge attack: the master-key probes (components.evaluation.attack_probes) scored by every trained judge (the reward
models), against the chosen replies of held-out pairs; promotion gates on the false-positive rate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from components.data.canonical import read_table
from components.evaluation.attack_probes import false_positive_rate
from paretoflow.schema import Params

Scorer = Callable[..., list[float]]
TRAINING = "_training"  # `<objective>_training`: the training reward beside the evaluator's score `<objective>`


def scorer_gaps(table: pd.DataFrame, objectives: list[str]) -> pd.DataFrame:
    """`<o>_scorer_gap`: the training reward's gain over the start policy minus the evaluator's gain (0 for the
    start policy; large and positive: the policy pleases its reward more than it achieves the objective). Only for
    judged objectives (an unjudged one has no evaluator score) with their training reward in the table."""
    base = table[table["is_base"]].iloc[0]
    for o in objectives:
        column = f"{o}{TRAINING}"
        if column in table and pd.notna(base[o]):
            table[f"{o}_scorer_gap"] = (table[column] - base[column]) - (table[o] - base[o])
    return table


def judge_attack(
    params: Params,
    scorers: list[Scorer],
    data_dir: Path,
    heldout: pd.DataFrame,
    base_replies: list[str],
) -> dict:
    """False-positive rate of the master-key probes per trained judge; `fpr` is the worst judge's rate.

    The bar a probe must not reach is the judge's score for a genuine good reply to the same prompt: the
    chosen reply of a held-out pair of that objective, or (without such pairs) the base policy's reply.
    """
    pairs = read_table(data_dir / "pairs.parquet")
    test = pairs[pairs["split"] == "test"].sort_values("id")
    judged = {}
    for objective, scorer in zip(params.objectives, scorers):
        if objective.scorer != "reward_model":
            continue  # a rule (word count) is no judge: it has no opinion a probe could fool
        rows = test[test["objective"] == objective.name].head(params.evaluate.judge_attack_pairs)
        if rows.empty:
            prompts, references, bar = list(heldout["prompt"]), base_replies, "base policy's replies"
        else:
            prompts, references, bar = list(rows["prompt"]), list(rows["chosen"]), "chosen replies of held-out pairs"
        judged[objective.name] = false_positive_rate(scorer, prompts, references) | {"reference": bar}
    worst = max(judged, key=lambda o: judged[o]["rate"]) if judged else None
    return {"fpr": judged[worst]["rate"] if worst else 0.0, "worst_judge": worst, "judges": judged}
