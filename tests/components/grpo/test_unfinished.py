"""An unfinished completion (cut at max_completion_length before its end of turn) never scores above the worst
completion of its prompt's group, on the objectives only, whatever the scorer said (grpo.unfinished)."""

from __future__ import annotations

import numpy as np

from components.grpo.rewards import unfinished_as_worst, worst_in_group
from components.grpo.train import completion_stops
from components.sft.start import start_policy_dir
from tests.components.grpo.scale_inputs import tiny_params

END = 7


def _scorer(values):
    def reward(prompts, completions, **kwargs):
        return list(values)

    return reward


def test_unfinished_completions_take_their_groups_worst_value():
    values = np.array([0.9, 0.2, 0.5, 0.4, np.nan, np.nan, 0.3, np.nan])
    lowered = np.array([True, False, False, True, True, False, True, True])
    out = worst_in_group(values, lowered, 2)
    assert np.allclose(out[:4], [0.2, 0.2, 0.5, 0.4])  # the worst of its group; a lowered minimum stays itself
    assert np.isnan(out[4:6]).all()  # a group with no value keeps none
    assert out[6] == 0.3 and out[7] == 0.3  # an unscored unfinished completion gets its group's worst too


def test_the_objectives_rewards_read_the_completion_ids_and_audit_rewards_stay():
    ids = [[3, 4, END], [3, 4, 5], [END], [5, 6]]  # finished, cut, finished, cut
    scores = [0.1, 0.9, 0.6, 0.8]
    empathy, novelty = unfinished_as_worst(
        [_scorer(scores), _scorer(scores)], ["empathy", "novelty"], ["empathy"], {END}, 2
    )
    kwargs = {"completion_ids": ids, "log_metric": None}
    assert empathy([""] * 4, [""] * 4, **kwargs) == [0.1, 0.1, 0.6, 0.6]
    assert novelty([""] * 4, [""] * 4, **kwargs) == scores
    assert empathy.__name__ == "empathy"  # TRL logs rewards by the function's name


def test_a_completion_ends_where_trl_says_it_does(model_cache):
    from transformers import AutoTokenizer

    params = tiny_params(model_cache)
    policy = start_policy_dir(params)
    tokenizer = AutoTokenizer.from_pretrained(policy)
    stops = completion_stops(policy)
    assert {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None} <= stops
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in stops
