"""reward_model.cut_reply_pairs: what the added pairs are, and that they stop a head paying for a reply's start."""

import pandas as pd
import pytest

from components.common.model_store import encoder_dir
from components.reward_models.cut_replies import MIN_REPLY_WORDS, MIN_WORDS, with_cut_reply_pairs
from components.reward_models.embedding_head import EmbeddingHeadScorer, train_head
from components.reward_models.training import train_model
from tests.components.reward_models.conftest import tiny_params

WORDS = [
    "I",
    "hear",
    "how",
    "heavy",
    "this",
    "is",
    "and",
    "I",
    "am",
    "here",
    "with",
    "you",
    "while",
    "we",
    "work",
    "out",
    "what",
    "could",
    "help",
    "next",
]


def _pairs(n: int, chosen_words: int, rejected_words: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "prompt": [[{"role": "user", "content": f"problem {i} keeps me awake at night"}] for i in range(n)],
            "chosen": [" ".join(WORDS[(i % 3) :][:chosen_words]) for i in range(n)],
            "rejected": [" ".join((WORDS * 3)[(i % 5) :][:rejected_words]) for i in range(n)],
            "margin": [1.0] * n,
            "meta": [{"margin": 1.0}] * n,
        }
    )


def test_a_share_of_long_chosen_replies_adds_pairs_against_their_own_start():
    train = pd.concat([_pairs(20, 12, 4), _pairs(10, MIN_REPLY_WORDS - 1, 4).assign(id=lambda d: d["id"] + "s")])
    out, added = with_cut_reply_pairs(train.reset_index(drop=True), 0.5, seed=3)
    assert added == 10 and len(out) == len(train) + added  # half of the 20 eligible; the short ones never
    new = out.iloc[len(train) :]
    assert all(i.endswith("#cut") for i in new["id"])
    for _, row in new.iterrows():
        source = train.set_index("id").loc[row["id"].removesuffix("#cut")]
        assert row["chosen"] == source["chosen"] and row["prompt"] == source["prompt"]
        cut = row["rejected"].split()
        assert MIN_WORDS <= len(cut) <= len(row["chosen"].split()) // 2
        assert row["chosen"].split()[: len(cut)] == cut
        assert row["margin"] == 0.0 and "margin" not in row["meta"]
    again, _ = with_cut_reply_pairs(train.reset_index(drop=True), 0.5, seed=3)
    pd.testing.assert_frame_equal(out, again)


def test_no_share_adds_nothing():
    train = _pairs(5, 12, 4)
    out, added = with_cut_reply_pairs(train, 0.0, seed=0)
    assert added == 0 and out is train


@pytest.fixture(scope="module")
def tiny_encoder(model_cache):
    return encoder_dir(tiny_params(model_cache).reward_model.backbone, model_cache)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_cut_pairs_turn_a_head_that_prefers_short_replies_against_stubs(tiny_encoder, tmp_path, share):
    """Chosen replies shorter than rejected ones (as in HH-RLHF harmless): alone, the head pays for brevity and a
    reply's first words beat it; with cut-reply pairs the whole reply wins, and the human pairs still rank."""
    train, _ = with_cut_reply_pairs(_pairs(60, 10, 30), share, seed=0)
    train_head(tiny_encoder, train, tmp_path / "head", seed=0, max_length=64)
    scorer = EmbeddingHeadScorer(tmp_path / "head")
    test = _pairs(9, 10, 30)
    prompts = list(test["prompt"])
    whole = scorer.raw(prompts, list(test["chosen"]))
    stubs = scorer.raw(prompts, [" ".join(c.split()[:4]) for c in test["chosen"]])
    longer = scorer.raw(prompts, list(test["rejected"]))
    assert all(w > r for w, r in zip(whole, longer))
    whole_wins = sum(w > s for w, s in zip(whole, stubs))
    assert whole_wins == (len(test) if share else 0)


def test_train_model_counts_the_added_pairs_apart_from_the_human_ones(model_cache, tmp_path):
    params = tiny_params(model_cache, "reward_model.architecture=embedding_head", "reward_model.cut_reply_pairs=0.5")
    train = _pairs(20, 12, 4)
    info = train_model(params, train, train.iloc[:0], tmp_path / "rm")
    assert info["train_pairs"] == 20 and info["cut_reply_pairs"] == 10
