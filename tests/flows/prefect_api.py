"""What the Prefect UI reads about a flow run, read the same way through the API: its task runs, the task runs each
waited on (the edges of the run's graph) and the artifacts attached to a task run."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from prefect import get_client


def task_runs(flow_run_id: str | UUID, expect: tuple[str, ...] = (), wait_seconds: float = 30) -> dict[str, object]:
    """The flow run's task runs by name; with `expect`, read again until those names are there (the server records
    task runs from events, so the last one can lag the flow's end on a loaded machine)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    async def read():
        async with get_client() as client:
            # sort and limit spelled out: the server rejects this client version's empty defaults
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )

    deadline = time.monotonic() + wait_seconds
    while True:
        runs = {run.name: run for run in asyncio.run(read())}
        if set(expect) <= set(runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def waited_on(runs: dict[str, object], name: str) -> set[str]:
    """Names of the task runs `name` waited on; fails if any other parameter carries an upstream task run."""
    names = {str(run.id): other for other, run in runs.items()}
    inputs = runs[name].task_inputs
    assert all(not v for k, v in inputs.items() if k != "wait_for"), f"{name}: inputs from other task runs {inputs}"
    return {names[str(i.id)] for i in inputs.get("wait_for", [])}


def artifacts(task_run_id: str | UUID) -> list[dict]:
    async def read():
        async with get_client() as client:
            body = {"artifacts": {"task_run_id": {"any_": [str(task_run_id)]}}, "limit": 50, "offset": 0}
            return (await client._client.post("/artifacts/filter", json=body)).json()

    return asyncio.run(read())
