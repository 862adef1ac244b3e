"""Start `transformers serve` on loopback for a local model directory: an OpenAI-compatible judge endpoint
without vLLM or a GPU (tests, benchmarks, the cpu profile). The model directory needs a chat template."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from components.judges.base import JudgeError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(
    model_dir: str | Path, log_path: str | Path, *, port: int | None = None, startup_timeout_s: float = 180
) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT/v1`) of a server pinned to `model_dir`; requests must name
    `str(model_dir)` as their model. The server is stopped with SIGINT (uvicorn's clean shutdown) on exit."""
    port = port or free_port()
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "info"]
    with Path(log_path).open("wb") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _healthy(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = Path(log_path).read_text(errors="replace")[-2000:]
                raise JudgeError(f"transformers serve {model_dir} did not come up on port {port}; log tail:\n{tail}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
