"""Behaviour of trained policies on the tiny profile: GRPO toward concision makes replies shorter than the base
policy's on held-out prompts, and the specialists end up on the Pareto front.

The tiny policy is a random 1-layer model, so it can only learn what a few steps can teach: its replies are
sampled subword soup of about 4-5 words in 16 tokens. With a 2-word concision target, 8 completions per
prompt and a large learning rate (5e-2), 12 steps halve the held-out word count; measured on this machine
for seeds 42, 7 and 123: base 4.2 / 4.9 / 4.6 words, concision specialist 2.3 / 2.2 / 2.5. It gets there by
gaming the word count (see the scorer-gap test), which is what the independent scorer is for.
"""

from __future__ import annotations

import pandas as pd
import pytest

from components.data.ingest import ingest
from components.evaluation.evaluate import evaluate_policies
from components.evaluation.front_table import BASE
from components.grpo.train import train_policies
from components.reward_models.train import train_reward_models
from paretoflow.config import load_params
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_cache):
    """An empathy specialist and a concision specialist trained from the base, then evaluated side by side."""
    root = tmp_path_factory.mktemp("behaviour")
    sample = REPO / "data/sample"
    params = load_params(
        REPO / "params.yaml",
        [
            "profile=tiny",
            f"cache_dir={model_cache}",
            f"tracking.uri=sqlite:///{root}/mlflow.db",  # evaluate looks for a champion there (none)
            f"data.sources=[{{name: pairs, uri: {sample}/pairs.jsonl}}, {{name: prompts, uri: {sample}/prompts.jsonl}}]",  # noqa: E501
            "objectives=[{name: empathy, scorer: reward_model}, {name: concision, scorer: concision, target_words: 2}]",
            "grpo.weights=[{empathy: 0, concision: 1}, {empathy: 1, concision: 0}]",
            "grpo.max_steps=12",
            "grpo.learning_rate=5.0e-2",
            "grpo.num_generations=8",
            "grpo.max_completion_length=16",
            "evaluate.max_new_tokens=16",
            "evaluate.max_prompts=24",  # every held-out prompt of the sample data (12)
            "evaluate.independent={concision: 'brevity:chars=12'}",
            "sft.enabled=false",  # the random tiny model: the word-count trick needs a policy that never stops
            "sft.context_turns=[]",  # its own data has no sample-pairs source
        ],
    )
    ingest(params, root / "data")
    train_reward_models(params, root / "data", root / "rm")
    train_policies(params, root / "data", root / "rm", root / "policies")
    evaluate_policies(params, root / "data", root / "rm", root / "policies", root / "evaluation")
    scores = pd.read_parquet(root / "evaluation/scores.parquet")
    scores["words"] = scores["completion"].map(lambda text: len(text.split()))
    front = pd.read_json(root / "evaluation/front.json")
    return scores, front.set_index("policy"), params


def test_a_policy_trained_toward_concision_answers_shorter_than_the_base(evaluated):
    scores, front, _ = evaluated
    words = scores.groupby("policy")["words"].mean()
    answered = scores.groupby("policy")["prompt_id"].apply(frozenset)
    assert answered.nunique() == 1 and len(answered[BASE]) >= 10, "all answered the same held-out prompts"
    assert words["policy-0"] < 0.75 * words[BASE], words.to_dict()
    # the training scorer's view (the front's `concision` column is its evaluator, the brevity scorer)
    assert front.loc["policy-0", "concision_training"] > front.loc[BASE, "concision_training"] + 0.15


def test_the_independent_brevity_scorer_exposes_the_word_count_trick(evaluated):
    """The tiny policy does not learn to stop early; it drops the spaces (one subword glued to the next), which
    cuts words but not characters. The character-based brevity scorer is not fooled: the training scorer's
    gain over the base exceeds the independent scorer's by a wide margin (hacking/concision/scorer_gap)."""
    scores, front, _ = evaluated
    chars = scores.assign(chars=scores["completion"].str.len()).groupby("policy")["chars"].mean()
    assert chars["policy-0"] > 0.8 * chars[BASE], "characters did not halve with the words"
    assert front.loc["policy-0", "concision_scorer_gap"] > 0.15
    assert front.loc[BASE, "concision_scorer_gap"] == 0.0


def test_the_front_contains_the_specialists(evaluated):
    _, front, params = evaluated
    trained = front[~front["is_base"]]
    assert trained["concision"].idxmax() == "policy-0" and trained.loc["policy-0", "on_front"]
    judged = [o for o in params.objective_names if trained[o].notna().any()]  # unjudged: no evaluator counted
    assert "concision" in judged
    for objective in judged:
        best = trained[trained[objective] == trained[objective].max()]
        assert best["on_front"].any(), f"no policy with the best {objective} is on the front"
