"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose answers can be scripted to fail.

Faults are planned per message content (the last message of a conversation), so they stay deterministic
when the client sends requests concurrently: `server.plan("q3", "500", "500")` fails the first two
requests asking "q3", later ones succeed. Every request is recorded (content, arrival time), and the
server tracks how many were in flight at once.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paretoflow.schema import OpenAIJudge


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.release = threading.Event()  # frees handlers that hang, at teardown
        self.plans: dict[str, list[str]] = defaultdict(list)
        self.requests: list[tuple[str, float]] = []
        self.auth_headers: list[str | None] = []
        self.bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def plan(self, content: str, *behaviours: str) -> None:
        """Behaviours for the next requests with this content: ok, 500, 429:SECONDS, 401, hang, slow:SECONDS,
        truncated (valid HTTP, cut JSON), short (Content-Length longer than the body), nonjson, nochoices,
        verdict:N (replies "Score: N", with log-probabilities when asked: N 0.6, N+1 0.3, "x" 0.1),
        winner:X (replies "Winner: Response X", with log-probabilities when asked: X 0.6, the other 0.3, "x" 0.1)."""
        self.plans[content].extend(behaviours)

    def count(self, content: str | None = None) -> int:
        with self.lock:
            return sum(1 for c, _ in self.requests if content is None or c == content)

    def times(self, content: str) -> list[float]:
        with self.lock:
            return [t for c, t in self.requests if c == content]

    def settings(self, **overrides) -> OpenAIJudge:
        """Client settings for this server: a short timeout and a tiny backoff keep the tests fast."""
        values = dict(
            kind="openai",
            base_url=self.base_url,
            model="scripted",
            api_key_env="PF_TEST_JUDGE_KEY",
            timeout_s=2.0,
            max_retries=3,
            backoff_base_s=0.001,
            backoff_max_s=0.01,
        )
        return OpenAIJudge(**{**values, **overrides})


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        server = self.server
        with server.lock:
            server.requests.append((content, time.monotonic()))
            server.auth_headers.append(self.headers.get("Authorization"))
            server.bodies.append(body)
            behaviour = server.plans[content].pop(0) if server.plans[content] else "ok"
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        self._counted = True
        try:
            self._answer(behaviour, body, content)
        finally:
            self._leave()

    def _leave(self) -> None:
        """Out of flight once, before the answer goes out: the client may send its next request as soon as it
        has this one's answer, before this thread gets back here (seen as one request too many in flight)."""
        if getattr(self, "_counted", False):
            self._counted = False
            with self.server.lock:
                self.server.in_flight -= 1

    def send_response(self, code: int, message: str | None = None) -> None:
        self._leave()
        super().send_response(code, message)

    def _answer(self, behaviour: str, body: dict, content: str) -> None:
        name, _, arg = behaviour.partition(":")
        if name == "hang":
            self.server.release.wait(60)
            return
        if name == "slow":
            time.sleep(float(arg))
        if name == "500":
            return self._send(500, b'{"error": "boom"}')
        if name == "429":
            return self._send(429, b'{"error": "slow down"}', {"Retry-After": arg})
        if name == "401":
            return self._send(401, json.dumps({"error": "bad key", "got": self.headers.get("Authorization")}).encode())
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"re: {content}"}}],
        }
        if name == "verdict":
            reply["choices"][0]["message"]["content"] = f"Score: {arg}"
            if body.get("logprobs"):
                reply["choices"][0]["logprobs"] = {"content": _verdict_logprobs(int(arg))}
        if name == "winner":
            reply["choices"][0]["message"]["content"] = f"Both are polite.\nWinner: Response {arg}"
            if body.get("logprobs"):
                reply["choices"][0]["logprobs"] = {"content": _winner_logprobs(arg)}
        raw = json.dumps(reply).encode()
        if name == "truncated":
            return self._send(200, raw[: len(raw) // 2])
        if name == "short":
            return self._send(200, raw[: len(raw) // 2], {"Content-Length": str(len(raw))})
        if name == "nonjson":
            return self._send(200, b"<html>upstream proxy error</html>", {"Content-Type": "text/html"})
        if name == "nochoices":
            return self._send(200, b'{"object": "error", "message": "overloaded"}')
        self._send(200, raw)

    def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload)), **(headers or {})}
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        if headers["Content-Length"] != str(len(payload)):
            self.close_connection = True


def _verdict_logprobs(score: int) -> list[dict]:
    """Tokens of "Score: N" as OpenAI sends them; the number's alternatives are N, N+1 and a non-label."""
    alternatives = [(str(score), 0.6), (str(score + 1), 0.3), ("x", 0.1)]
    number = [{"token": t, "logprob": math.log(p)} for t, p in alternatives]
    tokens = [("Score", None), (":", None), (" ", None), (str(score), number)]
    return [{"token": t, "logprob": -0.1, "top_logprobs": alt or [{"token": t, "logprob": -0.1}]} for t, alt in tokens]


def _winner_logprobs(label: str) -> list[dict]:
    """Tokens of "Both are polite. Winner: Response X" (an "A" in the reasoning must not count); the label's
    alternatives are X, the other label and a non-label."""
    other = "B" if label == "A" else "A"
    alternatives = [
        {"token": t, "logprob": math.log(p)} for t, p in ((f" {label}", 0.6), (f" {other}", 0.3), ("x", 0.1))
    ]
    tokens = ["Both", " are", " polite", ".\n", "Winner", ":", " Response"]
    plain = [{"token": t, "logprob": -0.1, "top_logprobs": [{"token": t, "logprob": -0.1}]} for t in tokens]
    return [*plain, {"token": f" {label}", "logprob": math.log(0.6), "top_logprobs": alternatives}]


@pytest.fixture
def judge_server():
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def conversations(n: int, prefix: str = "q") -> list[list[dict]]:
    return [[{"role": "system", "content": "judge"}, {"role": "user", "content": f"{prefix}{i}"}] for i in range(n)]
