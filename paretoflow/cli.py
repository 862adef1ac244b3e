"""The `paretoflow` command: the whole pipeline through Prefect, each step on its own, and the params."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from paretoflow.config import DEFAULT_PARAMS, ConfigError, load_params

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
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def run(
    params: ParamsOpt = Path(DEFAULT_PARAMS),
    override: OverrideOpt = None,
    until: Annotated[str | None, typer.Option(help="stop after this step")] = None,
    force: Annotated[bool, typer.Option(help="ignore cached steps and run everything")] = False,
):
    """Run the whole pipeline through the Prefect flow `training_pipeline` (cached steps are skipped)."""
    embedded_defaults()
    _load(params, override)
    from paretoflow.steps import ORDER, StepFailed

    if until is not None and until not in ORDER:
        errors.print(f"[red]error:[/red] --until {until!r} is not a step; steps are {', '.join(ORDER)}")
        raise typer.Exit(2)
    from flows.pipeline import training_pipeline
    from paretoflow.report import print_summary

    try:
        result = training_pipeline(params_file=str(params), overrides=override or [], until=until, force=force)
    except StepFailed as exc:
        errors.print(f"[red]pipeline stopped at {exc.step}:[/red] {exc}")
        raise typer.Exit(1) from None
    print_summary(result, console)


def _step_command(step: str, help_text: str):
    def command(params: ParamsOpt = Path(DEFAULT_PARAMS), override: OverrideOpt = None):
        embedded_defaults()
        resolved = _load(params, override)
        from paretoflow.steps import StepFailed, execute

        try:
            result = execute(step, resolved)
        except StepFailed as exc:
            errors.print(f"[red]{step} failed:[/red] {exc}")
            raise typer.Exit(1) from None
        console.print_json(json.dumps(result["summary"], default=str))

    command.__doc__ = help_text
    return command


for _name, _step, _help in [
    ("ingest", "ingest", "Sources -> canonical pairs and prompts tables, quarantine, report."),
    ("validate", "validate", "Great Expectations suites on the canonical tables."),
    ("rubrics", "rubrics", "A rubric per prompt and objective."),
    ("train-rm", "reward_model", "One reward model per objective (TRL RewardTrainer)."),
    ("grpo", "grpo", "One policy per weight vector (TRL GRPOTrainer)."),
    ("evaluate", "evaluate", "Held-out scores, Pareto front, hypervolume, plots."),
    ("register", "register", "Front policies -> MLflow model versions; alias candidate."),
]:
    app.command(name=_name)(_step_command(_step, _help))


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


def step_main(step: str) -> None:
    """`python -m components.<step> [--params FILE] [-o k=v]`: the entry point dvc.yaml calls."""
    typer.run(_step_command(step, f"Run the {step} step."))


if __name__ == "__main__":
    app()
