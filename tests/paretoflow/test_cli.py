import json

from typer.testing import CliRunner

from paretoflow.cli import app
from tests.conftest import tiny

runner = CliRunner()


def test_step_commands_run_components_and_print_their_summary(project, model_cache):
    args = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    out = runner.invoke(app, ["ingest", *args])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["pairs"] == 180
    out = runner.invoke(app, ["validate", *args])
    assert out.exit_code == 0, out.output


def test_problems_end_in_one_clear_line_not_a_traceback(project, model_cache):
    args = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    out = runner.invoke(app, ["grpo", *args])
    assert out.exit_code == 1
    assert "artifacts/data does not exist; run the step that produces it first" in out.stderr
    assert "Traceback" not in out.output
    (project / "data/sample/pairs.jsonl").write_text("")
    out = runner.invoke(app, ["ingest", *args])
    assert out.exit_code == 0
    out = runner.invoke(app, ["validate", *args])
    assert out.exit_code == 1 and "expect_table_row_count_to_be_between(table)" in out.stderr


def test_a_missing_data_source_is_named(project, model_cache):
    args = [x for o in tiny(project, model_cache, "data.sources=[{name: mine, uri: nowhere.jsonl}]") for x in ("-o", o)]
    out = runner.invoke(app, ["ingest", *args])
    assert out.exit_code == 1
    assert "data source 'mine': nowhere.jsonl not found; fix its uri under data.sources" in out.stderr


def test_ingest_out_writes_the_four_files_there_and_counts_reconcile(project, model_cache, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ingest-out")
    args = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    out = runner.invoke(app, ["ingest", *args, "--out", str(out_dir)])
    assert out.exit_code == 0, out.output
    assert {p.name for p in out_dir.iterdir()} >= {"pairs.parquet", "prompts.parquet", "quarantine.jsonl"}
    report = json.loads((out_dir / "ingest_report.json").read_text())
    for counts in report["sources"].values():
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"]
    assert not (project / "artifacts/data").exists()
    (project / "data/sample/pairs.jsonl").write_bytes(b"\x1f\x8bnot really gzip")
    out = runner.invoke(app, ["ingest", *args, "--out", str(out_dir)])
    assert out.exit_code == 1 and "data/sample/pairs.jsonl" in out.stderr and "Traceback" not in out.output
