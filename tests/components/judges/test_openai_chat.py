"""The OpenAI-compatible judge client against a real local HTTP server that injects faults."""

from __future__ import annotations

import logging
import time

import pytest

from components.judges.base import JudgeError
from components.judges.expected_score import SCORE, WINNER
from components.judges.openai_chat import OpenAIChatClient, _backoff, _retry_after
from tests.components.judges.conftest import conversations


def test_batch_answers_in_input_order_with_bounded_concurrency(judge_server):
    for i in range(12):
        judge_server.plan(f"q{i}", f"slow:{0.02 * (12 - i)}")  # later items finish first
    client = OpenAIChatClient(judge_server.settings(max_concurrency=3))
    replies = client.chat(conversations(12), max_tokens=8)
    assert replies == [f"re: q{i}" for i in range(12)]
    assert judge_server.count() == 12
    assert judge_server.max_in_flight == 3


def test_slow_responses_run_concurrently(judge_server):
    for i in range(8):
        judge_server.plan(f"q{i}", "slow:0.4")
    client = OpenAIChatClient(judge_server.settings(max_concurrency=8))
    start = time.monotonic()
    assert client.chat(conversations(8), max_tokens=8) == [f"re: q{i}" for i in range(8)]
    assert time.monotonic() - start < 1.6  # one after another would take 3.2 s
    assert client.retries == 0


@pytest.mark.parametrize("fault", ["500", "truncated", "short", "nonjson", "nochoices"])
def test_retryable_faults_are_retried_until_success(judge_server, fault):
    judge_server.plan("q1", fault, fault)
    client = OpenAIChatClient(judge_server.settings())
    assert client.chat(conversations(3), max_tokens=8) == ["re: q0", "re: q1", "re: q2"]
    assert judge_server.count("q1") == 3
    assert judge_server.count() == 5
    assert client.retries == 2


def test_request_past_the_timeout_is_retried(judge_server):
    judge_server.plan("q0", "hang")
    client = OpenAIChatClient(judge_server.settings(timeout_s=0.3))
    start = time.monotonic()
    assert client.chat(conversations(1), max_tokens=8) == ["re: q0"]
    assert judge_server.count("q0") == 2
    assert 0.3 <= time.monotonic() - start < 2


def test_retry_after_is_honoured(judge_server):
    judge_server.plan("q0", "429:0.5")
    client = OpenAIChatClient(judge_server.settings(backoff_max_s=5))
    assert client.chat(conversations(1), max_tokens=8) == ["re: q0"]
    first, second = judge_server.times("q0")
    assert second - first >= 0.5  # the backoff alone would wait at most 1 ms


def test_retry_after_longer_than_the_backoff_cap_is_honoured_in_full(judge_server):
    judge_server.plan("q0", "429:0.6")
    client = OpenAIChatClient(judge_server.settings(backoff_max_s=0.01, deadline_s=10))
    assert client.chat(conversations(1), max_tokens=8) == ["re: q0"]
    first, second = judge_server.times("q0")
    assert second - first >= 0.6  # capped by backoff_max_s it would have come back after 10 ms


def test_retry_after_past_the_deadline_fails_at_once_naming_the_endpoint(judge_server):
    judge_server.plan("q0", "429:3600")
    client = OpenAIChatClient(judge_server.settings(deadline_s=5))
    start = time.monotonic()
    with pytest.raises(JudgeError) as caught:
        client.chat(conversations(1), max_tokens=8)
    assert time.monotonic() - start < 2  # no point waiting an hour, nor the 5 s left
    message = str(caught.value)
    assert judge_server.base_url + "/chat/completions" in message and "rubrics.judge.deadline_s=5s" in message
    assert "1 try in" in message and "HTTP 429" in message and "retry after 3600s (Retry-After)" in message
    assert judge_server.count("q0") == 1


def test_the_deadline_bounds_every_try_and_wait_of_a_request(judge_server):
    judge_server.plan("q0", *["429:0.3"] * 20)
    judge_server.plan("q1", "hang")
    client = OpenAIChatClient(judge_server.settings(max_retries=20, timeout_s=30, deadline_s=1.0))
    start = time.monotonic()
    with pytest.raises(JudgeError, match=r"gave no answer within rubrics.judge.deadline_s=1s: [34] tries"):
        client.chat(conversations(1), max_tokens=8)
    assert 0.9 <= time.monotonic() - start < 1.8 and judge_server.count("q0") in (3, 4)
    start = time.monotonic()
    with pytest.raises(JudgeError, match=r"deadline_s=1s: .*no complete answer within the deadline"):
        client.chat([conversations(2)[1]], max_tokens=8)  # a hung try is cut at the deadline, not at timeout_s
    assert time.monotonic() - start < 2


def test_clear_error_after_the_last_retry(judge_server):
    judge_server.plan("q0", *["500"] * 10)
    client = OpenAIChatClient(judge_server.settings(max_retries=2))
    with pytest.raises(JudgeError) as caught:
        client.chat(conversations(1), max_tokens=8)
    message = str(caught.value)
    assert judge_server.count("q0") == 3
    assert judge_server.base_url + "/chat/completions" in message
    assert "failed 3 time(s)" in message and "HTTP 500" in message
    assert "max_retries" in message  # what to do


def test_unreachable_endpoint_is_a_clear_error(judge_server):
    port = judge_server.server_address[1]
    judge_server.shutdown()
    judge_server.server_close()
    client = OpenAIChatClient(judge_server.settings(max_retries=1))
    with pytest.raises(JudgeError, match=f"127.0.0.1:{port}/v1/chat/completions.*connection error"):
        client.chat(conversations(1), max_tokens=8)


