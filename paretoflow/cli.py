"""The `paretoflow` command: the whole pipeline through Prefect, each step on its own, and the params."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from paretoflow import paths
from paretoflow.config import DEFAULT_PARAMS, ConfigError, load_params
from paretoflow.factories import SCORER_SPEC_FORMS
from paretoflow.steps import STEPS

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(width=max(shutil.get_terminal_size().columns, 120))
errors = Console(stderr=True, soft_wrap=True)

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="parameter file")]
OverrideOpt = Annotated[
    list[str] | None, typer.Option("--override", "-o", help="dotted.key=value (YAML value); repeatable")
]


def embedded_defaults() -> None:
    """Prefect's ephemeral API with a project-local home unless a server is configured."""
    os.environ.setdefault("PREFECT_HOME", str(Path(".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # weight-loading bars; training bars stay


def _load(params: Path, overrides: list[str] | None):
    try:
        return load_params(params, overrides or [])
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _check_servers(resolved, prefect: bool = False) -> None:
    """The MLflow server (an http tracking.uri) and, for flows, a configured Prefect API must answer before anything
    starts: their clients would retry for minutes and end in a traceback."""
    from paretoflow.credentials import CredentialError
    from paretoflow.tracking import ServerUnreachable, check_server, check_tracking

    try:
        check_tracking(resolved.tracking.uri)
        if prefect:
            from prefect.settings import PREFECT_API_URL

            url = PREFECT_API_URL.value()
            if url:
                check_server(
                    url,
                    "the Prefect API (PREFECT_API_URL)",
                    "start it (prefect server start, or the compose stack in infra/) or unset PREFECT_API_URL to "
                    "run on a temporary local API",
                )
    except (ServerUnreachable, CredentialError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


@app.command()
def run(
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    profile: Annotated[str | None, typer.Option(help="tiny, cpu or gpu (default: the params file's)")] = None,
    strategy: Annotated[str | None, typer.Option(help="GRPO strategy: sweep, dynamic or soup")] = None,
    weights: Annotated[
        list[str] | None,
        typer.Option(help="one weight vector, objective=weight,... naming every objective; repeatable"),
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="GRPO optimizer steps per policy")] = None,
    num_generations: Annotated[int | None, typer.Option(help="completions sampled per prompt")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="GRPO learning rate")] = None,
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="a data source as YAML, e.g. '{name: extra, uri: data/extra.jsonl}'; repeatable, replaces "
            "data.sources",
        ),
    ] = None,
    until: Annotated[str | None, typer.Option(help="stop after this step")] = None,
    force: Annotated[
        bool, typer.Option(help="ignore cached steps and run everything, finished GRPO policies included")
    ] = False,
):
    """Run the whole pipeline through the Prefect flow `training_pipeline` (cached steps are skipped).

    The flags are the fields of the manual-retrain deployment's form (`paretoflow.run_request`), checked alike."""
    embedded_defaults()
    resolved = _load(params, override)
    from paretoflow import run_request

    try:
        flags = {
            "profile": profile,
            "strategy": strategy,
            "weights": [run_request.parse_weights(w) for w in weights] if weights else None,
            "max_steps": max_steps,
            "num_generations": num_generations,
            "learning_rate": learning_rate,
            "sources": [run_request.parse_source(s) for s in sources] if sources else None,
            "until": until,
            "force": force,
        }
        model = run_request.retrain_model(resolved, str(params), override or [])
        request = run_request.parse(model, {k: v for k, v in flags.items() if v is not None})
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _check_servers(_load(params, run_request.to_overrides(request, resolved)), prefect=True)
    from flows.pipeline import training_pipeline
    from paretoflow.locking import LockTimeout
    from paretoflow.report import print_summary
    from paretoflow.steps import StepFailed
    from paretoflow.tracking import ServerUnreachable

    try:
        result = training_pipeline(**request.model_dump(mode="json"))
    except StepFailed as exc:
        errors.print(f"[red]pipeline stopped at {exc.step}:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except LockTimeout as exc:
        errors.print(f"[red]pipeline not started:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except ServerUnreachable as exc:  # the tracking server went away after the check above
        errors.print(f"[red]pipeline stopped:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    print_summary(result, console)


def _run_step(step: str, params: Path, override: list[str] | None) -> None:
    embedded_defaults()
    resolved = _load(params, override)
    _check_servers(resolved)
    from paretoflow.locking import LockTimeout
    from paretoflow.steps import StepFailed, execute
    from paretoflow.tracking import ServerUnreachable

    try:
        result = execute(step, resolved)
    except (StepFailed, LockTimeout, ServerUnreachable) as exc:
        errors.print(f"[red]{step} failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result["summary"], default=str))


def _step_command(step: str, help_text: str):
    def command(params: ParamsOpt = Path(DEFAULT_PARAMS), override: OverrideOpt = None):
        _run_step(step, params, override)

    command.__doc__ = help_text
    return command


@app.command("ingest")
def ingest_command(
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="write the tables, quarantine and report here instead of artifacts/data")
    ] = None,
):
    """Sources -> canonical pairs and prompts tables, quarantine, report (counts reconcile per source)."""
    if out is None:
        return _run_step("ingest", params, override)
    embedded_defaults()
    resolved = _load(params, override)
    from components.data.ingest import ingest
    from paretoflow.step_params import StepParams

    try:
        summary = ingest(StepParams(resolved, "ingest"), out_dir=out)
    except (ValueError, FileNotFoundError) as exc:
        errors.print(f"[red]ingest failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(summary, default=str))


STEP_HELP = {
    "validate": "Great Expectations suites on the canonical tables.",
    "sft": "The start policy: supervised warm start on reference replies (TRL SFTTrainer).",
    "rubrics": "A rubric per prompt and objective.",
    "reward_model": "One reward model per objective (TRL RewardTrainer).",
    "grpo": "One policy per weight vector (TRL GRPOTrainer).",
    "evaluate": "Held-out scores, Pareto front, hypervolume, plots.",
    "register": "Front policies -> MLflow model versions; alias candidate.",
}
for _step, _help in STEP_HELP.items():
    app.command(name=STEPS[_step].command)(_step_command(_step, _help))


@app.command()
def score(
    source: Annotated[str, typer.Argument(help="pairs in any ingest source: file, folder, s3://, hf://")],
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    format: Annotated[
        str, typer.Option("--format", help="canonical, hh-rlhf, esconv or counselchat (as in data.sources)")
    ] = "canonical",
    scorer: Annotated[
        str,
        typer.Option(
            help=f"{SCORER_SPEC_FORMS}: a trained reward model (#objective: a shared model's head), a rubric judge "
            "(rubrics.judge of the params when of that kind, else the kind's defaults), a length budget"
        ),
    ] = "",
):
    """Agreement of a scorer with a pairs file's preferences: one JSON line {agreement, ci95, n, ties}."""
    embedded_defaults()
    resolved = _load(params, override)
    from components.evaluation.agreement import agreement, read_pairs
    from components.scorers.specs import scorer_from_spec

    try:
        pairs, skipped = read_pairs(source, format)
        result = agreement(pairs, scorer_from_spec(scorer, resolved).raw)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # RuntimeError: a judge endpoint gave up
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if skipped:
        errors.print(f"{skipped} unusable rows skipped (the ingest quarantine would name them)")
    sys.stdout.write(json.dumps(result) + "\n")


@app.command()
def promote(
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    version: Annotated[str | None, typer.Option(help="model version to promote (default: alias candidate)")] = None,
    dry_run: Annotated[bool, typer.Option(help="record the gates, move no alias")] = False,
):
    """Gate the candidate against the champion (flow `promote`); alias champion moves only if every gate passes."""
    embedded_defaults()
    _check_servers(_load(params, override), prefect=True)
    from components.registry.promotion import PromotionError
    from flows.promote import promote as promote_flow

    try:
        result = promote_flow(params_file=str(params), overrides=override or [], version=version, dry_run=dry_run)
    except (PromotionError, ValueError) as exc:  # ValueError: a version without held-out score tags
        errors.print(f"[red]promotion failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if result.get("repaired"):  # an earlier promote or rollback that stopped half-way, repaired first
        errors.print(f"[yellow]repaired:[/yellow] {escape(result['repaired'])}")
    for gate in result["gates"]:
        mark = "[green]pass[/green]" if gate["passed"] else "[red]fail[/red]"
        console.print(f"gate.{gate['name']}: {mark}  {gate['detail']}")
    verdict = "promoted to champion" if result["promoted"] else "not promoted"
    console.print(f"{result['model_uri']}: {verdict}" + (" (dry run)" if dry_run else ""))
    if not result["promoted"] and not dry_run:
        raise typer.Exit(1)


@app.command()
def rollback(params: ParamsOpt = Path(DEFAULT_PARAMS), override: OverrideOpt = None):
    """Put alias champion back on previous-champion (directly on the registry: no Prefect needed)."""
    from components.registry import promotion

    resolved = _load(params, override)
    _check_servers(resolved)
    try:
        result = promotion.rollback(resolved)
    except promotion.PromotionError as exc:
        errors.print(f"[red]rollback failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if result.get("repaired"):
        errors.print(f"[yellow]repaired:[/yellow] {escape(result['repaired'])}")
    console.print(
        f"champion: {result['model_uri']} (was v{result['rolled_back']}); "
        f"previous-champion: {'v' + result['previous_champion'] if result['previous_champion'] else 'none'}"
    )


@app.command()
def select(
    weights: Annotated[str, typer.Option(help="objective=weight,... (unnamed objectives weigh 0)")],
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
):
    """The registered version on the champion front (else the candidate's) that maximises the weighted utility."""
    from components.registry import selection
    from components.registry.fronts import RegistryUnreadable

    resolved = _load(params, override)
    _check_servers(resolved)
    try:
        result = selection.select(resolved, selection.parse_weights(weights, resolved.objective_names))
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except RegistryUnreadable as exc:  # an outage is not "no champion": nothing is chosen
        errors.print(f"[red]select failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if result["front"] != "champion":
        errors.print("[yellow]no champion yet: chose from the candidate front[/yellow]")
    sys.stdout.write(json.dumps(result) + "\n")


@app.command()
def fronts(
    run_ids: Annotated[list[str], typer.Argument(help="pipeline (or evaluate) MLflow run ids")],
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    out: Annotated[Path, typer.Option(help="folder for fronts.png and fronts.html")] = paths.FRONTS,
):
    """Overlay the Pareto fronts of several pipeline runs: one PNG, one HTML page, a table of every policy."""
    from rich.table import Table

    from components.registry.front_overlay import overlay_fronts

    resolved = _load(params, override)
    _check_servers(resolved)
    try:
        result = overlay_fronts(resolved.tracking.uri, run_ids, out)
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    hypervolume = {r["label"]: r["hypervolume"] for r in result["runs"]}
    table = Table(title=f"fronts of {len(result['runs'])} runs")
    for col in ("run", "hypervolume", "policy", *result["objectives"], "front"):
        table.add_column(col, no_wrap=True)
    for _, row in result["table"].iterrows():
        hv = hypervolume[row["run"]]
        table.add_row(
            row["run"],
            "-" if hv is None else f"{hv:.4f}",
            row["policy"],
            *(f"{row[o]:.3f}" for o in result["objectives"]),
            "start" if row["is_base"] else ("yes" if row["on_front"] else ""),
        )
    console.print(table)
    console.print(escape(result["reference"]))
    for run in result["left_out"]:
        errors.print(f"[yellow]left out {run['label']}:[/yellow] {escape(run['why'])}")
    console.print(f"figure: {result['png']}\npage:   {result['html']}")


@app.command()
def serve(params: ParamsOpt = Path(DEFAULT_PARAMS), override: OverrideOpt = None):
    """Serve the deployments scheduled-retrain (cron from params), manual-retrain and promote until stopped."""
    embedded_defaults()
    resolved = _load(params, override)
    from prefect import serve as serve_deployments
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        errors.print(
            "[red]error:[/red] no Prefect API configured, so nothing could trigger the deployments: run "
            "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api (or your server's URL)"
        )
        raise typer.Exit(2)
    _check_servers(resolved, prefect=True)
    from flows.deployments import build

    serve_deployments(*build(resolved, str(params), override or []))


@app.command()
def deploy(
    prefect_file: Annotated[Path, typer.Option(help="the deployments to create")] = Path("infra/prefect.yaml"),
):
    """`prefect deploy --all` for a prefect.yaml, then each deployment gets its typed run form (built from the params
    file and overrides it declares) and the Prefect API refuses a run whose parameters break it."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        errors.print("[red]error:[/red] no Prefect API configured: set PREFECT_API_URL to your server's /api URL")
        raise typer.Exit(2)
    from flows.deployments import declared_forms, set_forms

    try:
        forms = declared_forms(prefect_file)  # before deploying: a params problem deploys nothing
    except (ConfigError, FileNotFoundError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    command = [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--prefect-file"]
    done = subprocess.run([*command, str(prefect_file), "--all"], env={**os.environ, "PREFECT_API_URL": url})
    if done.returncode != 0:
        errors.print(f"[red]error:[/red] prefect deploy failed (exit {done.returncode}); nothing was typed")
        raise typer.Exit(1)
    set_forms(forms)
    for name in forms:
        console.print(f"{name}: typed run form set, parameters enforced")


@app.command("params")
def show_params(
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    check: Annotated[bool, typer.Option(help="only validate; exit 2 on a problem")] = False,
):
    """Print the resolved parameters (file, then profile, then overrides)."""
    resolved = _load(params, override)
    if check:
        console.print(f"[green]ok[/green]: {params} is valid (profile {resolved.profile})")
        return
    sys.stdout.write(resolved.to_yaml())


if __name__ == "__main__":
    app()
