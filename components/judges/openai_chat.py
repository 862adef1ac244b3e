"""Judge backend for any OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, TGI, OpenAI, `transformers serve`).

Requests go out concurrently (asyncio + httpx, at most `max_concurrency` in flight), each try under a total
timeout. 429, 5xx, timeouts, connection errors and bodies that are not a complete chat completion are
retried with exponential backoff and full jitter (AWS's "full jitter": sleep uniform(0, min(cap, base 2^k))),
or exactly the server's Retry-After when it sends one, however long, within the request's overall deadline
(`deadline_s`, from its first try: tries, backoffs and waits together). A wait that would end past the deadline
is not started: the request fails at once, naming the endpoint. Other 4xx are the caller's mistake and fail at once.
The API key is read from the environment variable named in params and never appears in logs or errors.
Verdicts (`verdicts`: a pointwise score, a pairwise winner) ask for `logprobs`/`top_logprobs` and read the
label probabilities at the verdict's label (components.judges.expected_score); servers that send no
log-probabilities (`transformers serve` ignores the fields) are judged by parsing the text, and `scored_by`
counts which way each verdict went.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable

import httpx

import components.judges.expected_score as expected_score
from components.judges.base import Conversation, JudgeError, report_progress
from paretoflow.schema import OpenAIJudge

log = logging.getLogger(__name__)


class _Retryable(Exception):
    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.retry_after = retry_after


class OpenAIChatClient:
    backend = "openai"
    scoring = expected_score.METHOD

    def __init__(self, settings: OpenAIJudge):
        self.settings = settings
        self.model = settings.model
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.requests = 0  # HTTP requests sent, retries included
        self.retries = 0
        self.scored_by = {"logprobs": 0, "text": 0, "none": 0}
        self._secret: str | None = None

    def chat(
        self,
        conversations: list[Conversation],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_reply: Callable[[int, str], None] | None = None,
    ) -> list[str]:
        """One reply per conversation, in input order; `on_reply(index, text)` fires as each one arrives."""
        extra = {"max_tokens": max_tokens, "temperature": temperature}
        return self._ask_all(conversations, extra, _content, on_reply)

    def verdicts(
        self,
        conversations: list[Conversation],
        verdict: expected_score.Verdict,
        *,
        on_value: Callable[[int, float | None], None] | None = None,
    ) -> list[float | None]:
        """The verdict's value in [0, 1] per conversation: from the log-probabilities of its labels when the
        server sends them, else parsed from the reply's text, else None."""
        extra = {"max_tokens": verdict.max_tokens, "temperature": 0.0}
        if self.settings.top_logprobs:
            extra.update(logprobs=True, top_logprobs=self.settings.top_logprobs)
        return self._ask_all(conversations, extra, lambda body: self._value_of(body, verdict), on_value)

    def _value_of(self, body: dict, verdict: expected_score.Verdict) -> float | None:
        try:
            value = expected_score.from_openai_logprobs(body["choices"][0]["logprobs"]["content"], verdict)
        except (KeyError, IndexError, TypeError, AttributeError):  # no or malformed log-probabilities
            value = None
        way = "logprobs"
        if value is None:
            value = verdict.parse(_content(body))
            way = "text" if value is not None else "none"
        self.scored_by[way] += 1
        return value

    def _ask_all(self, conversations, extra: dict, read: Callable[[dict], object], on_reply) -> list:
        """`read(body)` per conversation, in input order, the requests sent concurrently."""
        if not conversations:
            return []
        return _run_sync(self._ask_concurrently(conversations, extra, read, on_reply))

    async def _ask_concurrently(self, conversations, extra: dict, read: Callable[[dict], object], on_reply) -> list:
        s = self.settings
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(s.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._secret = key
        limits = httpx.Limits(max_connections=s.max_concurrency, max_keepalive_connections=s.max_concurrency)
        gate = asyncio.Semaphore(s.max_concurrency)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(s.timeout_s)) as client:
            done = 0

            async def one(i: int, messages: Conversation) -> str:
                nonlocal done
                async with gate:
                    reply = read(await self._with_retries(client, {"model": s.model, "messages": messages, **extra}))
                if on_reply is not None:
                    on_reply(i, reply)
                done += 1
                report_progress(f"openai {s.model}", done - 1, done, len(conversations))
                return reply

            tasks = [asyncio.create_task(one(i, c)) for i, c in enumerate(conversations)]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _with_retries(self, client: httpx.AsyncClient, payload: dict) -> dict:
        s = self.settings
        start = time.monotonic()
        for attempt in range(s.max_retries + 1):
            left = s.deadline_s - (time.monotonic() - start)
            try:
                return await self._once(client, payload, max(min(s.timeout_s, left), 0.001))
            except _Retryable as raw:
                failure = self._redact(str(raw))
                if attempt == s.max_retries:
                    raise JudgeError(
                        f"judge endpoint {self.url} (model {s.model!r}) failed {attempt + 1} time(s); last: {failure}. "
                        f"Check that the server is up and serves this model, or raise rubrics.judge.max_retries / "
                        f"timeout_s, or lower max_concurrency if it is overloaded."
                    ) from None
                delay = _backoff(attempt, s.backoff_base_s, s.backoff_max_s, raw.retry_after)
                spent = time.monotonic() - start
                if spent + delay >= s.deadline_s:
                    wait = (
                        f"the server asked to retry after {raw.retry_after:g}s (Retry-After)"
                        if raw.retry_after is not None
                        else f"the next try would start after {spent + delay:.1f}s"
                    )
                    raise JudgeError(
                        f"judge endpoint {self.url} (model {s.model!r}) gave no answer within rubrics.judge.deadline_s="
                        f"{s.deadline_s:g}s: {attempt + 1} tr{'y' if attempt == 0 else 'ies'} in {spent:.1f}s, last: "
                        f"{failure}; {wait}. Raise rubrics.judge.deadline_s, lower max_concurrency, or check the "
                        "server's rate limits and load."
                    ) from None
                self.retries += 1
                log.warning("judge %s: %s; retry %d/%d in %.2fs", self.url, failure, attempt + 1, s.max_retries, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _redact(self, text: str) -> str:
        """Server error bodies may echo request headers; the key never leaves this object."""
        return text.replace(self._secret, "***") if self._secret else text

    async def _once(self, client: httpx.AsyncClient, payload: dict, limit_s: float) -> dict:
        """The parsed body of a complete chat completion (one with `choices[0].message`), within `limit_s`."""
        self.requests += 1
        try:
            async with asyncio.timeout(limit_s):
                response = await client.post(self.url, json=payload)
        except (TimeoutError, httpx.TimeoutException):
            within = f"timeout_s={self.settings.timeout_s:g}" if limit_s >= self.settings.timeout_s else "the deadline"
            raise _Retryable(f"no complete answer within {within} ({limit_s:.3g}s)") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(_status_text(response), _retry_after(response.headers.get("retry-after")))
        if status >= 400:
            hint = {
                401: f"set the API key in the environment variable {self.settings.api_key_env}",
                403: f"the key in {self.settings.api_key_env} may not access this model",
                404: "check rubrics.judge.base_url (up to and including /v1) and rubrics.judge.model",
            }.get(status, "check rubrics.judge settings against the server's API")
            refused = self._redact(_status_text(response))
            raise JudgeError(f"judge endpoint {self.url} refused the request: {refused}; {hint}")
        try:
            body = response.json()
        except ValueError:
            raise _Retryable(f"HTTP {status} body is not complete JSON: {_snippet(response.text)}") from None
        try:
            _content(body)
        except (KeyError, IndexError, TypeError):
            raise _Retryable(f"HTTP {status} JSON without choices[0].message: {_snippet(response.text)}") from None
        return body


def _content(body: dict) -> str:
    return body["choices"][0]["message"]["content"] or ""


def _backoff(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """The server's Retry-After as sent (the caller holds it to the request's deadline), else full jitter."""
    if retry_after is not None:
        return retry_after
    return random.uniform(0, min(cap, base * 2**attempt))


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _status_text(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}: {_snippet(response.text)}"


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _run_sync(coro):
    """asyncio.run, also from code that already runs inside an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="judge-openai")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
