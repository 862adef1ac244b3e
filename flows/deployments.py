"""The deployments `paretoflow serve` serves (and infra/prefect.yaml declares for work pools).

scheduled-retrain runs the training pipeline on the cron in `serve` (cached steps are skipped, so unchanged
data and params train nothing); manual-retrain takes overrides and a force switch from the Prefect UI;
promote gates the candidate and moves alias champion. At most one run of each retrain deployment at a time (later
ones wait in the queue); a scheduled and a manual retrain that still overlap take turns on the project lock
(`paretoflow.locking`).
"""

from __future__ import annotations

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from flows.pipeline import training_pipeline
from flows.promote import promote
from paretoflow.schema import Params


def build(params: Params, params_file: str, overrides: list[str] = ()) -> list:
    """Runner deployments whose defaults are `params_file` and `overrides`; every parameter stays editable in the UI."""
    retrain = {"params_file": params_file, "overrides": list(overrides), "force": False}
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    return [
        training_pipeline.to_deployment(
            name="scheduled-retrain",
            schedules=[Cron(params.serve.cron, timezone=params.serve.timezone)],
            parameters=retrain,
            concurrency_limit=one_at_a_time,
            description="Scheduled retrain; unchanged data and params finish from cache without training.",
            tags=["paretoflow", "retrain"],
        ),
        training_pipeline.to_deployment(
            name="manual-retrain",
            parameters=retrain,
            concurrency_limit=one_at_a_time,
            description="Retrain from the UI with overrides (e.g. grpo.max_steps=400); force ignores the cache.",
            tags=["paretoflow", "retrain"],
        ),
        promote.to_deployment(
            name="promote",
            parameters={"params_file": params_file, "overrides": list(overrides), "dry_run": False},
            description="Gate the candidate against the champion; alias champion moves only if every gate passes.",
            tags=["paretoflow", "registry"],
        ),
    ]
