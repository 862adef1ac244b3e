"""A judge's replies and rubric scores are keyed on what shapes them: the judge code and the settings that change
replies, not timeouts, retries or batching."""

from __future__ import annotations

from types import SimpleNamespace

from components.judges.cache import cache_key, client_version
from paretoflow.schema import OpenAIJudge


def _version(**settings) -> str:
    return client_version(SimpleNamespace(settings=OpenAIJudge(kind="openai", **settings)))


def test_reply_shaping_settings_change_the_version_and_bookkeeping_does_not():
    base = _version()
    assert _version(timeout_s=5, max_retries=0, max_concurrency=1, base_url="http://10.0.0.1:8000/v1") == base
    assert _version(top_logprobs=0) != base and _version(model="other") != base


def test_the_version_is_part_of_the_reply_key():
    messages = [{"role": "user", "content": "judge this"}]
    assert len({cache_key("openai", "m", messages, 8, 0.0, version=v) for v in ("a", "b")}) == 2
