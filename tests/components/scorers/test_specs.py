"""Scorer specs `kind:argument` (evaluate.independent, `paretoflow score`) and the brevity scorer they name."""

from __future__ import annotations

import pytest

from components.scorers.brevity import Brevity, sentences
from components.scorers.specs import scorer_from_spec
from paretoflow.config import load_params
from tests.conftest import REPO


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml", ["profile=tiny"])


def test_brevity_counts_sentences_or_characters_not_words():
    assert sentences("I hear you. That is hard! Want to talk?") == 3
    assert sentences("I hear you. and then") == 2 and sentences("   ") == 0
    by_sentences, by_chars = Brevity("sentences=1"), Brevity("chars=20")
    glued = "Ihearyouthatsoundsreallyhardtobearalone!"  # one "word", 40 characters
    assert by_sentences(None, ["I hear you.", "I hear you. That is hard.", ""]) == [1.0, 0.5, 0.0]
    assert by_chars(None, [glued, "I hear you."]) == [0.5, 1.0]
    for bad in ("words=3", "chars", "chars=0", "sentences=x"):
        with pytest.raises(ValueError, match="sentences=N or chars=N"):
            Brevity(bad)


def test_a_spec_names_its_scorer_which_ranks_and_scores_in_0_1(params):
    scorer = scorer_from_spec("brevity:chars=20", params)
    assert scorer(None, ["I hear you."]) == scorer.raw(None, ["I hear you."]) == [1.0]


def test_an_unknown_or_incomplete_spec_says_what_a_spec_looks_like(params, tmp_path):
    with pytest.raises(ValueError, match=r"scorer 'judge:x' must look like rm:PATH\[#objective\], rubric:offline"):
        scorer_from_spec("judge:x", params)
    with pytest.raises(ValueError, match="rm:PATH or rm:PATH#objective"):
        scorer_from_spec("rm:", params)
    with pytest.raises(FileNotFoundError, match="no reward model at"):
        scorer_from_spec(f"rm:{tmp_path}", params)
    with pytest.raises(ValueError, match="must be one of rubric:openai, rubric:hf, rubric:offline"):
        scorer_from_spec("rubric:gpt#empathy", params)
