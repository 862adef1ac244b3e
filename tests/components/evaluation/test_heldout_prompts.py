"""Held-out prompts: the first by id, or shared evenly over the sources (pair-only sources by their test pairs)."""

import pandas as pd

from components.data.canonical import prompt_id
from components.evaluation.heldout_prompts import heldout_prompts
from paretoflow.schema import Evaluate


def _messages(text):
    return [{"role": "user", "content": text}]


def _prompts(source, n, split="test"):
    return [
        {
            "id": prompt_id(_messages(f"{source} {i}")),
            "prompt": _messages(f"{source} {i}"),
            "source": source,
            "split": split,
            "meta": {},
        }
        for i in range(n)
    ]


PROMPTS = pd.DataFrame(_prompts("esconv", 30) + _prompts("counselchat", 3) + _prompts("esconv-train", 5, "train"))
PAIRS = pd.DataFrame(
    [{"prompt": _messages(f"hh {i % 6}"), "source": "hh", "split": "test" if i < 12 else "train"} for i in range(20)]
    + [{"prompt": _messages("esconv 0"), "source": "esconv", "split": "test"}]  # a source with prompt rows
)


def test_by_default_the_first_prompts_by_id_of_the_prompts_table():
    chosen = heldout_prompts(PROMPTS, PAIRS, Evaluate(max_prompts=10))
    test = PROMPTS[PROMPTS["split"] == "test"].sort_values("id")
    assert list(chosen["id"]) == list(test["id"][:10])


def test_stratified_shares_evenly_and_a_small_source_gives_all_it_has():
    chosen = heldout_prompts(PROMPTS, PAIRS, Evaluate(max_prompts=12, stratify_sources=True))
    counts = chosen["source"].value_counts().to_dict()
    assert counts == {"counselchat": 3, "esconv": 5, "hh": 4}  # 3 rounds of 3, a 4th of 2, then the first source
    assert chosen["id"].is_unique and list(chosen["id"]) == sorted(chosen["id"])
    assert set(chosen["split"]) == {"test"}
    hh = chosen[chosen["source"] == "hh"]
    assert all(pid == prompt_id(p) for pid, p in zip(hh["id"], hh["prompt"]))  # the pairs' prompts, by their id
    wide = heldout_prompts(PROMPTS, PAIRS, Evaluate(max_prompts=30, stratify_sources=True))
    assert wide["source"].value_counts().to_dict() == {"esconv": 21, "hh": 6, "counselchat": 3}


class _WordTokenizer:
    """One token per word of the templated dialogue: enough to exercise the cut without a real tokenizer."""

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=True, return_dict=True):
        return {"input_ids": " ".join(m["content"] for m in messages).split()}


def test_a_tokenizer_cuts_long_dialogues_and_the_next_prompt_replaces_one_that_cannot_fit():
    long_turn = {"role": "user", "content": "word " * 40}
    dialogue = [{"role": "user", "content": "old " * 30}, {"role": "assistant", "content": "reply"}, *_messages("x")]
    prompts = pd.DataFrame(
        [
            {"id": "a", "prompt": dialogue, "source": "s", "split": "test", "meta": {}},
            {"id": "b", "prompt": [long_turn], "source": "s", "split": "test", "meta": {}},
            {"id": "c", "prompt": _messages("short"), "source": "s", "split": "test", "meta": {}},
            {"id": "d", "prompt": _messages("later"), "source": "s", "split": "test", "meta": {}},
        ]
    )
    chosen = heldout_prompts(prompts, None, Evaluate(max_prompts=2, max_prompt_tokens=16), _WordTokenizer())
    assert list(chosen["id"]) == ["a", "c"]  # b's one turn is longer than 16 words: c takes its place, d is not needed
    assert chosen["prompt"][0] == _messages("x")  # a keeps its latest turns only
    assert heldout_prompts(prompts, None, Evaluate(max_prompts=2))["prompt"][0] == dialogue  # no tokenizer, no cut
