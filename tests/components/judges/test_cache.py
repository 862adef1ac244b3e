"""The reply cache, counted at a real local HTTP server: a re-run asks nothing, a killed run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from components.judges.backends import make_chat_client
from components.judges.cache import CachedChatClient, JsonlCache, cache_key
from components.judges.openai_chat import OpenAIChatClient
from tests.components.judges.conftest import conversations

REPO = Path(__file__).resolve().parents[3]


def test_rerun_makes_zero_requests(judge_server, tmp_path):
    client = make_chat_client(judge_server.settings(), tmp_path)
    first = client.chat(conversations(10), max_tokens=8)
    assert judge_server.count() == 10 and (client.hits, client.misses) == (0, 10)

    again = make_chat_client(judge_server.settings(), tmp_path)  # a new run: cache read back from disk
    assert again.chat(conversations(10), max_tokens=8) == first
    assert judge_server.count() == 10
    assert (again.hits, again.misses, again.hit_rate) == (10, 0, 1.0)
    assert again.stats() == {
        "judge/cache_hits": 10,
        "judge/cache_misses": 0,
        "judge/cache_hit_rate": 1.0,
        "judge/requests": 0,
        "judge/retries": 0,
        "judge/scored_by_logprobs": 0,
        "judge/scored_by_text": 0,
        "judge/scored_by_none": 0,
    }


def test_only_misses_are_sent_and_duplicates_once(judge_server, tmp_path):
    client = CachedChatClient(OpenAIChatClient(judge_server.settings()), tmp_path)
    client.chat(conversations(4), max_tokens=8)
    batch = conversations(6) + conversations(6)  # q0..q3 cached; q4, q5 asked twice in one batch
    replies = client.chat(batch, max_tokens=8)
    assert replies == [f"re: q{i}" for i in range(6)] * 2
    assert judge_server.count() == 6 and judge_server.count("q4") == 1
    assert (client.hits, client.misses) == (8, 8)


def test_key_covers_model_settings_and_prompt_content():
    messages = [{"role": "user", "content": "Rubric v1: judge this"}]
    base = cache_key("openai", "m", messages, 16, 0.0)
    assert base == cache_key("openai", "m", [dict(m, extra=1) for m in messages], 16, 0.0)
    assert (
        len(
            {
                base,
                cache_key("hf", "m", messages, 16, 0.0),
                cache_key("openai", "m2", messages, 16, 0.0),
                cache_key("openai", "m", messages, 17, 0.0),
                cache_key("openai", "m", messages, 16, 0.7),
                cache_key("openai", "m", [{"role": "user", "content": "Rubric v2: judge this"}], 16, 0.0),
                cache_key("openai", "m", [{"role": "system", "content": "Rubric v1: judge this"}], 16, 0.0),
            }
        )
        == 7
    )


def test_torn_last_line_is_skipped_and_appends_continue(tmp_path):
    shard = tmp_path / "shard.jsonl"
    cache = JsonlCache(shard)
    cache.put("a", "first")
    with shard.open("ab") as f:
        f.write(b'{"key": "b", "reply": "half wri')  # a writer killed mid-record
    reloaded = JsonlCache(shard)
    assert reloaded.get("a") == "first" and reloaded.get("b") is None and reloaded.skipped_lines == 1
    reloaded.put("c", "after the tear")
    final = JsonlCache(shard)
    assert (final.get("a"), final.get("c"), len(final)) == ("first", "after the tear", 2)


KILLED_RUN = """
import sys
from components.judges.backends import make_chat_client
from paretoflow.schema import OpenAIJudge
settings = OpenAIJudge(kind="openai", base_url=sys.argv[1], model="scripted", max_concurrency=1, timeout_s=60)
client = make_chat_client(settings, sys.argv[2])
client.chat([[{"role": "user", "content": f"q{i}"}] for i in range(12)], max_tokens=8)
"""


def test_run_killed_part_way_resumes_and_sends_only_the_rest(judge_server, tmp_path):
    judge_server.plan("q6", "hang")  # the run is killed while waiting for its 7th reply
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, judge_server.base_url, str(tmp_path)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while judge_server.count("q6") == 0:
            assert run.poll() is None and time.monotonic() < deadline, "the run ended or stalled before q6"
            time.sleep(0.05)
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    assert run.returncode == -signal.SIGKILL
    (shard,) = (tmp_path / "judge-cache").glob("*.jsonl")
    assert [json.loads(line)["reply"] for line in shard.read_text().splitlines()] == [f"re: q{i}" for i in range(6)]

    client = make_chat_client(judge_server.settings(), tmp_path)
    replies = client.chat([[{"role": "user", "content": f"q{i}"}] for i in range(12)], max_tokens=8)
    assert replies == [f"re: q{i}" for i in range(12)]
    assert (client.hits, client.misses) == (6, 6)
    assert judge_server.count() == 7 + 6  # 6 answered + the hung q6 before the kill, then only the rest
