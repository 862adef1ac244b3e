"""A real `mlflow server` (SQLite backend) for the promotion fault tests, and a real HTTP proxy in front of it whose
rule can answer a chosen request with an error, hold it, delay it or drop it, as a load balancer in front of a
failing registry would."""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from components.judges.local_server import free_port
from tests.servers import BIN, ServerProcess

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
DROP = "drop"  # a rule's answer: close the connection without a response (the server died mid-request)


def sqlite_mlflow_server(root: Path) -> ServerProcess:
    """`mlflow server` on a free loopback port with its registry in `root/mlflow.db`; one worker (two cores are
    shared by the whole test run) still serves requests concurrently."""
    port = free_port()
    command = [
        str(BIN / "mlflow"),
        "server",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        f"--backend-store-uri=sqlite:///{root / 'mlflow.db'}",
        f"--default-artifact-root={root / 'artifacts'}",
    ]
    return ServerProcess("mlflow", command, dict(os.environ), f"http://127.0.0.1:{port}/health", root)


@dataclass(frozen=True)
class Request:
    """One request through the proxy: `endpoint` is the REST path after /api/2.0/mlflow/ ("registered-models/alias"),
    `fields` its query string or JSON body."""

    method: str
    endpoint: str
    fields: dict


Rule = Callable[[Request], "int | str | None"]  # None: forward; an int: answer with that status; DROP: hang up


class RegistryProxy:
    """Forwards every request to the server unless `rule` picks it. The rule runs in the request's own thread, so it
    may block (hold the request until the test lets it go) or act first (kill the server, lock its database)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.rule: Rule = lambda request: None
        self.seen: list[Request] = []
        self.answers: list[tuple[Request, int, bytes]] = []  # what the server answered to the requests forwarded
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the test reads what it needs from `seen`
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                fields = dict(parse_qsl(url.query)) | (json.loads(body) if body.strip().startswith(b"{") else {})
                request = Request(self.command, url.path.split("/mlflow/", 1)[-1], fields)
                proxy.seen.append(request)
                answer = proxy.rule(request)
                if answer == DROP:
                    self.close_connection = True
                    return
                if isinstance(answer, int):
                    self._reply(answer, [], json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE"}).encode())
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body or None, headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    proxy.answers.append((request, response.status, payload))
                    self._reply(response.status, response.getheaders(), payload)
                except OSError:  # the server is gone: hang up, as a proxy whose upstream vanished mid-request
                    self.close_connection = True
                finally:
                    upstream.close()

            def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for key, value in headers:
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timed out, was killed) before the answer came
                    pass

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        return Handler
