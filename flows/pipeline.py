"""The Prefect flow `training_pipeline`: one task per step, cached by content hash of inputs and params."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from components.evaluation import report as evaluation_report
from paretoflow import locking, paths, tracking
from paretoflow.config import DEFAULT_PARAMS, load_params
from paretoflow.schema import Params
from paretoflow.steps import STEPS, StepFailed, execute, steps_until


@task(cache_key_fn=lambda context, parameters: parameters["key"], persist_result=True, retries=0)
def run_step(name: str, params: Params, key: str, parent_run_id: str, flow_run_id: str, force: bool = False) -> dict:
    """Execute one step; Prefect skips it when a result for the same key (inputs + params) exists."""
    return execute(name, params, parent_run_id, flow_run_id, key=key, force=force)


@flow(name="training_pipeline")
def training_pipeline(
    params_file: str = DEFAULT_PARAMS,
    overrides: list[str] | None = None,
    until: str | None = None,
    force: bool = False,
) -> dict:
    """ingest -> validate -> sft -> rubrics -> reward_model -> grpo -> evaluate -> register."""
    logger = get_run_logger()
    params = load_params(params_file, overrides or [])
    # one run at a time in this project: a second one (a scheduled and a manual retrain) waits here, then goes on
    with locking.exclusive(paths.LOCK, f"training_pipeline flow run {flow_run.id}", notify=logger.warning):
        parent, results = _run_steps(params, until, force, logger)
    return {
        "parent_run_id": parent,
        "tracking_uri": params.tracking.uri,
        "objectives": params.objective_names,
        "steps": results,
    }


def _run_steps(params: Params, until: str | None, force: bool, logger) -> tuple[str, dict]:
    parent = tracking.start_pipeline_run(params, str(flow_run.id))
    results, status = {}, "FAILED"
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
            state = run_step.with_options(task_run_name=name, refresh_cache=force or stale is not None)(
                name, params, key, parent, str(flow_run.id), force, return_state=True
            )
            result = state.result()
            result["cached"] = state.is_completed() and state.name == "Cached"
            if result["cached"]:
                logger.info("%s: cached, skipped (it took %.1fs when it ran)", name, result["seconds"])
            else:
                logger.info("%s: ran in %.1fs", name, result["seconds"])
            results[name] = result
        if "evaluate" in results:
            create_markdown_artifact(
                key="evaluation",
                markdown=evaluation_report.markdown(results["evaluate"], params.objective_names, params.tracking.uri),
                description="held-out scores, Pareto front, hypervolume and EUM of this pipeline run",
            )
        status = "FINISHED"
    finally:
        tracking.end_pipeline_run(parent, results, status)
    return parent, results
