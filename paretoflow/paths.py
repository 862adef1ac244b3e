"""Where the pipeline keeps what it makes, relative to the working directory: one place for the step table, the
components' defaults and the CLI, importable by components without the step table."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path("artifacts")
DATA = ARTIFACTS / "data"
VALIDATION = ARTIFACTS / "validation"
SFT = ARTIFACTS / "sft"  # the start policy: the SFT model (its `policy/` folder) and its held-out report
VALIDATION_DOCS = ARTIFACTS / "reports" / "validation"  # outside VALIDATION: GX results carry run timestamps
RUBRICS = ARTIFACTS / "rubrics"
REWARD_MODELS = ARTIFACTS / "reward_models"
EVALUATORS = ARTIFACTS / "evaluators"  # reward models that score the front, never read by GRPO (reward_model step)
POLICIES = ARTIFACTS / "policies"
EVALUATION = ARTIFACTS / "evaluation"
REGISTRY = ARTIFACTS / "registry"
METRICS = ARTIFACTS / "metrics"  # each step's summary, for `dvc metrics`
LINEAGE = ARTIFACTS / "lineage"  # each step's input md5s as it last ran, which register tags versions with
FRONTS = ARTIFACTS / "fronts"  # `paretoflow fronts` overlays
RECORDS = ARTIFACTS / "records"  # each step's cache key and output md5s as it last succeeded (paretoflow.records)
LOCK = ARTIFACTS / "paretoflow.lock"  # held by the run working in this project (paretoflow.locking)
