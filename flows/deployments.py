"""The deployments `paretoflow serve` serves and `paretoflow deploy` deploys (what infra/prefect.yaml declares).

scheduled-retrain runs the training pipeline on the cron in `serve` (cached steps are skipped, so unchanged
data and params train nothing); manual-retrain is the same pipeline started from its form in the Prefect UI;
promote gates the candidate and moves alias champion. At most one run of each retrain deployment at a time (later
ones wait in the queue); a scheduled and a manual retrain that still overlap take turns on the project lock
(`paretoflow.locking`).

Each deployment's parameter schema is its typed run request (`paretoflow.run_request`), built from the params the
deployment runs with: Prefect renders it as a form (choices, bounds, descriptions) and, with
`enforce_parameter_schema`, refuses a flow run whose parameters break it before the run starts. Prefect would derive
the schema from the flow's signature, which cannot know the objective names or the params' values, so it is set here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron
from prefect.utilities.callables import ParameterSchema
from prefect.utilities.templating import apply_values
from pydantic import BaseModel

from flows.pipeline import training_pipeline
from flows.promote import promote
from paretoflow import run_request
from paretoflow.config import DEFAULT_PARAMS, load_params
from paretoflow.schema import Params

# entrypoint -> (flow name, request model builder): the flows a prefect.yaml may declare deployments of
FORMS = {
    "flows/pipeline.py:training_pipeline": (training_pipeline.name, run_request.retrain_model),
    "flows/promote.py:promote": (promote.name, run_request.promote_model),
}


def parameter_schema(model: type[BaseModel]) -> ParameterSchema:
    """A request model as the parameter schema Prefect keeps for a deployment (definitions, field positions)."""
    schema = model.model_json_schema(ref_template="#/definitions/{model}")
    for position, field in enumerate(schema["properties"].values()):
        field["position"] = position
    return ParameterSchema(  # every field given: a deployment keeps only the ones set (no type: the UI shows JSON)
        title="Parameters",
        type="object",
        properties=schema["properties"],
        required=schema.get("required", []),
        definitions=schema.get("$defs", {}),
    )


def build(params: Params, params_file: str, overrides: list[str] = ()) -> list:
    """Runner deployments whose defaults are `params_file` and `overrides`; the forms show the params' values."""
    retrain = {"params_file": params_file, "overrides": list(overrides), "force": False}
    retrain_form = parameter_schema(run_request.retrain_model(params, params_file, overrides))
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    deployments = [
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
            description="Retrain from the form (profile, weights, steps, sources, until); force ignores the cache.",
            tags=["paretoflow", "retrain"],
        ),
        promote.to_deployment(
            name="promote",
            parameters={"params_file": params_file, "overrides": list(overrides), "dry_run": False},
            description="Gate the candidate against the champion; alias champion moves only if every gate passes.",
            tags=["paretoflow", "registry"],
        ),
    ]
    forms = [retrain_form, retrain_form, parameter_schema(run_request.promote_model(params, params_file, overrides))]
    for deployment, form in zip(deployments, forms, strict=True):
        deployment._parameter_openapi_schema = form  # as Prefect's own `prefect deploy` sets it
        deployment.enforce_parameter_schema = True
    return deployments


def declared_forms(prefect_file: Path) -> dict[str, ParameterSchema]:
    """The typed form of each deployment a prefect.yaml declares ("flow/deployment" -> schema), from the params file
    and overrides in its parameters as `prefect deploy` fills them in (`{{ $VAR }}` from the environment)."""
    config = apply_values(yaml.safe_load(prefect_file.read_text()), {}, remove_notset=False)
    forms = {}
    for declared in config["deployments"]:
        flow_name, model = FORMS[declared["entrypoint"]]
        parameters = declared.get("parameters") or {}
        params_file = parameters.get("params_file", DEFAULT_PARAMS)
        overrides = parameters.get("overrides") or []
        params = load_params(params_file, overrides)
        forms[f"{flow_name}/{declared['name']}"] = parameter_schema(model(params, params_file, overrides))
    return forms


def set_forms(forms: dict[str, ParameterSchema]) -> None:
    """Give deployed deployments their typed forms and have the API enforce them."""
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    async def update() -> None:
        async with get_client() as client:
            for name, form in forms.items():
                deployment = await client.read_deployment_by_name(name)
                change = DeploymentUpdate(parameter_openapi_schema=form.model_dump(), enforce_parameter_schema=True)
                await client.update_deployment(deployment.id, change)

    asyncio.run(update())
