"""Evaluator reward models: what scores the front in place of the models GRPO optimised (issue 14.3).

A policy trained against a reward model learns that model's blind spots; scored by the same model, the gain looks
real. Each `reward_model` objective therefore gets a second model, trained on a share of the train prompts that the
training model never sees (`objective_splits` sets them aside by prompt hash), with another seed and, where
`reward_model.evaluator.backbone` names one, another backbone. They live in their own folder (artifacts/evaluators)
so that GRPO, which reads artifacts/reward_models, never loads them. Their agreement with the human labels of the
test pairs is recorded here; evaluate measures it again on its own pairs and uses an evaluator only when the lower
end of that 95% interval is above 0.5.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from components.reward_models.evaluation import pairwise_report
from components.reward_models.training import train_model
from components.scorers.reward_model import load_scorer
from paretoflow import tracking
from paretoflow.schema import Params

SUMMARY = "evaluators.json"


def evaluator_params(params: Params) -> Params:
    """The params an evaluator is trained with: seed + `seed_offset`, the evaluator backbone (when given), no early
    stopping (its validation slice would come out of the training model's share) and one model per objective."""
    cfg = params.reward_model
    settings = cfg.model_copy(
        update={"backbone": cfg.evaluator.backbone or cfg.backbone, "early_stopping": None, "heads": "separate"}
    )
    return params.model_copy(update={"seed": params.seed + cfg.evaluator.seed_offset, "reward_model": settings})


def train_evaluators(params: Params, splits: dict[str, dict], out_dir: Path) -> dict[str, dict]:
    """One evaluator per objective on `splits[o]["evaluator"]`, its held-out accuracy on `splits[o]["test"]`;
    writes `evaluators.json` (what each was trained on and how well it agrees) and returns it per objective."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cfg, own = params.reward_model, evaluator_params(params)
    summary = {}
    for objective, split in splits.items():
        shared = set(_prompt_keys(split["evaluator"])) & set(_prompt_keys(split["train"]))
        if shared:  # objective_splits sets prompts aside by hash: a shared prompt is a bug, not a data problem
            raise RuntimeError(f"{objective}: {len(shared)} prompts in both the training and the evaluator share")
        with tracking.child_run(f"reward_model/evaluator/{objective}"):
            training = train_model(own, split["evaluator"], split["evaluator"].iloc[:0], out_dir / objective)
            scorer = load_scorer(out_dir / objective)
            prompts = list(split["test"]["prompt"])
            report = pairwise_report(
                scorer.raw(prompts, list(split["test"]["chosen"])),
                scorer.raw(prompts, list(split["test"]["rejected"])),
                [len(t.split()) for t in split["test"]["chosen"]],
                [len(t.split()) for t in split["test"]["rejected"]],
                cfg.calibration_bins,
                cfg.bootstrap_samples,
                params.seed,
            )
            tracking.log_metrics({"heldout/accuracy": report["accuracy"], "train_pairs": len(split["evaluator"])})
        summary[objective] = {
            "path": (out_dir / objective).as_posix(),
            "seed": own.seed,
            "backbone": own.reward_model.backbone.model_dump(mode="json"),
            "train_pairs": training["train_pairs"],
            "train_prompts_md5": _digest(_prompt_keys(split["evaluator"])),
            "training_model_prompts_md5": _digest(_prompt_keys(split["train"])),
            "heldout_accuracy": report["accuracy"],
            "heldout_ci95": report["ci95"],
            "heldout_pairs": report["n"],
        }
    (out_dir / SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def no_evaluators(out_dir: Path) -> dict:
    """`reward_model.evaluator.enabled: false`: an empty folder (the step's output still exists) saying so."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    (out_dir / SUMMARY).write_text("{}\n")
    return {}


def _prompt_keys(pairs) -> list[str]:
    return sorted(json.dumps(p, sort_keys=True) for p in pairs["prompt"])


def _digest(keys: list[str]) -> str:
    return hashlib.md5("\n".join(sorted(set(keys))).encode()).hexdigest()
