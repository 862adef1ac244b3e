"""Edges of a flow run's graph in the Prefect UI: which task runs a task run waited on.

Prefect records a task's upstream task runs from what it is given: futures, states, and any value inside them that
it takes, by `id()`, for an earlier task's result. Handed the states of earlier steps, it drew false edges that way
(rubrics after sft); a finished future carries nothing to look inside.
"""

from __future__ import annotations

from concurrent.futures import Future

from prefect.futures import PrefectConcurrentFuture
from prefect.states import State


def finished(state: State) -> PrefectConcurrentFuture:
    """A finished task run as a future to wait on: an edge from that task run and nothing else."""
    done: Future = Future()
    done.set_result(state)
    return PrefectConcurrentFuture(state.state_details.task_run_id, done)
