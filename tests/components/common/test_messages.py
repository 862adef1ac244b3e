"""Dialogues cut to their latest turns, measured in the real Gemma tokenizer's tokens."""

from transformers import AutoTokenizer

from components.common.messages import latest_turns


def test_latest_turns_counts_real_tokens(gemma_dir):
    tokenizer = AutoTokenizer.from_pretrained(gemma_dir)
    old = [{"role": "user", "content": "hello " * 300}, {"role": "assistant", "content": "I hear you."}]
    last = [{"role": "user", "content": "I feel alone since the move."}]
    assert latest_turns(old + last, tokenizer, 64) == last  # the 300-word opening does not fit in 64 tokens
    assert latest_turns(old + last, tokenizer, 4096) == old + last
    assert latest_turns([{"role": "user", "content": "hello " * 300}], tokenizer, 64) is None
