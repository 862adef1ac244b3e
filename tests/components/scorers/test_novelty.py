"""Cross-turn novelty: MINT's tactic KL, and the scorer on the real MiniLM encoder (and the tiny one via params)."""

from __future__ import annotations

import numpy as np
import pytest

from components.scorers.novelty import KL_CAP, MAX_TOKENS, NoveltyScorer, previous_assistant_turn, tactic_kl
from paretoflow.config import load_params
from paretoflow.schema import Objective
from tests.conftest import REPO

DIALOGUE = [
    {"role": "user", "content": "I failed my driving test for the third time."},
    {"role": "assistant", "content": "That sounds really frustrating. How are you feeling about it right now?"},
    {"role": "user", "content": "Honestly just embarrassed. Everyone else passed first time."},
]


def test_tactic_kl_is_minted_from_smoothed_counts():
    same = np.array([2, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    assert tactic_kl(same, same) == pytest.approx(0.0)
    shifted = np.roll(same, 5)
    assert 0 < tactic_kl(shifted, same) <= KL_CAP
    assert tactic_kl(np.zeros(10), same) == 0.0  # no tactics in the reply: nothing to compare
    assert tactic_kl(np.array([50.0] + [0] * 9), np.array([0.0] * 9 + [50])) == KL_CAP


def test_previous_assistant_turn():
    assert previous_assistant_turn(DIALOGUE) == DIALOGUE[1]["content"]
    assert previous_assistant_turn(DIALOGUE[:1]) is None and previous_assistant_turn("plain text") is None


@pytest.fixture(scope="module")
def minilm():
    from components.common.encoder import load_encoder
    from components.common.model_store import encoder_dir
    from paretoflow.schema import PackagedModel

    return NoveltyScorer(load_encoder(encoder_dir(PackagedModel(kind="package"), ".cache"), MAX_TOKENS))


def test_repeating_the_previous_turn_scores_lowest(minilm):
    replies = [
        DIALOGUE[1]["content"],
        "That sounds so frustrating. How are you feeling about it now?",
        "Plenty of good drivers needed several attempts. You could book a few extra lessons before the next one.",
        "",
    ]
    copy, paraphrase, new_tactic, empty = minilm([DIALOGUE] * 4, replies)
    assert copy < 0.05 and empty == 0.0
    assert copy < paraphrase < new_tactic <= 1.0
    assert minilm([DIALOGUE[:1]], ["Anything at all."]) == [1.0]  # a first turn has nothing to repeat


def test_novelty_objective_from_params_uses_the_profile_encoder(model_cache):
    from components.scorers.objectives import reward_functions

    params = load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}"])
    score = reward_functions(params, "unused", [Objective(name="novelty", scorer="novelty")])[0]
    assert score.__name__ == "novelty"
    values = score([DIALOGUE] * 2, [DIALOGUE[1]["content"], "Something else entirely."])
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values) and values[0] < values[1]
