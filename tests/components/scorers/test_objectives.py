"""Which objectives are length-based: one notion for every proof that weights steer something other than length."""

from components.scorers.objectives import length_based
from paretoflow.config import load_params


def test_the_recipe_objectives_split_into_length_and_the_rest():
    params = load_params("recipes/support-cpu.yaml")
    assert [o.name for o in params.objectives if length_based(o)] == ["concision"]
    assert [o.name for o in params.objectives if not length_based(o)] == ["empathy", "helpfulness", "harmlessness"]


def test_objectives_read_from_a_params_file_as_dicts_agree():
    assert length_based({"name": "short", "scorer": "concision", "target_words": 5})
    assert not length_based({"name": "empathy", "scorer": "reward_model"})
    assert not length_based({"name": "emotion", "scorer": "emotion"})
