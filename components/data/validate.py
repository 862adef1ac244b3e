"""validate: Great Expectations suites on the canonical tables; a failure stops the run and names the checks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

from components.data.canonical import read_table
from paretoflow import paths, tracking
from paretoflow.schema import Params


class DataValidationError(RuntimeError):
    """The data broke expectations; training would learn from it, so the pipeline stops here."""


def validate(
    params: Params,
    data_dir: Path = paths.DATA,
    out_dir: Path = paths.VALIDATION,
    docs_dir: Path = paths.VALIDATION_DOCS,
) -> dict:
    """Run the suites; `out_dir` gets a byte-stable summary (downstream cache keys hash it), `docs_dir` the
    timestamped GX results and Data Docs HTML, which are also logged to the active MLflow run."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    docs_dir = Path(docs_dir).resolve()
    shutil.rmtree(docs_dir, ignore_errors=True)
    context.add_data_docs_site(
        site_name="paretoflow",
        site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir / "html")},
        },
    )
    source = context.data_sources.add_pandas("paretoflow")
    tables = {
        "pairs": read_table(data_dir / "pairs.parquet"),
        "prompts": read_table(data_dir / "prompts.parquet"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, failed = {}, []
    for name, df in tables.items():
        result = _run_suite(gx, context, source, name, _view(df), _suite(gx, name, params))
        docs_dir.mkdir(parents=True, exist_ok=True)
        (docs_dir / f"{name}_gx_result.json").write_text(json.dumps(result.to_json_dict(), indent=1, default=str))
        tracking.log_dict(result.to_json_dict(), f"validation/{name}_gx_result.json")
        checks = [_check(r) for r in result.results]
        summary[name] = {"rows": len(df), "success": bool(result.success), "expectations": checks}
        failed += [_failure(name, c) for c in checks if not c["success"]]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tracking.log_artifacts(docs_dir / "html", "validation/data_docs")
    tracking.log_metrics(
        {f"validate/{t}/failed": sum(not c["success"] for c in s["expectations"]) for t, s in summary.items()}
    )
    if failed:
        raise DataValidationError(
            "data validation failed; fix the data or the params, then re-run:\n  "
            + "\n  ".join(failed)
            + f"\n(details in {out_dir / 'summary.json'}; Data Docs in {docs_dir / 'html' / 'index.html'})"
        )
    return {t: {"rows": s["rows"], "expectations": len(s["expectations"])} for t, s in summary.items()}


def _run_suite(gx, context, source, name: str, view: pd.DataFrame, suite):
    """A checkpoint run, so that the results land in the Data Docs site; failing rows are named by id."""
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=context.suites.add(suite))
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{name}_checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["paretoflow"])],
            result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["id"]},
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": view})
    return next(iter(run.run_results.values()))


def _failure(table: str, check: dict) -> str:
    examples = f"; example rows (id): {', '.join(check['examples'])}" if check["examples"] else ""
    return f"{table}: {check['expectation']}({check['column']}) observed {check['observed']}{examples}"


def _view(df: pd.DataFrame) -> pd.DataFrame:
    """Flat columns that expectations can check: roles, lengths and the test-split indicator."""
    roles = df["prompt"].map(lambda msgs: [m["role"] for m in msgs if m["role"] != "system"])
    view = pd.DataFrame(
        {
            "id": df["id"],
            "source": df["source"],
            "split": df["split"],
            "is_test": (df["split"] == "test").astype(float),
            "last_role": roles.map(lambda r: r[-1] if r else None),
            "roles_alternate": roles.map(
                lambda r: all(role == ("user", "assistant")[i % 2] for i, role in enumerate(r))
            ),
            "prompt_turns": df["prompt"].map(len),
            "prompt_max_chars": df["prompt"].map(lambda msgs: max((len(m["content"]) for m in msgs), default=0)),
            "meta_is_object": df["meta"].map(lambda meta: isinstance(meta, dict)),
        }
    )
    if "chosen" in df:
        view["objective"] = df["objective"]
        view["chosen_chars"] = df["chosen"].str.len()
        view["rejected_chars"] = df["rejected"].str.len()
        view["chosen_is_rejected"] = df["chosen"].str.strip() == df["rejected"].str.strip()
    return view


def _suite(gx, name: str, params: Params):
    E = gx.expectations
    v, split = params.data.validation, params.data.splits
    expectations = [
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeUnique(column="id"),
        *[E.ExpectColumnValuesToNotBeNull(column=c) for c in ("id", "source", "split", "last_role")],
        E.ExpectColumnValuesToBeBetween(column="prompt_turns", min_value=1),
        E.ExpectColumnValuesToBeInSet(column="meta_is_object", value_set=[True]),
        E.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        E.ExpectColumnValuesToBeInSet(column="last_role", value_set=["user"]),
        E.ExpectColumnValuesToBeInSet(column="roles_alternate", value_set=[True]),
        E.ExpectColumnValuesToBeBetween(column="prompt_max_chars", min_value=1, max_value=v.max_chars),
        E.ExpectColumnMeanToBeBetween(
            column="is_test",
            min_value=max(0.0, split.test_fraction - v.split_tolerance),
            max_value=min(1.0, split.test_fraction + v.split_tolerance),
        ),
    ]
    if name == "pairs":
        expectations += [
            *[E.ExpectColumnValuesToNotBeNull(column=c) for c in ("objective", "chosen_chars", "rejected_chars")],
            E.ExpectColumnValuesToBeInSet(column="objective", value_set=params.objective_names),
            E.ExpectColumnValuesToBeBetween(column="chosen_chars", min_value=1, max_value=v.max_chars),
            E.ExpectColumnValuesToBeBetween(column="rejected_chars", min_value=1, max_value=v.max_chars),
            E.ExpectColumnValuesToBeInSet(column="chosen_is_rejected", value_set=[False]),
        ]
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    return suite


def _check(result) -> dict:
    config = result.expectation_config
    observed = result.result.get("observed_value", result.result.get("unexpected_count"))
    examples = [str(row.get("id")) for row in result.result.get("partial_unexpected_index_list") or []][:5]
    return {
        "expectation": config.type,
        "column": config.kwargs.get("column", "table"),
        "success": bool(result.success),
        "observed": observed if isinstance(observed, int | float | str | bool | None) else str(observed),
        "examples": examples,
    }
