"""The `openai` judge backend against a real `transformers serve` process serving the local Gemma 3 270M.

A counting reverse proxy sits between the client and the server, so "a re-run makes zero requests" is
counted on the wire, not inferred from the client's own bookkeeping. One server per test session.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from components.judges.backends import make_chat_client
from components.judges.base import JudgeError
from components.judges.local_server import transformers_serve
from components.judges.openai_chat import OpenAIChatClient
from paretoflow.schema import OpenAIJudge

pytestmark = pytest.mark.slow

QUESTIONS = ["What is the capital of France?", "Name a colour of the sky.", "What do bees make?"]


@pytest.fixture(scope="session")
def gemma_server(gemma_dir, tmp_path_factory):
    """`transformers serve` pinned to the converted Gemma directory on a free loopback port."""
    with transformers_serve(gemma_dir, tmp_path_factory.mktemp("serve") / "serve.log") as base_url:
        yield base_url, str(gemma_dir)


class CountingProxy(ThreadingHTTPServer):
    """Forwards POSTs to the upstream server and counts them."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = urlsplit(upstream)
        self.posts = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.upstream.path}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: CountingProxy

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.posts += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=300)
        upstream.request("POST", self.path, body, {"Content-Type": "application/json"})
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def proxy(gemma_server):
    server = CountingProxy(gemma_server[0])
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _settings(base_url: str, model: str) -> OpenAIJudge:
    return OpenAIJudge(kind="openai", base_url=base_url, model=model, max_concurrency=2, timeout_s=120, max_retries=1)


def test_real_server_answers_and_a_rerun_makes_zero_requests(gemma_server, proxy, tmp_path):
    _, model = gemma_server
    conversations = [[{"role": "user", "content": q}] for q in QUESTIONS]
    first = make_chat_client(_settings(proxy.base_url, model), tmp_path)
    replies = first.chat(conversations, max_tokens=8)
    assert len(replies) == len(QUESTIONS)
    assert all(any(ch.isalpha() for ch in r) for r in replies), replies  # real words, not empty or symbols
    assert proxy.posts == len(QUESTIONS) and first.stats()["judge/retries"] == 0

    again = make_chat_client(_settings(proxy.base_url, model), tmp_path)
    assert again.chat(conversations, max_tokens=8) == replies
    assert proxy.posts == len(QUESTIONS)  # counted on the wire: nothing new reached the server
    assert (again.hits, again.misses) == (len(QUESTIONS), 0)


def test_unknown_model_is_a_clear_error(gemma_server):
    base_url, _ = gemma_server
    client = OpenAIChatClient(_settings(base_url, "no-such-model"))
    with pytest.raises(JudgeError, match="rubrics.judge"):
        client.chat([[{"role": "user", "content": "hi"}]], max_tokens=4)


def test_real_server_expected_scores_fall_back_to_the_verdict_text(gemma_server, proxy, tmp_path):
    """`transformers serve` (5.x) accepts `logprobs`/`top_logprobs` but ignores them, so every score comes from
    the reply's text (or none); the scores are cached under the scoring method and a re-run sends nothing."""
    _, model = gemma_server
    from components.rubrics.judging import judge_pointwise

    prompts = ["I failed my exam and feel awful.", "How do I boil an egg?"]
    replies = ["That sounds hard; it makes sense to feel awful after working for it.", "Boil it for eight minutes."]
    rubric = {"hard_rules": [], "principles": ["The response addresses the request directly."]}
    client = make_chat_client(_settings(proxy.base_url, model), tmp_path)
    scores = judge_pointwise(client, prompts, replies, [rubric, rubric])
    assert proxy.posts == 2 and client.inner.scored_by["logprobs"] == 0
    assert client.inner.scored_by["text"] + client.inner.scored_by["none"] == 2
    assert all(s is None or 0.0 <= s <= 1.0 for s in scores)
    again = make_chat_client(_settings(proxy.base_url, model), tmp_path)
    assert judge_pointwise(again, prompts, replies, [rubric, rubric]) == scores and proxy.posts == 2
