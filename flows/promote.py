"""The Prefect flow `promote`: gate the candidate against the champion and move alias `champion` if all pass."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from components.promotion import promote as promote_candidate
from paretoflow.config import DEFAULT_PARAMS, load_params


@flow(name="promote")
def promote(
    params_file: str = DEFAULT_PARAMS,
    overrides: list[str] | None = None,
    version: str | None = None,
    dry_run: bool = False,
) -> dict:
    """Promote `version` (default: the `candidate` alias); dry_run records the gates and moves nothing."""
    params = load_params(params_file, overrides or [])
    result = promote_candidate(params, version=version, dry_run=dry_run)
    rows = "\n".join(f"| {g['name']} | {'pass' if g['passed'] else 'fail'} | {g['detail']} |" for g in result["gates"])
    verdict = "promoted to champion" if result["promoted"] else "not promoted"
    create_markdown_artifact(
        key="promotion",
        markdown=f"### {result['model_name']} v{result['version']}: {verdict}\n\n"
        f"| gate | result | detail |\n|---|---|---|\n{rows}\n\n"
        f"Model: `{result['model_uri']}` (tracking {params.tracking.uri})",
        description=f"gates for {result['model_uri']}",
    )
    get_run_logger().info("%s v%s: %s", result["model_name"], result["version"], verdict)
    return result
