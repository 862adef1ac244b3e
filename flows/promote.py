"""The Prefect flow `promote`: gate the candidate against the champion and move alias `champion` if all pass.

With `promote.require_approval`, the flow pauses once the automatic gates pass and waits for a person to
answer the typed `Approval` form in the Prefect UI (or `resume_flow_run(..., run_input=...)`).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from components.registry.promotion import promote as promote_candidate
from paretoflow.config import DEFAULT_PARAMS, load_params

POLL_SECONDS = 5  # how often a paused run checks whether it was answered


class Approval(RunInput):
    """A reviewer's decision on a candidate whose automatic gates passed."""

    approve: bool
    reviewer: str
    note: str = ""


def _gate_table(gates: list[dict]) -> str:
    rows = "\n".join(f"| {g['name']} | {'pass' if g['passed'] else 'fail'} | {g['detail']} |" for g in gates)
    return f"| gate | result | detail |\n|---|---|---|\n{rows}"


def ask_for_approval(timeout: int):
    """The approver the promotion asks: pause this flow run until the typed input arrives."""

    def approve(request: dict) -> dict:
        form = Approval.with_initial_data(
            description=f"### Approve {request['model_name']} v{request['version']} as champion?\n\n"
            f"{_gate_table(request['gates'])}",
            approve=False,
            reviewer="",
        )
        answer = pause_flow_run(wait_for_input=form, timeout=timeout, poll_interval=POLL_SECONDS)
        return {"approve": answer.approve, "reviewer": answer.reviewer, "note": answer.note}

    return approve


@flow(name="promote")
def promote(
    params_file: str = DEFAULT_PARAMS,
    overrides: list[str] | None = None,
    version: str | None = None,
    dry_run: bool = False,
) -> dict:
    """Promote `version` (default: the `candidate` alias); dry_run records the gates and moves nothing."""
    params = load_params(params_file, overrides or [])
    approver = ask_for_approval(params.promote.approval_timeout_seconds)
    result = promote_candidate(params, version=version, dry_run=dry_run, approve=approver)
    verdict = "promoted to champion" if result["promoted"] else "not promoted"
    create_markdown_artifact(
        key="promotion",
        markdown=f"### {result['model_name']} v{result['version']}: {verdict}\n\n"
        f"{_gate_table(result['gates'])}\n\n"
        f"Model: `{result['model_uri']}` (tracking {params.tracking.uri})",
        description=f"gates for {result['model_uri']}",
    )
    get_run_logger().info("%s v%s: %s", result["model_name"], result["version"], verdict)
    return result
