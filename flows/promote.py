"""The Prefect flow `promote`: gate the candidate against the champion and move alias `champion` if all pass.

The graph shows the gates: a task compares the candidate's front with the champion's, one task per gate follows
(Completed when it passes, Failed with its detail when it refuses), then the approval when one is asked, then the
decision. `components.registry.promotion.promote` records the verdicts on the version and moves the aliases; the
gate tasks show the same verdicts (`promotion.gates` on the same fronts) before it acts, so a reviewer asked for
approval sees them in the graph.

With `promote.require_approval`, the flow pauses once the automatic gates pass and waits for a person to
answer the typed `Approval` form in the Prefect UI (or `resume_flow_run(..., run_input=...)`).
"""

from __future__ import annotations

from dataclasses import asdict

from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Completed, Failed
from prefect.utilities.annotations import allow_failure, quote

from components.registry import fronts, promotion
from components.registry.aliases import read_aliases, read_version, registry_call
from components.registry.promotion import promote as promote_candidate
from flows.task_graph import finished
from paretoflow import run_request
from paretoflow.config import DEFAULT_PARAMS, load_params
from paretoflow.schema import Params

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


@task(task_run_name="compare fronts")
def compare_fronts(params: Params, version: str | None) -> list[dict]:
    """The automatic gates' verdicts on the candidate's front against the champion's; none when there is no such
    version (the promotion then says why). A registry that does not answer fails it, as it fails the promotion."""
    client, name = MlflowClient(params.tracking.uri), params.register.model_name
    current = read_aliases(client, name)
    wanted = version or current.get(fronts.CANDIDATE)
    chosen = None if wanted is None else read_version(client, name, wanted)
    if chosen is None:
        return []
    with registry_call(client, f"read the fronts of {name} v{chosen.version} and of the champion"):
        candidate = fronts.front_of(client, chosen, fronts.CANDIDATE)
        champion = current.get(fronts.CHAMPION)
        if champion is not None:
            champion = fronts.front_of(client, client.get_model_version(name, champion), fronts.CHAMPION)
        paired = promotion.per_prompt_scores(client, candidate, champion)
    return [asdict(g) for g in promotion.gates(candidate, champion, params.objective_names, params.promote, paired)]


@task
def gate(passed: bool, detail: str):
    """One gate as a task run: Completed when it passes, Failed when it refuses; the state message is its detail."""
    return Completed(message=detail) if passed else Failed(message=f"refused: {detail}")


@task
def decision(result: dict) -> dict:
    """Where alias champion points after the promotion (moved by `promotion.promote` once every gate passed)."""
    return result


def _gate_tasks(verdicts: list[dict], upstream: list) -> list:
    """A task run per verdict, named gate.<name>, after `upstream` (failed ones included)."""
    after = [allow_failure(finished(state)) for state in upstream]
    return [
        gate.with_options(task_run_name=f"gate.{g['name']}")(
            quote(g["passed"]), quote(g["detail"]), wait_for=after, return_state=True
        )
        for g in verdicts
    ]


@flow(name="promote")
def promote(
    params_file: str = DEFAULT_PARAMS,
    version: int | str | None = None,
    dry_run: bool = False,
    require_approval: bool | None = None,
    approval_timeout_seconds: int | None = None,
    overrides: list[str] | None = None,
) -> dict:
    """Promote `version` (default: the `candidate` alias); dry_run records the gates and moves nothing.

    The parameters are the fields of `paretoflow.run_request.promote_model` (the deployment's form); one left out
    (None) keeps the params file's value."""
    given = {name: value for name, value in locals().items() if value is not None}  # the parameters, as passed
    base = load_params(params_file, overrides or [])
    request = run_request.parse(run_request.promote_model(base, params_file, overrides or []), given)
    params = load_params(params_file, run_request.to_overrides(request, base))
    chosen = None if request.version is None else str(request.version)
    compared = compare_fronts(quote(params), quote(chosen), return_state=True)
    verdicts = compared.result()
    automatic = _gate_tasks(verdicts, [compared])
    approver = ask_for_approval(params.promote.approval_timeout_seconds)
    result = promote_candidate(params, version=chosen, dry_run=request.dry_run, approve=approver)
    later = [g for g in result["gates"] if g["name"] not in {v["name"] for v in verdicts}]  # the approval
    shown = automatic + _gate_tasks(later, automatic)
    verdict = "promoted to champion" if result["promoted"] else "not promoted"
    outcome = f"champion -> v{result['version']}" if result["promoted"] else f"v{result['version']} {verdict}"
    decision.with_options(task_run_name=outcome + (" (dry run)" if request.dry_run else ""))(
        quote(result), wait_for=[allow_failure(finished(s)) for s in shown], return_state=True
    )
    create_markdown_artifact(
        key="promotion",
        markdown=f"### {result['model_name']} v{result['version']}: {verdict}\n\n"
        f"{_gate_table(result['gates'])}\n\n"
        f"Model: `{result['model_uri']}` (tracking {params.tracking.uri})",
        description=f"gates for {result['model_uri']}",
    )
    get_run_logger().info("%s v%s: %s", result["model_name"], result["version"], verdict)
    return result
