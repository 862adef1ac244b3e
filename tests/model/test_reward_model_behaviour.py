"""Behavioural checks of a real reward model (MiniLM, cpu profile) trained on the sample pairs."""

import pytest

from components.data.ingest import ingest
from components.reward_models.train import train_reward_models
from components.scorers.reward_model import RewardModelScorer
from paretoflow.config import load_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def empathy_rm(tmp_path_factory):
    root = tmp_path_factory.mktemp("rm")
    from tests.conftest import REPO

    params = load_params(
        REPO / "params.yaml",
        [
            f"data.sources=[{{name: pairs, uri: {REPO}/data/sample/pairs.jsonl}}]",
            "objectives=[{name: empathy, scorer: reward_model}, {name: concision, scorer: concision}]",
            "grpo.weights=[{empathy: 1, concision: 0}]",
            f"cache_dir={root / 'cache'}",
        ],
    )
    ingest(params, root / "data")
    metrics = train_reward_models(params, root / "data", root / "rm")
    return metrics["empathy"], RewardModelScorer(root / "rm" / "empathy")


def test_heldout_accuracy_clearly_beats_chance(empathy_rm):
    metrics, _ = empathy_rm
    assert metrics["heldout_pairs"] >= 10
    assert metrics["heldout_accuracy"] >= 0.7


def test_direction_validating_beats_dismissive_on_new_text(empathy_rm):
    _, scorer = empathy_rm
    cases = [
        (
            "My dog died this morning and I can't stop crying.",
            "I'm so sorry. Losing a companion like that hurts deeply; it makes sense that you're crying.",
            "It was just a dog, you can get another one.",
        ),
        (
            "I didn't get the job I really wanted.",
            "That's a painful disappointment, especially after hoping so much. How are you holding up?",
            "Whatever, jobs are all the same anyway.",
        ),
    ]
    prompts = [[{"role": "user", "content": c[0]}] for c in cases]
    warm = scorer.raw(prompts, [c[1] for c in cases])
    cold = scorer.raw(prompts, [c[2] for c in cases])
    assert all(w > c for w, c in zip(warm, cold))


def test_invariance_to_the_persons_name(empathy_rm):
    _, scorer = empathy_rm
    reply = "That sounds really hard, and it's understandable to feel overwhelmed."
    a, b = scorer.raw(
        [[{"role": "user", "content": f"{n} here. I feel overwhelmed at work."}] for n in ("Sam", "Priya")],
        [reply, reply],
    )
    assert abs(a - b) < 0.5
