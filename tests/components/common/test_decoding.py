"""The decoding loop against transformers' `generate` on the tiny policy, and the sampler against exact
probabilities."""

import pytest
import torch
from scipy.stats import chisquare

from components.common.decoding import blocked_repeats, sample_tokens
from components.common.model_store import policy_dir
from components.common.replies import DecodeSettings, generate_ids, generate_replies, load_policy, stop_token_ids
from paretoflow.schema import TinyModel

PROMPTS = [
    [{"role": "user", "content": "I lost my job today and I can't sleep."}],
    [{"role": "user", "content": "Hi."}],
    [
        {"role": "user", "content": "My sister stopped talking to me."},
        {"role": "assistant", "content": "That sounds painful. What happened?"},
        {"role": "user", "content": "We argued about our parents and she left without a word."},
    ],
]


@pytest.fixture(scope="module")
def tiny_policy(model_cache):
    """The tiny policy with its weights drawn wide: at its own small init every prompt gets the same greedy reply,
    which would hide a wrong mask or position."""
    path = policy_dir(TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2), model_cache)
    model, tokenizer = load_policy(path, "fp32")
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.5)
    return path, model, tokenizer


def _generate(model, tokenizer, prompts, stops, tokens, penalty=1.0):
    """Today's reference: transformers' `generate` on the left-padded batch, in input order."""
    tokenizer.padding_side = "left"
    batch = tokenizer.apply_chat_template(
        prompts, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        ids = model.generate(
            **batch,
            max_new_tokens=tokens,
            do_sample=False,
            repetition_penalty=penalty,
            eos_token_id=stops,
            pad_token_id=tokenizer.pad_token_id,
        )
    return ids[:, batch["input_ids"].shape[1] :].tolist()


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_greedy_tokens_are_generates_own(tiny_policy, penalty):
    _, model, tokenizer = tiny_policy
    stops = stop_token_ids(tokenizer, model.generation_config)
    settings = DecodeSettings(max_new_tokens=12, batch_size=3, seed=0, repetition_penalty=penalty)
    ours = generate_ids(model, tokenizer, PROMPTS, settings, stops=stops)
    assert ours == _generate(model, tokenizer, PROMPTS, stops, 12, penalty)


def test_a_row_that_ended_is_padded_and_the_others_go_on(tiny_policy):
    """Whichever token the first greedy step picks for a prompt becomes a stop: that row ends at once, padded, while
    the rows that did not pick it decode on exactly as without the stop."""
    _, model, tokenizer = tiny_policy
    settings = DecodeSettings(max_new_tokens=6, batch_size=3, seed=0)
    free = generate_ids(model, tokenizer, PROMPTS, settings, stops=[])
    stop = free[1][0]
    stopped = generate_ids(model, tokenizer, PROMPTS, settings, stops=[stop])
    for before, after in zip(free, stopped):
        end = before.index(stop) if stop in before else len(before)
        assert after[: end + 1] == before[: end + 1]
        assert after[end + 1 :] == [tokenizer.pad_token_id] * (len(after) - end - 1)
    assert stopped[1] == [stop] + [tokenizer.pad_token_id] * 5


def _ngrams(ids: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]


def test_blocking_leaves_no_repeated_ngram_in_a_reply_and_changes_only_what_repeated(tiny_policy):
    _, model, tokenizer = tiny_policy
    free = generate_ids(model, tokenizer, PROMPTS, DecodeSettings(max_new_tokens=24, batch_size=3, seed=0), stops=[])
    assert any(len(set(_ngrams(r, 2))) < len(_ngrams(r, 2)) for r in free)  # the wide-init policy loops
    settings = DecodeSettings(max_new_tokens=24, batch_size=3, seed=0, no_repeat_ngram_size=2)
    blocked = generate_ids(model, tokenizer, PROMPTS, settings, stops=[])
    for before, after in zip(free, blocked):
        assert len(set(_ngrams(after, 2))) == len(_ngrams(after, 2))
        first_repeat = next((i for i in range(2, len(before) + 1) if len(set(_ngrams(before[:i], 2))) < i - 1), None)
        agree = len(before) if first_repeat is None else first_repeat - 1
        assert after[:agree] == before[:agree]  # identical up to the token that would have repeated a bigram


def test_blocking_rules_out_exactly_the_tokens_that_close_a_repeat():
    logits = torch.zeros(2, 10)
    blocked_repeats(logits, [[1, 2, 3, 1, 2, 4, 1], [5, 6]], 3)
    assert torch.isinf(logits[0]).nonzero().flatten().tolist() == []  # (4, 1) was never followed
    logits = torch.zeros(1, 10)
    blocked_repeats(logits, [[1, 2, 3, 1, 2]], 3)
    assert torch.isinf(logits[0]).nonzero().flatten().tolist() == [3]  # 1 2 3 would repeat
    logits = torch.zeros(1, 10)
    blocked_repeats(logits, [[7, 1, 7, 2, 7]], 2)
    assert torch.isinf(logits[0]).nonzero().flatten().tolist() == [1, 2]


def test_batches_and_order_do_not_change_greedy_replies(tiny_policy):
    path, model, tokenizer = tiny_policy
    loaded = dict(model=model, tokenizer=tokenizer)
    whole = generate_replies(path, PROMPTS, DecodeSettings(max_new_tokens=8, batch_size=3, seed=0), **loaded)
    single = generate_replies(path, PROMPTS, DecodeSettings(max_new_tokens=8, batch_size=1, seed=0), **loaded)
    assert [r.text for r in whole] == [r.text for r in single]


def test_sampled_replies_repeat_with_the_seed_and_change_with_another(tiny_policy):
    path, model, tokenizer = tiny_policy
    loaded = dict(model=model, tokenizer=tokenizer)

    def sampled(seed: int):
        return DecodeSettings(max_new_tokens=8, batch_size=2, seed=seed, do_sample=True)

    first = generate_replies(path, PROMPTS, sampled(3), **loaded)
    assert first == generate_replies(path, PROMPTS, sampled(3), **loaded)
    assert first != generate_replies(path, PROMPTS, sampled(4), **loaded)


def test_the_sampler_draws_softmax_frequencies_and_never_a_zero_probability_token():
    logits = torch.tensor([[2.0, 1.0, float("-inf"), 0.0, -1.0, 0.5]]).expand(4000, -1)
    generator = torch.Generator().manual_seed(0)
    for temperature in (1.0, 0.5):
        drawn = sample_tokens(logits, temperature, generator)
        counts = torch.bincount(drawn, minlength=6)
        assert counts[2] == 0
        probs = torch.softmax(logits[0].double() / temperature, -1)
        kept = probs > 0
        assert chisquare(counts[kept].numpy(), (probs[kept] * len(drawn)).numpy()).pvalue > 0.001


def test_the_sampler_is_not_biased_towards_the_first_tokens():
    """A sampler that always picked the argmax, or read the CDF from the wrong end, fails this."""
    logits = torch.zeros((20000, 4))
    drawn = sample_tokens(logits, 1.0, torch.Generator().manual_seed(1))
    counts = torch.bincount(drawn, minlength=4).numpy()
    assert chisquare(counts).pvalue > 0.001 and counts.min() > 4500


def test_the_policy_under_test_answers_each_prompt_differently(tiny_policy):
    _, model, tokenizer = tiny_policy
    replies = generate_ids(model, tokenizer, PROMPTS, DecodeSettings(max_new_tokens=6, batch_size=3, seed=0), stops=[])
    assert len({tuple(r) for r in replies}) == len(PROMPTS)


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_the_policy_loads_in_the_precision_asked_for(tiny_policy, precision, dtype):
    model, _ = load_policy(tiny_policy[0], precision)
    assert model.dtype == dtype and not model.training


def test_decoding_threads_are_the_idle_cores_and_come_back_after():
    from components.common import decoding

    assert decoding.cores_left(2, others_cpu_seconds=0.05, elapsed=0.25) == 2  # a quiet machine keeps its cores
    assert decoding.cores_left(2, others_cpu_seconds=0.25, elapsed=0.25) == 1  # another process holds one core
    assert decoding.cores_left(2, others_cpu_seconds=1.0, elapsed=0.25) == 1  # at least one, however loaded
    assert 1 <= decoding.idle_cores(0.05) <= len(decoding.os.sched_getaffinity(0))
    before = torch.get_num_threads()
    with decoding.threads(1) as inside:
        assert inside == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_greedy_replies_of_gemma_are_generates_own(gemma_dir, precision):
    """The cpu profile's policy (sliding-window layers, 262k-token head) in each precision, stopping at end of turn."""
    model, tokenizer = load_policy(gemma_dir, precision)
    stops = stop_token_ids(tokenizer, model.generation_config)
    ours = generate_ids(model, tokenizer, PROMPTS, DecodeSettings(max_new_tokens=10, batch_size=3, seed=0), stops=stops)
    assert ours == _generate(model, tokenizer, PROMPTS, stops, 10)


def test_the_thread_count_does_not_change_the_tokens(tiny_policy, monkeypatch):
    from components.common import decoding

    _, model, tokenizer = tiny_policy
    rows, settings = [], DecodeSettings(max_new_tokens=8, batch_size=3, seed=0)
    for count in (1, 2):
        monkeypatch.setattr(decoding, "idle_cores", lambda n=count: n)
        rows.append(generate_ids(model, tokenizer, PROMPTS, settings, stops=[]))
    assert rows[0] == rows[1]


def test_this_process_own_work_leaves_its_cores_idle():
    """Busy threads of this very process (a pipeline's previous step) do not count as other work."""
    import threading
    import time

    from components.common import decoding

    stop = time.monotonic() + 1.0

    def spin():
        while time.monotonic() < stop:
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    own_before, busy_before = decoding._own_seconds(), decoding._busy_seconds()
    time.sleep(0.5)
    own, busy = decoding._own_seconds() - own_before, decoding._busy_seconds() - busy_before
    spinner.join()
    assert own > 0.3  # the spinning thread's time is this process's
    assert busy >= own - 0.05  # and part of the machine's busy time, which idle_cores subtracts it from