def test_auth_error_fails_at_once_and_never_shows_the_key(judge_server, monkeypatch, caplog):
    secret = "sk-test-very-secret-123"
    monkeypatch.setenv("PF_TEST_JUDGE_KEY", secret)
    judge_server.plan("q0", "401")
    client = OpenAIChatClient(judge_server.settings())
    with caplog.at_level(logging.DEBUG), pytest.raises(JudgeError) as caught:
        client.chat(conversations(1), max_tokens=8)
    assert judge_server.auth_headers == [f"Bearer {secret}"]  # sent, and once: 401 is not retried
    assert "PF_TEST_JUDGE_KEY" in str(caught.value)
    assert secret not in str(caught.value) and secret not in caplog.text


def test_no_key_no_authorization_header(judge_server, monkeypatch):
    monkeypatch.delenv("PF_TEST_JUDGE_KEY", raising=False)
    OpenAIChatClient(judge_server.settings()).chat(conversations(1), max_tokens=8)
    assert judge_server.auth_headers == [None]


def test_one_failing_item_does_not_lose_the_others(judge_server):
    judge_server.plan("q2", *["500"] * 10)
    arrived: dict[int, str] = {}
    client = OpenAIChatClient(judge_server.settings(max_retries=1, max_concurrency=4))
    with pytest.raises(JudgeError):
        client.chat(conversations(4), max_tokens=8, on_reply=arrived.__setitem__)
    assert arrived == {0: "re: q0", 1: "re: q1", 3: "re: q3"}


def test_backoff_is_exponential_with_full_jitter():
    for attempt in range(6):
        waits = [_backoff(attempt, base=0.1, cap=1.0, retry_after=None) for _ in range(300)]
        bound = min(1.0, 0.1 * 2**attempt)
        assert min(waits) >= 0 and max(waits) <= bound
        assert max(waits) > 0.8 * bound and min(waits) < 0.2 * bound  # spread over the whole range
    assert _backoff(0, base=0.1, cap=1.0, retry_after=7) == 7  # Retry-After as sent (the deadline bounds it)


def test_retry_after_parses_seconds_and_dates():
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    from email.utils import formatdate

    assert 25 < _retry_after(formatdate(time.time() + 30, usegmt=True)) <= 30


def test_large_batch_reports_progress_on_stderr_only(judge_server, capsys):
    OpenAIChatClient(judge_server.settings(max_concurrency=8)).chat(conversations(40), max_tokens=8)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 10 and lines[-1] == "[judge openai scripted] 40/40 replies"


def test_expected_scores_ask_for_logprobs_and_use_them(judge_server, tmp_path):
    from components.judges.cache import CachedChatClient

    for i, n in enumerate((3, 8)):
        judge_server.plan(f"q{i}", f"verdict:{n}")
    client = CachedChatClient(OpenAIChatClient(judge_server.settings()), tmp_path)
    scores = client.verdicts(conversations(2), SCORE)
    body = judge_server.bodies[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["temperature"] == 0.0
    # mass 0.6 on N and 0.3 on N+1 (the 0.1 on a non-label is dropped): E = N + 1/3
    assert scores == pytest.approx([(3 + 1 / 3 - 1) / 9, (8 + 1 / 3 - 1) / 9])
    assert client.inner.scored_by == {"logprobs": 2, "text": 0, "none": 0}
    again = CachedChatClient(OpenAIChatClient(judge_server.settings()), tmp_path)
    assert again.verdicts(conversations(2), SCORE) == scores and judge_server.count() == 2  # nothing re-asked
    assert again.chat(conversations(2), max_tokens=8) == ["re: q0", "re: q1"]  # replies are a different key


def test_expected_scores_fall_back_to_the_verdict_text(judge_server):
    judge_server.plan("q0", "verdict:6")
    client = OpenAIChatClient(judge_server.settings(top_logprobs=0))
    assert client.verdicts(conversations(2), SCORE) == [pytest.approx(5 / 9), None]  # "re: q1" names no score
    assert "logprobs" not in judge_server.bodies[0]
    assert client.scored_by == {"logprobs": 0, "text": 1, "none": 1}


def test_pairwise_winner_reads_the_labels_probabilities(judge_server, tmp_path):
    from components.judges.cache import CachedChatClient

    judge_server.plan("q0", "winner:A")
    judge_server.plan("q1", "winner:B")
    client = CachedChatClient(OpenAIChatClient(judge_server.settings()), tmp_path)
    assert client.verdicts(conversations(2), WINNER) == pytest.approx([0.6 / 0.9, 0.3 / 0.9])
    assert judge_server.bodies[0]["logprobs"] is True and judge_server.bodies[0]["max_tokens"] == WINNER.max_tokens
    assert client.inner.scored_by == {"logprobs": 2, "text": 0, "none": 0}
    # cached under the winner's method: a score request on the same conversations is a different question
    assert client.verdicts(conversations(2), WINNER) == pytest.approx([0.6 / 0.9, 0.3 / 0.9])
    assert judge_server.count() == 2
    client.verdicts(conversations(2), SCORE)
    assert judge_server.count() == 4


def test_pairwise_winner_falls_back_to_the_verdict_text(judge_server):
    judge_server.plan("q0", "winner:B")
    judge_server.plan("q2", "winner:A")
    client = OpenAIChatClient(judge_server.settings(top_logprobs=0))
    assert client.verdicts(conversations(3), WINNER) == [0.0, None, 1.0]  # "re: q1" names no winner
    assert "logprobs" not in judge_server.bodies[0]
    assert client.scored_by == {"logprobs": 0, "text": 2, "none": 1}
