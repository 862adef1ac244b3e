"""The end-of-run summary a person reads: steps, objectives x policies, hypervolume, registered versions."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from paretoflow.paths import EVALUATION, REGISTRY


def print_summary(result: dict, console: Console) -> None:
    steps = Table(title="steps")
    for col in ("step", "status", "seconds", "mlflow run"):
        steps.add_column(col)
    for name, r in result["steps"].items():
        steps.add_row(name, "cached" if r["cached"] else "ran", f"{r['seconds']:.1f}", r["run_id"])
    console.print(steps)
    front = EVALUATION / "front.json"
    if front.exists() and "evaluate" in result["steps"]:
        rows = json.loads(front.read_text())
        objectives = result["objectives"]
        summary = result["steps"]["evaluate"]["summary"]
        table = Table(
            title=f"held-out scores (hypervolume {summary['pareto/hypervolume']:.4f})",
            caption=f"hypervolume {summary.get('pareto/hypervolume_reference', 'reference not recorded')}",
        )
        table.add_column("policy", no_wrap=True)
        table.add_column("weights " + "/".join(o[:4] for o in objectives), no_wrap=True)
        for col in (*objectives, "utility", "front"):
            table.add_column(col, no_wrap=True)
        for r in rows:
            weights = "-" if r["is_base"] else "/".join(f"{r['weights'][o]:g}" for o in objectives)
            table.add_row(
                r["policy"],
                weights,
                *("unjudged" if r[o] is None else f"{r[o]:.3f}" for o in objectives),  # no evaluator passed
                f"{r['utility']:.3f}",
                "yes" if r["on_front"] else "",
            )
        console.print(table)
    registry = REGISTRY / "registered.json"
    if registry.exists() and "register" in result["steps"]:
        reg = json.loads(registry.read_text())
        table = Table(title=f"registered model {reg['model_name']} (alias {reg['alias']} -> v{reg['alias_version']})")
        for col in ("version", "policy", "utility", "uri"):
            table.add_column(col)
        for v in reg["versions"]:
            table.add_row(v["version"], v["policy"], f"{v['utility']:.3f}", v["model_uri"])
        console.print(table)
    uri = result["tracking_uri"]
    console.print(
        "\nLook at it:\n"
        f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {uri}   (then http://127.0.0.1:5000)\n"
        "  Prefect UI: PREFECT_HOME=.prefect .venv/bin/prefect server start   (then http://127.0.0.1:4200)\n"
        f"  Pareto plot: {EVALUATION / 'pareto_front.png'}"
    )
