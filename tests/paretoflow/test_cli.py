import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paretoflow.cli import app
from tests.conftest import REPO, tiny

runner = CliRunner()


def test_step_commands_run_components_and_print_their_summary(project, model_cache):
    args = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    out = runner.invoke(app, ["ingest", *args])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["pairs"] == 340
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
    assert out.exit_code == 1 and "data source 'sample-pairs' (data/sample/pairs.jsonl) has no rows" in out.stderr
    args += ["-o", "data.sources.0.allow_empty=true"]
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


def _pairs_file(folder: Path) -> Path:
    source = folder / "pairs.jsonl"
    rows = [
        {"prompt": "I feel alone.", "chosen": "That sounds hard.", "rejected": "Whatever, get over it and move on."},
        {"prompt": "Any tips to sleep?", "chosen": "Try a walk.", "rejected": "Sleep is overrated, honestly, friend."},
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return source


def test_score_reads_params_and_overrides_like_every_other_command(tmp_path):
    source, params = _pairs_file(tmp_path), ["--params", str(REPO / "params.yaml")]
    out = runner.invoke(app, ["score", str(source), *params, "--scorer", "brevity:chars=20"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"agreement": 1.0, "ci95": [1.0, 1.0], "n": 2, "ties": 0}
    cache = tmp_path / "cache"
    out = runner.invoke(
        app, ["score", str(source), *params, "-o", f"cache_dir={cache}", "--scorer", "rubric:offline#empathy"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n"] == 2 and (cache / "rubric-cache").is_dir()  # the judge used the override


def test_score_explains_bad_params_before_scoring(tmp_path):
    source = _pairs_file(tmp_path)
    params = REPO / "params.yaml"
    out = runner.invoke(app, ["score", str(source), "-p", str(params), "-o", "cache_dri=x", "--scorer", "rm:x"])
    assert out.exit_code == 2 and f"unknown key cache_dri in {params}; did you mean cache_dir?" in out.stderr
    out = runner.invoke(app, ["score", str(source), "-p", str(tmp_path / "none.yaml"), "--scorer", "brevity:chars=9"])
    assert out.exit_code == 2 and "none.yaml not found; pass --params FILE" in out.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_tracking_server_or_prefect_api_is_one_message_not_minutes_of_retries(project, model_cache):
    import time

    port = _closed_port()
    args = [x for o in tiny(project, model_cache, f"tracking.uri=http://127.0.0.1:{port}") for x in ("-o", o)]
    start = time.monotonic()
    for command in (["ingest"], ["run", "--until", "ingest"]):
        out = runner.invoke(app, [*command, *args])
        assert out.exit_code == 1 and "Traceback" not in out.output, out.output
        message = " ".join(out.stderr.split())
        assert f"MLflow tracking server (tracking.uri) at http://127.0.0.1:{port} is unreachable" in message
        assert "Connection refused" in message and "sqlite:///mlflow.db" in message
    # a fresh process: Prefect settings read by earlier in-process flow tests must not decide this one
    import os
    import subprocess
    import sys

    args = [x for o in tiny(project, model_cache) for x in ("-o", o)]
    env = {**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    out = subprocess.run(
        [sys.executable, "-m", "paretoflow.cli", "run", *args], env=env, cwd=project, capture_output=True, text=True
    )
    message = " ".join(out.stderr.split())
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout, out.stderr
    assert f"Prefect API (PREFECT_API_URL) at http://127.0.0.1:{port}/api is unreachable" in message
    assert time.monotonic() - start < 30  # MLflow's own retries took 4 minutes, Prefect's 13 s and a traceback


def _http_server(status: int):
    """A real HTTP server on loopback that answers every GET with `status`, recording the Authorization headers."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.server.seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_gateway_error_in_front_of_the_tracking_server_counts_as_unreachable(project, model_cache):
    """A real HTTP server answering 503 (a proxy whose MLflow is down). (Credentials in the URI are refused before
    any request: tests/paretoflow/test_credentials.py.)"""
    server = _http_server(503)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        args = [x for o in tiny(project, model_cache, f"tracking.uri={url}") for x in ("-o", o)]
        out = runner.invoke(app, ["ingest", *args])
    finally:
        server.shutdown()
        server.server_close()
    assert out.exit_code == 1 and "HTTP 503" in out.stderr
    assert server.seen == [("/health", None)]


@pytest.mark.parametrize("status", [200, 401, 404])
def test_any_answer_but_a_gateway_error_counts_as_reachable(status):
    from paretoflow.tracking import check_tracking

    server = _http_server(status)
    try:
        check_tracking(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, _ in server.seen] == ["/health"]
