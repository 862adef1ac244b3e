"""The params of reward scales and hypervolume normalisation refuse what cannot work, saying what to change."""

from __future__ import annotations

import pytest

from paretoflow.config import ConfigError, load_params
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("grpo.reward_scale.completions_per_prompt=1", "completions_per_prompt"),
        ("evaluate.normalisation={ideal: {empathy: 0.8}, scale: {empathy: 0.2}}", "an ideal or a scale, not both"),
        ("evaluate.normalisation.scale={concision: 0}", "scale must be positive"),
        ("evaluate.normalisation.ideal={kindness: 0.8}", r"names \['kindness'\], which are not objectives"),
    ],
)
def test_bad_scale_and_normalisation_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_params(REPO / "params.yaml", [override])
