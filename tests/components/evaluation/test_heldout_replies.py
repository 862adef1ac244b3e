"""Held-out generation: replies repeat with the seed and follow the decoding params, a repetition penalty breaks
greedy loops, vLLM gets the same settings, and a machine that cannot run vLLM says what is missing."""

from __future__ import annotations

import pytest

from paretoflow.config import load_params
from tests.conftest import REPO


def test_generation_repeats_with_the_seed_and_follows_the_decoding_params(model_cache):
    from transformers import AutoTokenizer

    from components.common.model_store import policy_dir
    from components.evaluation.heldout_replies import generate

    params = load_params(
        REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}", "evaluate.max_new_tokens=6"]
    )
    assert params.evaluate.do_sample, "the tiny profile samples (a random model repeats one token when greedy)"
    path = policy_dir(params.policy, params.cache_dir)
    prompts = [[{"role": "user", "content": f"I feel {w} today."}] for w in ("sad", "tired", "lost")]
    first, again = generate(path, prompts, params), generate(path, prompts, params)
    other = generate(path, prompts, params.model_copy(update={"seed": params.seed + 1}))
    assert first == again and first != other
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert all(r.tokens <= 6 and (r.ended or r.tokens == 6) for r in first)
    assert all(len(tokenizer(r.text, add_special_tokens=False)["input_ids"]) <= 6 + 2 for r in first)


def test_the_repetition_penalty_breaks_greedy_loops(model_cache):
    """A random tiny model repeats one token when greedy; the penalty on tokens already seen breaks the loop."""
    from components.common.model_store import policy_dir
    from components.common.replies import DecodeSettings, generate_replies

    params = load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}"])
    path = policy_dir(params.policy, params.cache_dir)
    prompts = [[{"role": "user", "content": f"I feel {w} today."}] for w in ("sad", "tired", "lost")]

    def distinct(penalty: float) -> float:
        settings = DecodeSettings(max_new_tokens=12, batch_size=3, seed=0, repetition_penalty=penalty)
        replies = generate_replies(path, prompts, settings)
        words = [r.text.split() for r in replies]
        return sum(len(set(w)) for w in words) / max(1, sum(len(w) for w in words))

    assert distinct(3.0) > distinct(1.0)


def test_vllm_sampling_follows_the_decoding_params():
    from components.evaluation.heldout_replies import vllm_sampling

    params = load_params(REPO / "params.yaml", ["evaluate.max_new_tokens=40", "evaluate.temperature=0.7"])
    assert params.evaluate.engine == "transformers" and not params.evaluate.do_sample
    penalty = params.evaluate.repetition_penalty
    assert vllm_sampling(params.evaluate, 5) == {
        **{"max_tokens": 40, "temperature": 0.0, "repetition_penalty": penalty, "seed": 5}  # greedy
    }
    sampled = params.evaluate.model_copy(update={"do_sample": True, "repetition_penalty": 1.3})
    assert vllm_sampling(sampled, 5) == {"max_tokens": 40, "temperature": 0.7, "repetition_penalty": 1.3, "seed": 5}
    gpu = load_params(REPO / "params.yaml", ["profile=gpu"]).evaluate
    assert gpu.engine == "vllm" and vllm_sampling(gpu, 0)["max_tokens"] == gpu.max_new_tokens


def test_vllm_engine_explains_what_is_missing_on_a_cpu_machine(monkeypatch, tmp_path):
    import importlib.util
    import sys
    import types

    import torch

    from components.evaluation.heldout_replies import generate

    installed = importlib.util.find_spec("vllm") is not None
    if installed and torch.cuda.is_available():
        pytest.skip("vllm can run on this machine: nothing is missing")
    params = load_params(REPO / "params.yaml", ["evaluate.engine=vllm"])
    prompts = [[{"role": "user", "content": "I feel sad."}]]
    if not installed:  # the missing package is named, with the way out
        with pytest.raises(RuntimeError, match="vllm is not installed.*evaluate.engine=transformers"):
            generate(tmp_path, prompts, params)
    if not torch.cuda.is_available():  # an importable vllm still needs a CUDA device
        monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
        with pytest.raises(RuntimeError, match="no CUDA device is visible.*evaluate.engine=transformers"):
            generate(tmp_path, prompts, params)
