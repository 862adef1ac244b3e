"""Turn boundaries with the real Gemma 3 tokenizer: what SFT learns to end with is what decoding stops at."""

import pytest

from components.common.replies import _reply, stop_token_ids


@pytest.fixture(scope="module")
def tokenizer(gemma_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gemma_dir)


@pytest.mark.slow
def test_decoding_stops_at_either_turn_marker(tokenizer, gemma_dir):
    from transformers import GenerationConfig

    stops = stop_token_ids(tokenizer, GenerationConfig.from_pretrained(gemma_dir))
    assert set(tokenizer.convert_ids_to_tokens(stops)) >= {"<end_of_turn>", "<start_of_turn>", tokenizer.eos_token}
    words = tokenizer("I hear you. That sounds hard.", add_special_tokens=False)["input_ids"]
    end, start = tokenizer.convert_tokens_to_ids(["<end_of_turn>", "<start_of_turn>"])
    user = tokenizer("user\nI am the seeker now", add_special_tokens=False)["input_ids"]
    closed = _reply([*words, end, tokenizer.pad_token_id], stops, tokenizer)
    assert (closed.text, closed.ended, closed.tokens) == ("I hear you. That sounds hard.", True, len(words) + 1)
    runaway = _reply([*words, start, *user], stops, tokenizer)  # the next speaker's turn is never kept
    assert runaway.text == "I hear you. That sounds hard." and runaway.ended
    unfinished = _reply(words, stops, tokenizer)
    assert not unfinished.ended and unfinished.tokens == len(words)


@pytest.mark.slow
def test_the_sft_completion_is_the_reply_and_its_end_of_turn(tokenizer):
    """TRL masks the prompt by its templated prefix: the prompt with the generation prompt must be a prefix of the
    whole chat, and what follows it is the reply closed by <end_of_turn> (the token SFT teaches to emit)."""
    prompt = [{"role": "user", "content": "I lost my job today."}]
    reply = {"role": "assistant", "content": "I'm so sorry. How are you holding up?"}
    head = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    whole = tokenizer.apply_chat_template([*prompt, reply], tokenize=False)
    assert whole.startswith(head)
    completion = tokenizer(whole[len(head) :], add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(completion)
    assert tokens[-2:] == ["<end_of_turn>", "\n"] and "<start_of_turn>" not in tokens
    assert tokenizer.decode(completion[:-2]) == reply["content"]
