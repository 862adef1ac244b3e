"""`paretoflow fronts RUN_ID...`: the fronts of several pipeline runs on one picture, read back from MLflow.

Each run's front table is the `pareto/front.json` table its evaluate step logged; a pipeline (parent) run
points at that step through its `step.evaluate.run_id` tag, an evaluate run is used as it is. Comparing
runs this way shows what a change of data, params or code did to the whole trade-off, not only to one policy.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.common.pareto import pairwise_figure, splom_trace

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


def load_fronts(client: MlflowClient, run_ids: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    """All runs' front tables stacked with a `run` label column, and per run its id, label and hypervolume."""
    tables, runs = [], []
    for run_id in run_ids:
        evaluation = evaluate_run(client, run_id)
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
            }
        )
    return pd.concat(tables, ignore_index=True), runs


def objectives_of(table: pd.DataFrame) -> list[str]:
    """The objectives are the score columns that carry an interval (`<o>_ci_low`)."""
    return [c.removesuffix("_ci_low") for c in table.columns if c.endswith("_ci_low")]


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
    table, runs = load_fronts(MlflowClient(tracking_uri), run_ids)
    objectives = objectives_of(table)
    title = "fronts of " + ", ".join(r["label"] for r in runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_overlay_png(table, objectives, title).savefig(out_dir / "fronts.png", dpi=120)
    plot_overlay_html(table, objectives, title).write_html(out_dir / "fronts.html", include_plotlyjs=True)
    return {
        "runs": runs,
        "objectives": objectives,
        "table": table,
        "png": str(out_dir / "fronts.png"),
        "html": str(out_dir / "fronts.html"),
    }
