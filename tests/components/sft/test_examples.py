"""Reference replies -> SFT examples: mixing, caps, dedup, long replies and long dialogues, counts that reconcile."""

import pandas as pd
import pytest

from components.common.messages import latest_turns
from components.sft.examples import _quotas, reference_examples
from paretoflow.schema import Sft


class WordTokenizer:
    """One token per word; the template adds one token per turn and one for the generation prompt."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True, return_dict=False):
        words = [w for m in messages for w in ["<turn>", *m["content"].split()]]
        ids = words + (["<model>"] if add_generation_prompt else [])
        return {"input_ids": ids} if return_dict else ids


def _pairs(rows):
    return pd.DataFrame(rows, columns=["prompt", "chosen", "source", "split"])


def _row(source, reply, split="train", prompt="hi there"):
    return ([{"role": "user", "content": prompt}], reply, source, split)


def test_sources_mix_by_weight_and_counts_reconcile():
    rows = [_row("esconv", f"reply {i}", prompt=f"p{i}") for i in range(10)]
    rows += [_row("hh", f"answer {i}", prompt=f"q{i}") for i in range(10)]
    rows += [_row("hh", "answer 0", prompt="q0")]  # the same reply chosen for a second objective
    rows += [_row("hh", "far too long " * 20, prompt="q-long")]
    rows += [_row("esconv", "held out", split="test")]
    settings = Sft(sources={"esconv": 3, "hh": 1}, max_reply_tokens=10, max_prompt_tokens=20)
    got = reference_examples(_pairs(rows), "train", settings, WordTokenizer(), limit=8, seed=0)
    by_source = pd.Series([r["source"] for r in got.rows]).value_counts().to_dict()
    assert by_source == {"esconv": 6, "hh": 2}
    assert got.counts["hh"] == {
        **{"pairs": 12, "context_turns": 0, "duplicate": 1, "too_long": 1, "no_room": 0, "used": 2, "unused": 8}
    }
    for tally in got.counts.values():
        dropped = tally["duplicate"] + tally["too_long"] + tally["no_room"]
        assert tally["pairs"] + tally["context_turns"] == dropped + tally["used"] + tally["unused"]
    assert all(r["completion"] == [{"role": "assistant", "content": r["completion"][0]["content"]}] for r in got.rows)


def test_a_small_source_leaves_its_share_to_the_others():
    assert _quotas({"a": 2, "b": 100}, {"a": 1, "b": 1}, 10) == {"a": 2, "b": 8}
    assert _quotas({"a": 5, "b": 5}, {"a": 1, "b": 0}, 10) == {"a": 5, "b": 0}


def test_the_same_seed_picks_the_same_examples():
    rows = [_row("s", f"reply {i}", prompt=f"p{i}") for i in range(30)]
    settings = Sft(max_reply_tokens=10)
    first = reference_examples(_pairs(rows), "train", settings, WordTokenizer(), 5, seed=1).rows
    assert first == reference_examples(_pairs(rows), "train", settings, WordTokenizer(), 5, seed=1).rows
    assert first != reference_examples(_pairs(rows), "train", settings, WordTokenizer(), 5, seed=2).rows


def test_a_long_dialogue_keeps_its_latest_turns_starting_with_the_seeker():
    dialogue = [
        {"role": "user", "content": "one two three four five"},
        {"role": "assistant", "content": "six seven eight"},
        {"role": "user", "content": "nine ten"},
    ]
    assert latest_turns(dialogue, WordTokenizer(), 100) == dialogue
    assert latest_turns(dialogue, WordTokenizer(), 6) == dialogue[2:]
    assert latest_turns(dialogue, WordTokenizer(), 2) is None


def test_context_turns_of_listed_sources_are_reference_replies_too():
    dialogue = [
        {"role": "user", "content": "I lost my job"},
        {"role": "assistant", "content": "that sounds hard"},
        {"role": "user", "content": "it is"},
        {"role": "assistant", "content": "I am here with you"},
        {"role": "user", "content": "thanks"},
    ]
    rows = [(dialogue, "take your time", "esconv", "train"), (dialogue[:3], "that sounds hard", "hh", "train")]
    rows += [(dialogue, "sure", "hh", "train")]
    settings = Sft(context_turns=["esconv"], max_reply_tokens=10, max_prompt_tokens=100)
    got = reference_examples(_pairs(rows), "train", settings, WordTokenizer(), limit=10, seed=0)
    esconv = {(len(r["prompt"]), r["completion"][0]["content"]) for r in got.rows if r["source"] == "esconv"}
    assert esconv == {(5, "take your time"), (1, "that sounds hard"), (3, "I am here with you")}
    assert got.counts["esconv"]["context_turns"] == 2
    assert got.counts["hh"]["context_turns"] == 0  # not listed: its dialogues' assistant turns stay context


def test_an_unknown_source_is_named():
    with pytest.raises(
        ValueError, match=r"sft.sources or sft.context_turns names \['typo'\].*sources with pairs: \['s'\]"
    ):
        reference_examples(_pairs([_row("s", "a reply")]), "train", Sft(sources={"typo": 1}), WordTokenizer(), 4, 0)
