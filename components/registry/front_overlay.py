"""`paretoflow fronts RUN_ID...`: the fronts of several pipeline runs on one picture, read back from MLflow.

Each run's front table is the `pareto/front.json` table its evaluate step logged; a pipeline (parent) run
points at that step through its `step.evaluate.run_id` tag, an evaluate run is used as it is. Comparing
runs this way shows what a change of data, params or code did to the whole trade-off, not only to one policy.

Scores share axes only when the same evaluators measured them, and hypervolumes compare only under the same
normalisation (each run's start policy = 0, the same declared ideal or scale = 1). So the first run named sets both, as
its evaluate run recorded them (params `pareto/evaluators`, `pareto/normalisation`); a run that differs, or
recorded neither, is left out of the picture and the result says why.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.common.pareto import pairwise_figure, reference_caption, splom_trace
from components.evaluation.front_evaluators import EVALUATORS, NORMALISATION

FRONT_TABLE = "pareto/front.json"


def evaluate_run(client: MlflowClient, run_id: str):
    """The evaluate run behind `run_id` (a pipeline run or an evaluate run)."""
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ValueError(f"no MLflow run {run_id} in {client.tracking_uri}; copy the id from the MLflow UI") from None
    tags = run.data.tags
    if tags.get("paretoflow.step") == "evaluate":
        return run
    if "step.evaluate.run_id" in tags:
        return client.get_run(tags["step.evaluate.run_id"])
    raise ValueError(
        f"run {run_id} ({run.info.run_name}) is neither a pipeline run that reached evaluate nor an evaluate run"
    )


def measured_by(evaluation) -> dict:
    """How a run's front was measured: its evaluators and what 1 is per objective (None where it recorded none)."""
    recorded = evaluation.data.params
    return {k: json.loads(recorded[k]) if k in recorded else None for k in (EVALUATORS, NORMALISATION)}


def mismatch(anchor: dict, other: dict) -> str | None:
    """Why a run's front cannot share the first run's picture, or None when it can."""
    if None in (*anchor.values(), *other.values()):
        return "its evaluate run (or the first run's) recorded no evaluators or normalisation"
    differ = [
        f"{what} of {o}: {other[key].get(o)!r} vs {anchor[key].get(o)!r}"
        for key, what in ((EVALUATORS, "evaluator"), (NORMALISATION, "normalisation"))
        for o in sorted(set(anchor[key]) | set(other[key]))
        if anchor[key].get(o) != other[key].get(o)
    ]
    return "measured otherwise: " + "; ".join(differ) if differ else None


def load_fronts(client: MlflowClient, run_ids: list[str]) -> tuple[pd.DataFrame, list[dict], list[dict]]:
    """The front tables of the runs measured as the first one was, stacked with a `run` label column; per such
    run its id, label and hypervolume; and the runs left out, each with why."""
    tables, runs, left_out, anchor = [], [], [], None
    for run_id in run_ids:
        evaluation = evaluate_run(client, run_id)
        measured = measured_by(evaluation)
        anchor = anchor or measured
        why = None if measured is anchor else mismatch(anchor, measured)
        if why is not None:
            left_out.append({"run_id": run_id, "label": run_id[:8], "why": why})
            continue
        artifacts = {a.path for a in client.list_artifacts(evaluation.info.run_id, "pareto")}
        if FRONT_TABLE not in artifacts:
            raise ValueError(f"evaluate run {evaluation.info.run_id} logged no {FRONT_TABLE}")
        table = client.load_table(evaluation.info.experiment_id, FRONT_TABLE, [evaluation.info.run_id])
        label = f"{run_id[:8]}"
        tables.append(table.assign(run=label))
        runs.append(
            {
                "run_id": run_id,
                "label": label,
                "evaluate_run_id": evaluation.info.run_id,
                "hypervolume": evaluation.data.metrics.get("pareto/hypervolume"),
                "front_size": int(table["on_front"].sum()),
                "normalisation": measured[NORMALISATION],
            }
        )
    return pd.concat(tables, ignore_index=True), runs, left_out


def objectives_of(table: pd.DataFrame) -> list[str]:
    """The objectives are the score columns that carry an interval (`<o>_ci_low`); an unjudged one (no evaluator
    passed its agreement check, so no run scored it: the runs share evaluators) has none and is left out."""
    return [c.removesuffix("_ci_low") for c in table.columns if c.endswith("_ci_low") and table[c].notna().any()]


def plot_overlay_png(table: pd.DataFrame, objectives: list[str], title: str):
    """Every pair of objectives; one colour per run; filled: on its run's front, hollow: dominated, x: base."""
    import matplotlib

    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]

    def draw(ax, x: str, y: str) -> None:
        for k, (label, group) in enumerate(table.groupby("run", sort=False)):
            colour = colours[k % len(colours)]
            front = group[~group["is_base"] & group["on_front"]].sort_values(x)
            rest = group[~group["is_base"] & ~group["on_front"]]
            base = group[group["is_base"]]
            ax.plot(front[x], front[y], "o-", color=colour, label=label, alpha=0.9)
            ax.scatter(rest[x], rest[y], facecolors="none", edgecolors=colour)
            ax.scatter(base[x], base[y], marker="x", color=colour)

    return pairwise_figure(objectives, title, draw, legend="run")


def plot_overlay_html(table: pd.DataFrame, objectives: list[str], title: str):
    """Interactive scatter matrix with one series per run; hover shows run, policy, weights and scores."""
    import plotly.graph_objects as go

    def hover(row) -> str:
        weights = row["weights"] if isinstance(row["weights"], dict) else json.loads(row["weights"] or "null")
        shown = ", ".join(f"{o}={w:g}" for o, w in (weights or {}).items()) or "start policy"
        scores = "<br>".join(f"{o}: {row[o]:.3f}" for o in objectives)
        place = "start" if row["is_base"] else ("front" if row["on_front"] else "dominated")
        return f"<b>{html.escape(row['run'])} / {html.escape(row['policy'])}</b> ({place})<br>{shown}<br>{scores}"

    figure = go.Figure()
    for label, group in table.groupby("run", sort=False):
        symbols = [
            "x" if b else ("circle" if f else "circle-open") for b, f in zip(group["is_base"], group["on_front"])
        ]
        figure.add_trace(splom_trace(group, objectives, label, [hover(r) for _, r in group.iterrows()], symbols, 10))
    figure.update_layout(title=title, height=260 * len(objectives), width=260 * len(objectives) + 160)
    return figure


def overlay_fronts(tracking_uri: str, run_ids: list[str], out_dir: Path) -> dict:
    """Write `fronts.png` and `fronts.html` for the runs into `out_dir`; return the runs and the stacked table."""
    if not run_ids:
        raise ValueError("name at least one pipeline run id (see the MLflow UI or the end of `paretoflow run`)")
    table, runs, left_out = load_fronts(MlflowClient(tracking_uri), run_ids)
    objectives = objectives_of(table)
    declared = runs[0]["normalisation"]
    reference = "hypervolume " + (reference_caption(declared) if declared else "reference not recorded")
    title = ["fronts of " + ", ".join(r["label"] for r in runs), reference]
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_overlay_png(table, objectives, "\n".join(title)).savefig(out_dir / "fronts.png", dpi=120)
    page = plot_overlay_html(table, objectives, "<br>".join(html.escape(t) for t in title))
    page.write_html(out_dir / "fronts.html", include_plotlyjs=True)
    return {
        "runs": runs,
        "left_out": left_out,
        "reference": reference,
        "objectives": objectives,
        "table": table,
        "png": str(out_dir / "fronts.png"),
        "html": str(out_dir / "fronts.html"),
    }
