"""Coherence of held-out replies: script and language, role markers and the seeker's voice, per-policy shares,
and the held-out perplexity of reference replies under a tiny model (batched equals one at a time)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from components.evaluation.coherence import (
    allowed_scripts,
    as_seeker,
    encode,
    in_script,
    judge_replies,
    policy_indicators,
    reference_nll,
    role_marker,
)
from tests.conftest import REPO

ENGLISH = [{"role": "user", "content": "My manager told us there might be layoffs next month and I can't sleep."}]


def _judge(reply: str, prompt=ENGLISH) -> dict[str, bool]:
    return judge_replies([prompt], [reply])[0]


@pytest.mark.parametrize(
    ("reply", "scripted", "in_language"),
    [
        ("That sounds exhausting. What has been the hardest part of waiting?", True, True),
        ("Thanks!", True, True),  # too short to identify: the script decides
        ("Multiply by 1.5: use 450 g pasta and 3 tins of tomatoes.", True, True),  # English, though not top-ranked
        ("What worries you most about telling them? 私は日本語を話します", False, False),  # a stray other script
        ("That sounds hard 😢 — 2 weeks is a long time.", True, True),  # emoji, digits and dashes are neutral
        ("Es tut mir leid, das zu hören. Wie geht es dir damit?", True, False),  # Latin script, German language
        ("Мне очень жаль это слышать.", False, False),
        ("", False, False),  # an empty reply is written in no language
        ("... !!! 123", False, False),
    ],
)
def test_replies_in_the_prompts_script_and_language(reply, scripted, in_language):
    judged = _judge(reply)
    assert (judged["in_script"], judged["in_language"]) == (scripted, in_language)


def test_scripts_follow_the_prompt_and_its_writing_system():
    japanese = [{"role": "user", "content": "最近、仕事のことでとても不安です。"}]
    assert allowed_scripts("最近、仕事のことでとても不安です。") >= {"HAN", "HIRAGANA", "KATAKANA"}
    assert _judge("それは大変でしたね。何が一番つらいですか？", japanese)["in_language"]
    assert not _judge("That sounds hard.", japanese)["in_script"]
    russian = [{"role": "user", "content": "Я очень устал от работы и не могу спать по ночам."}]
    assert _judge("Мне очень жаль это слышать. Что мешает вам спать?", russian)["in_language"]
    assert not _judge("Мне очень жаль, that sounds hard.", russian)["in_script"]
    assert in_script("Ｈｅｌｌｏ there", {"LATIN"}), "full-width Latin is Latin"
    assert allowed_scripts("123 ...") is None and in_script("anything", None)


def test_the_seekers_turns_set_the_language_not_the_supporters():
    prompt = [
        {"role": "assistant", "content": "Hola, ¿en qué puedo ayudarte hoy? Cuéntame lo que te preocupa."},
        {"role": "user", "content": "I have been feeling really low since I moved to a new city for work."},
    ]
    assert _judge("Moving somewhere new can be so lonely. What did you leave behind?", prompt)["in_language"]
    assert not _judge("Mudarse a una ciudad nueva puede ser muy solitario. ¿Qué dejaste atrás?", prompt)["in_language"]


@pytest.mark.parametrize(
    ("reply", "marker", "seeker"),
    [
        ("That sounds really hard. What has helped you before?", False, False),
        ("I'm so sorry you're going through this. I'm here to listen.", False, False),
        ("I can imagine how draining that is; I hope the news comes soon.", False, False),
        ("I'm not sure I want to hear that. I'm not sure I want to hear that.", False, True),  # the seeker's voice
        ("My husband left and I don't know what to do with myself.", False, True),
        ("User: I think I just need to sleep.", True, True),
        ("**Human:** thanks, that helps", True, True),
        ("[Patient]: ok", True, True),
        ("That sounds hard. Seeker: yes it is", True, True),  # a label after a sentence
        ("I hear you.\nSupporter: How long has this been going on?", True, True),  # what came before was the seeker's
        ("Assistant: That sounds hard, how are you holding up?", True, False),  # labelled, but its own turn
        ("That sounds hard.<start_of_turn>user\nIt is", True, True),
        ("model\nThat sounds hard for you.", True, False),  # a template header whose special tokens were dropped
        ("Many clients: they feel this way.", False, False),  # a role word inside a sentence is no label
        ("A role model: someone you trust could help.", False, False),
    ],
)
def test_role_markers_and_replies_that_speak_as_the_seeker(reply, marker, seeker):
    assert (role_marker(reply), as_seeker(reply)) == (marker, seeker)


def test_the_seeker_rule_on_the_sample_dialogues():
    """The sample data's supporter turns and chosen replies are almost never taken for the seeker, its seeker turns
    mostly are; every chosen reply is in its prompt's language and none carries a role marker."""
    pairs = [json.loads(line) for line in (REPO / "data/sample/pairs.jsonl").read_text().splitlines()]
    supporter = [m["content"] for p in pairs for m in p["prompt"] if m["role"] == "assistant"]
    supporter += [p["chosen"] for p in pairs]
    seeker = [m["content"] for p in pairs for m in p["prompt"] if m["role"] == "user"]
    assert sum(map(as_seeker, supporter)) / len(supporter) < 0.02
    assert sum(map(as_seeker, seeker)) / len(seeker) > 0.5
    judged = judge_replies([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    assert all(j["in_language"] for j in judged) and not any(j["role_marker"] for j in judged)


def test_policy_indicators_are_shares_median_and_perplexity():
    replies = pd.DataFrame(
        {
            "completion": ["one two three", "one", "one two three four five", "a b"],
            "ended": [True, True, False, True],
            "in_script": [True, True, True, False],
            "in_language": [True, False, True, False],
            "role_marker": [False, False, True, False],
            "as_seeker": [False, False, True, True],
        }
    )
    row = policy_indicators(replies, perplexity=12.5)
    assert row == {
        "in_script": 0.75,
        "in_language": 0.5,
        "role_marker": 0.25,
        "as_seeker": 0.5,
        "end_of_turn_rate": 0.75,
        "median_words": 2.5,
        "perplexity": 12.5,
    }
    bare = policy_indicators(replies[["completion", "ended"]])
    assert bare["in_language"] is None and bare["perplexity"] is None and bare["median_words"] == 2.5


@pytest.fixture(scope="module")
def tiny_policy(model_cache):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from components.common.model_store import policy_dir
    from paretoflow.schema import TinyModel

    path = policy_dir(TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2), model_cache)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _examples():
    dialogues = [
        ("I lost my job today.", "I'm so sorry. How are you holding up?"),
        ("My sister and I had a big fight and she won't talk to me now, it has been a week.", "That sounds painful."),
        ("I can't sleep.", "Sleepless nights wear you down. What keeps you up, the worry or something else?"),
    ]
    return [
        {"prompt": [{"role": "user", "content": p}], "completion": [{"role": "assistant", "content": r}]}
        for p, r in dialogues
    ]


def test_the_completion_is_the_reply_and_its_end_of_turn(tiny_policy):
    model, tokenizer = tiny_policy
    from components.common.replies import stop_token_ids

    stops = stop_token_ids(tokenizer, model.generation_config)
    example = _examples()[0]
    ids, n = encode(tokenizer, example["prompt"], "I'm so sorry. How are you holding up?", stops)
    completion = ids[-n:]
    assert tokenizer.convert_ids_to_tokens(completion[-1]) == "<end_of_turn>"
    assert tokenizer.decode(completion[:-1]).strip() == "I'm so sorry. How are you holding up?"
    head = tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, tokenize=False)
    assert ids[:-n] == tokenizer(head, add_special_tokens=False)["input_ids"]


