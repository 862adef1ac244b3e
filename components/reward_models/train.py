"""train-rm: reward models for the `reward_model` objectives, measured on their held-out pairs.

Separate models (one per objective, TRL's RewardTrainer: components/reward_models/training.py) by default; `heads:
shared` trains one backbone with a head per objective instead (components/reward_models/multihead.py). Each model is
scored on its objective's test pairs (accuracy with a bootstrap interval, calibration, length bias:
components/reward_models/evaluation.py), gets the reference statistics that normalised or PAR outputs need
(components/reward_models/references.py), and is logged to MLflow as a model (components/reward_models/mlflow_model.py).

With `reward_model.evaluator.enabled` (the default) a share of each objective's train prompts is set aside before
training, and an evaluator model is trained on it with another seed (components/reward_models/evaluators.py):
evaluate scores the front with it, never with the model GRPO optimised.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from components.common.hardlinks import link_identical_files
from components.data.canonical import assign_split, read_table
from components.reward_models.evaluation import calibration_figure, heldout_report, summary_metrics
from components.reward_models.evaluators import no_evaluators, train_evaluators
from components.reward_models.mlflow_model import log_reward_model
from components.reward_models.references import needs_references, save_references
from components.reward_models.training import train_model
from components.scorers.reward_model import head_scorer, reward_model_location
from paretoflow import paths, tracking
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params


def train_reward_models(
    params: Params, data_dir: Path = paths.DATA, out_dir: Path = paths.REWARD_MODELS, evaluators_dir: Path | None = None
) -> dict:
    """`evaluators_dir`: where the evaluator models go, by default `evaluators` beside `out_dir`."""
    out_dir = Path(out_dir)
    evaluators_dir = Path(evaluators_dir or out_dir.parent / paths.EVALUATORS.name)
    pairs_file = data_dir / "pairs.parquet"
    pairs = read_table(pairs_file)
    objectives = [o.name for o in params.objectives if o.scorer == "reward_model"]
    splits = {o: objective_splits(pairs, o, params) for o in objectives}
    data_md5 = dvc_md5(pairs_file)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    results, reports = {}, {}
    if params.reward_model.heads == "shared":
        from components.reward_models.multihead import train_shared

        with tracking.child_run("reward_model/shared"):
            for objective, split in splits.items():
                tracking.log_table_input(split["train"], pairs_file, f"pairs-{objective}-train", "training")
            training = train_shared(params, {o: s["train"] for o, s in splits.items()}, out_dir / "shared")
            shared_model = {}  # the shared model, loaded once and read through each objective's head
            for objective, split in splits.items():
                results[objective], reports[objective] = evaluate(
                    params, objective, split, training[objective], out_dir, pairs_file, shared_model
                )
            uri = log_reward_model(out_dir / "shared", "shared", objectives, params, data_md5)
            results = {o: r | ({"model_uri": uri} if uri else {}) for o, r in results.items()}
    else:
        for objective, split in splits.items():
            with tracking.child_run(f"reward_model/{objective}"):
                tracking.log_table_input(split["train"], pairs_file, f"pairs-{objective}-train", "training")
                training = train_model(params, split["train"], split["validation"], out_dir / objective)
                results[objective], reports[objective] = evaluate(
                    params, objective, split, training, out_dir, pairs_file
                )
                uri = log_reward_model(out_dir / objective, objective, [objective], params, data_md5)
                results[objective] |= {"model_uri": uri} if uri else {}
    if params.reward_model.evaluator.enabled:
        evaluators = train_evaluators(params, splits, evaluators_dir)
        for objective, evaluator in evaluators.items():
            results[objective] |= {
                "evaluator_train_pairs": evaluator["train_pairs"],
                "evaluator_heldout_accuracy": evaluator["heldout_accuracy"],
                "evaluator_heldout_ci95_low": evaluator["heldout_ci95"][0],
                "evaluator_heldout_ci95_high": evaluator["heldout_ci95"][1],
            }
    else:
        no_evaluators(evaluators_dir)
    shared = link_identical_files(out_dir, evaluators_dir)  # the frozen encoder each embedding head saves
    if shared["files"]:
        print(
            f"reward_model: {shared['files']} identical files stored once ({shared['bytes'] / 1e6:.0f} MB)", flush=True
        )
    for objective, result in results.items():
        tracking.log_metrics({f"rm/{objective}/{k}": v for k, v in result.items()})
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (out_dir / "heldout_report.json").write_text(json.dumps(reports, indent=2, sort_keys=True) + "\n")
    figure = calibration_figure(reports)
    figure.savefig(out_dir / "calibration.png", dpi=120)
    tracking.log_figure(figure, "reward_models/calibration.png")
    tracking.log_dict(reports, "reward_models/heldout_report.json")
    return results


def evaluate(
    params: Params,
    objective: str,
    split: dict,
    training: dict,
    out_dir: Path,
    pairs_file: Path,
    loaded: dict | None = None,
) -> tuple[dict, dict]:
    """(training info + held-out headline metrics, the full held-out report); references when used."""
    tracking.log_table_input(split["test"], pairs_file, f"pairs-{objective}-test", "evaluation")
    path = reward_model_location(objective, params, out_dir)
    scorer = head_scorer(path, objective, {} if loaded is None else loaded)
    report = heldout_report(scorer, split["test"], params, split["train"])
    if needs_references(params):
        save_references(scorer, split["train"], params, path, objective)
    tracking.log_metrics({f"heldout/{k}": v for k, v in summary_metrics(report).items()})
    return {**training, **summary_metrics(report)}, report


def objective_splits(pairs: pd.DataFrame, objective: str, params: Params) -> dict[str, pd.DataFrame]:
    """Train, validation (a hash slice of train prompts, only with early stopping), evaluator (a hash slice of
    train prompts the training model never sees, only with evaluator models) and test pairs."""
    cfg = params.reward_model
    subset = pairs[pairs["objective"] == objective]
    train, test = subset[subset["split"] == "train"].sort_values("id"), subset[subset["split"] == "test"]
    if train.empty or test.empty:
        raise ValueError(
            f"objective {objective!r} needs train and test pairs to train a reward model; found "
            f"{len(train)} train and {len(test)} test. Add pairs for it or change its scorer in params.yaml"
        )
    evaluator = train.iloc[:0]
    if cfg.evaluator.enabled:
        aside = train["prompt"].map(lambda p: assign_split(p, "evaluator", cfg.evaluator.fraction) == "test")
        train, evaluator = train[~aside], train[aside]
        if evaluator.empty or train.empty:
            raise ValueError(
                f"objective {objective!r}: setting {cfg.evaluator.fraction:.0%} of the train prompts aside for its "
                f"evaluator model left {len(train)} training and {len(evaluator)} evaluator pairs; change "
                "reward_model.evaluator.fraction, add pairs, or set reward_model.evaluator.enabled: false"
            )
    validation = train.iloc[:0]
    if cfg.early_stopping is not None:
        fraction = cfg.early_stopping.validation_fraction
        held = train["prompt"].map(lambda p: assign_split(p, "validation", fraction) == "test")
        train, validation = train[~held], train[held]
        if validation.empty or train.empty:
            raise ValueError(
                f"objective {objective!r}: early stopping left {len(train)} train and {len(validation)} validation "
                "pairs; change reward_model.early_stopping.validation_fraction or add pairs"
            )
    if cfg.max_train_pairs is not None:
        train, evaluator = train.head(cfg.max_train_pairs), evaluator.head(cfg.max_train_pairs)
    if cfg.max_heldout_pairs is not None:
        test = test.sort_values("id").head(cfg.max_heldout_pairs)
    return {"train": train, "validation": validation, "evaluator": evaluator, "test": test}
