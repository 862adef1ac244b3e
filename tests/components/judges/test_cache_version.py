"""A judge's replies and rubric scores are keyed on what shapes them: the judge code and the settings that change
replies (endpoint, model, log-prob settings, input truncation), not timeouts, retries, deadlines or batching."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from components.judges.backends import make_chat_client
from components.judges.cache import cache_key, client_version
from paretoflow.schema import HFJudge, OpenAIJudge
from paretoflow.step_params import BOOKKEEPING
from tests.components.judges.conftest import ScriptedServer, conversations


def _version(**settings) -> str:
    return client_version(SimpleNamespace(settings=OpenAIJudge(kind="openai", **settings)))


def test_reply_shaping_settings_change_the_version_and_bookkeeping_does_not():
    base = _version()
    assert _version(timeout_s=5, max_retries=0, max_concurrency=1, backoff_max_s=1, deadline_s=9) == base
    assert _version(top_logprobs=0) != base and _version(top_logprobs=5) != base and _version(model="other") != base
    # another endpoint may serve another model (or quantisation) under the same name; a trailing slash is the same
    assert _version(base_url="http://10.0.0.1:8000/v1") != base
    assert _version(base_url="http://127.0.0.1:8000/v1/") == base
    assert "base_url" not in BOOKKEEPING[OpenAIJudge] and "deadline_s" in BOOKKEEPING[OpenAIJudge]


def test_hf_input_truncation_is_part_of_the_version_and_batching_is_not():
    def hf(**settings) -> str:
        return client_version(SimpleNamespace(settings=HFJudge(kind="hf", **settings)))

    assert hf(max_input_tokens=512) != hf() and hf(batch_size=2) == hf()


def test_a_different_endpoint_is_asked_again_not_served_from_the_cache(judge_server, tmp_path):
    """Two real servers under one model name: the second one's replies are its own."""
    other = ScriptedServer()
    threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        asked = conversations(3)
        first = make_chat_client(judge_server.settings(), tmp_path)
        assert first.chat(asked, max_tokens=8) == ["re: q0", "re: q1", "re: q2"]
        second = make_chat_client(other.settings(), tmp_path)
        second.chat(asked, max_tokens=8)
        assert (second.hits, second.misses, other.count()) == (0, 3, 3)
        again = make_chat_client(judge_server.settings(), tmp_path)
        again.chat(asked, max_tokens=8)
        assert (again.hits, judge_server.count()) == (3, 3)
    finally:
        other.shutdown()
        other.server_close()


def test_the_version_is_part_of_the_reply_key():
    messages = [{"role": "user", "content": "judge this"}]
    assert len({cache_key("openai", "m", messages, 8, 0.0, version=v) for v in ("a", "b")}) == 2