def test_reference_perplexity_batched_equals_one_at_a_time(tiny_policy):
    """Left padding with positions from the mask and only the completion's logits kept give the same mean token
    NLL as an unpadded forward pass per example."""
    import torch

    from components.common.replies import stop_token_ids

    model, tokenizer = tiny_policy
    examples = _examples()
    stops = stop_token_ids(tokenizer, model.generation_config)
    total, count = 0.0, 0
    for e in examples:
        ids, n = encode(tokenizer, e["prompt"], e["completion"][0]["content"], stops)
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0]
        logprobs = torch.log_softmax(logits[:-1].float(), dim=-1)
        picked = logprobs[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
        total -= float(picked[-n:].sum())
        count += n
    for batch_size in (1, 2, 3):
        got = reference_nll(model, tokenizer, examples, batch_size)
        assert got["tokens"] == count and got["examples"] == 3
        assert got["nll"] == pytest.approx(total / count, rel=1e-4)
        assert got["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-4)
    assert reference_nll(model, tokenizer, [], 2) is None


def test_a_model_that_knows_nothing_has_the_vocabulary_as_perplexity(tiny_policy):
    import copy

    import torch

    model, tokenizer = tiny_policy
    blank = copy.deepcopy(model)
    with torch.no_grad():
        blank.get_output_embeddings().weight.zero_()  # every logit 0: a uniform next-token distribution
    got = reference_nll(blank, tokenizer, _examples(), 2)
    assert got["perplexity"] == pytest.approx(blank.config.vocab_size, rel=1e-4)
