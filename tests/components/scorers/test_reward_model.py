"""Reward-model scores shaped against reference statistics: PAR, normalised, and the error without references."""

import pytest


class FixedRewards:
    """A stand-in reward model whose raw reward is the reply's length in words."""

    def raw(self, prompts, replies):
        return [float(len(r.split())) for r in replies]


def test_par_is_bounded_centred_on_the_references_and_monotone():
    from components.scorers.reward_model import reference_statistics, transformed
    from paretoflow.schema import RewardOutput

    reference = reference_statistics([1.0, 2.0, 3.0, 4.0, 5.0], size=5)
    par = transformed(FixedRewards(), RewardOutput(transform="par"), reference)
    scores = par(["p"] * 3, ["a", "a b c", "a b c d e f g h i j k"])
    assert all(0 < s < 1 for s in scores) and scores == sorted(scores)
    assert scores[1] == pytest.approx(0.5)


def test_normalised_uses_reference_mean_and_spread():
    from components.scorers.reward_model import reference_statistics, transformed
    from paretoflow.schema import RewardOutput

    reference = reference_statistics([10.0, 20.0], size=2)
    score = transformed(FixedRewards(), RewardOutput(transform="normalised"), reference)
    assert score(["p"], [" ".join(["w"] * 15)]) == [pytest.approx(0.5)]


def test_shaping_without_reference_statistics_says_how_to_get_them():
    from components.scorers.reward_model import transformed
    from paretoflow.schema import RewardOutput

    with pytest.raises(FileNotFoundError, match="retrain"):
        transformed(FixedRewards(), RewardOutput(transform="par"), None)
