"""A step that starts while the tracking server restarts waits for it; the check before a run does not."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paretoflow import tracking


def _restarting_server(unavailable_answers: int):
    """A real HTTP server on loopback that answers 503 (a gateway whose MLflow is down) `unavailable_answers`
    times, then 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.server.asked += 1
            self.send_response(503 if self.server.asked <= unavailable_answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.asked = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(tracking, "RETRY_EVERY_S", 0.05)


def test_a_step_waits_for_a_restarting_server_and_goes_on_when_it_answers(quick_retries, capsys):
    server = _restarting_server(unavailable_answers=3)
    try:
        tracking.check_tracking(f"http://127.0.0.1:{server.server_address[1]}", wait_s=30)
    finally:
        server.shutdown()
        server.server_close()
    assert server.asked == 4
    assert capsys.readouterr().out.count("is unreachable (HTTP 503 Service Unavailable); asking again") == 3


def test_a_server_still_down_after_the_wait_is_the_usual_error(quick_retries):
    server = _restarting_server(unavailable_answers=10**6)
    started = time.monotonic()
    try:
        with pytest.raises(tracking.ServerUnreachable, match="unreachable .HTTP 503.*start it"):
            tracking.check_tracking(f"http://127.0.0.1:{server.server_address[1]}", wait_s=0.5)
    finally:
        server.shutdown()
        server.server_close()
    assert 0.5 <= time.monotonic() - started < 10 and server.asked > 2


def test_without_a_wait_the_check_asks_once(quick_retries):
    server = _restarting_server(unavailable_answers=1)
    try:
        with pytest.raises(tracking.ServerUnreachable):
            tracking.check_tracking(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert server.asked == 1
