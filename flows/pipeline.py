"""The Prefect flow `training_pipeline`: one task per step, cached by content hash of inputs and params.

Each task waits on the steps whose outputs it reads (`UPSTREAM`), so the flow run's graph in the Prefect UI is the
pipeline's: ingest -> validate -> (sft, rubrics, reward_model) -> grpo -> evaluate -> register. Steps still run one
at a time, in that order, in the flow's thread: they share the project lock and the machine, and GRPO installs a
SIGTERM handler, which only the main thread may. Every task run carries a link artifact to the MLflow run behind
it; a step served from the cache ends in Prefect's `Cached` state and its link says so.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import LinkArtifact, create_markdown_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from components.evaluation import report as evaluation_report
from flows.task_graph import finished
from paretoflow import locking, paths, run_request, tracking
from paretoflow.config import DEFAULT_PARAMS, load_params
from paretoflow.schema import Params
from paretoflow.steps import ORDER, STEPS, StepFailed, execute, steps_until


def _upstream() -> dict[str, list[str]]:
    """Per step, the steps that made the inputs it reads, less those it reaches through another of them."""
    makers = {out: step.name for step in STEPS.values() for out in step.outs}
    direct = {name: {makers[path] for path in STEPS[name].inputs} for name in ORDER}

    def reached(name: str) -> set[str]:
        return set().union(*({u} | reached(u) for u in direct[name]))

    def nearest(name: str) -> list[str]:
        return [u for u in ORDER if u in direct[name] and not any(u in reached(v) for v in direct[name])]

    return {name: nearest(name) for name in ORDER}


UPSTREAM = _upstream()


@task(cache_key_fn=lambda context, parameters: parameters["key"], persist_result=True, retries=0)
def run_step(name: str, params: Params, key: str, parent_run_id: str, flow_run_id: str, force: bool = False) -> dict:
    """Execute one step; Prefect skips it when a result for the same key (inputs + params) exists."""
    return execute(name, params, parent_run_id, flow_run_id, key=key, force=force)


@flow(name="training_pipeline")
def training_pipeline(
    params_file: str = DEFAULT_PARAMS,
    profile: str | None = None,
    strategy: str | None = None,
    weights: list[dict[str, float]] | None = None,
    max_steps: int | None = None,
    num_generations: int | None = None,
    learning_rate: float | None = None,
    sources: list[dict[str, Any]] | None = None,
    until: str | None = None,
    force: bool = False,
    overrides: list[str] | None = None,
) -> dict:
    """ingest -> validate -> (sft, rubrics, reward_model) -> grpo -> evaluate -> register.

    The parameters are the fields of `paretoflow.run_request.retrain_model` (the deployments' form); one left out
    (None) keeps the params file's value."""
    given = {name: value for name, value in locals().items() if value is not None}  # the parameters, as passed
    logger = get_run_logger()
    base = load_params(params_file, overrides or [])
    request = run_request.parse(run_request.retrain_model(base, params_file, overrides or []), given)
    params = load_params(params_file, run_request.to_overrides(request, base))
    # one run at a time in this project: a second one (a scheduled and a manual retrain) waits here, then goes on
    with locking.exclusive(paths.LOCK, f"training_pipeline flow run {flow_run.id}", notify=logger.warning):
        parent, results = _run_steps(params, request.until, request.force, logger)
    return {
        "parent_run_id": parent,
        "tracking_uri": params.tracking.uri,
        "objectives": params.objective_names,
        "steps": results,
    }


def _run_steps(params: Params, until: str, force: bool, logger) -> tuple[str, dict]:
    parent = tracking.start_pipeline_run(params, str(flow_run.id))
    results, states, status = {}, {}, "FAILED"
    try:
        for name in steps_until(until):
            step = STEPS[name]
            try:
                key = step.cache_key(params)
            except (FileNotFoundError, ValueError) as exc:  # a missing local source, a remote one that cannot be listed
                raise StepFailed(name, str(exc)) from None
            # a cached result is served only when the outputs on disk are the ones a successful run with this key made
            stale = None if force else step.stale(key)
            if stale:
                logger.info("%s: no cached result is served for it: %s", name, stale)
            # quoted: Prefect would otherwise take any argument it mistakes for an earlier task's result as an input
            state = run_step.with_options(task_run_name=name, refresh_cache=force or stale is not None)(
                *(quote(a) for a in (name, params, key, parent, str(flow_run.id), force)),
                wait_for=[finished(states[u]) for u in UPSTREAM[name]],
                return_state=True,
            )
            result = state.result()
            states[name] = state
            result["cached"] = state.is_completed() and state.name == "Cached"
            _link(state, result, params.tracking.uri)
            if result["cached"]:
                logger.info("%s: cached, skipped (it took %.1fs when it ran)", name, result["seconds"])
            else:
                logger.info("%s: ran in %.1fs", name, result["seconds"])
            results[name] = result
        if "evaluate" in results:
            create_markdown_artifact(
                key="evaluation",
                markdown=evaluation_report.markdown(
                    results["evaluate"], params.objective_names, params.tracking.uri, pipeline_run_id=parent
                ),
                description="held-out scores, Pareto front, hypervolume and EUM of this pipeline run",
            )
        status = "FINISHED"
    finally:
        tracking.end_pipeline_run(parent, results, status)
    return parent, results


def _link(state, result: dict, tracking_uri: str) -> None:
    """Link the step's task run to the MLflow run behind its outputs, saying whether it ran now or was cached."""
    name = result["step"]
    if result["cached"]:
        description = f"cached: the outputs of an earlier run of {name} ({result['seconds']:.1f}s then) were kept"
    else:
        description = f"{name} ran in {result['seconds']:.1f}s"
    LinkArtifact(
        link=evaluation_report.run_url(tracking_uri, result["run_id"]),
        link_text=f"MLflow run of {name}" + (" (cached)" if result["cached"] else ""),
        description=description,
        task_run_id=state.state_details.task_run_id,
    ).create()
