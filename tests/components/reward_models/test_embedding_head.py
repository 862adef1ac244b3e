"""reward_model.architecture: embedding_head on the tiny profile: the step trains, evaluates and logs it; the saved
directory is the whole model (scorer, evaluator, MLflow pyfunc agree); what the head can and cannot learn."""

import json

import numpy as np
import pandas as pd
import pytest

from components.common.encoder import Encoder
from components.common.model_store import encoder_dir
from components.evaluation.front_evaluators import choose
from components.reward_models.embedding_head import (
    HEAD_FILE,
    EmbeddingHeadScorer,
    features,
    fit,
    is_embedding_head,
    train_head,
)
from components.reward_models.train import train_reward_models
from components.scorers.reward_model import head_scorer
from components.scorers.specs import scorer_from_spec
from paretoflow import tracking
from paretoflow.config import ConfigError
from tests.components.reward_models.conftest import ONE_RM, tiny_params

HEAD = ["reward_model.architecture=embedding_head"]


def _pairs(n: int, chosen, rejected, prompt=lambda i: f"my problem number {i} keeps me awake") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": [[{"role": "user", "content": prompt(i)}] for i in range(n)],
            "chosen": [chosen(i) for i in range(n)],
            "rejected": [rejected(i) for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def tiny_encoder(model_cache):
    return encoder_dir(tiny_params(model_cache).reward_model.backbone, model_cache)


@pytest.mark.slow
def test_the_step_trains_scores_and_logs_it_and_the_logged_model_scores_like_the_saved_one(
    sample_data, model_cache, tmp_path, monkeypatch
):
    import mlflow

    same_backbone = "reward_model.evaluator.backbone=null"  # as in the cpu profile and the real-data recipe
    params = tiny_params(model_cache, *ONE_RM, *HEAD, same_backbone, f"tracking.uri=sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    tracking.setup(params)
    with mlflow.start_run():
        result = train_reward_models(params, sample_data, tmp_path / "rm")["empathy"]
    assert is_embedding_head(tmp_path / "rm/empathy") and is_embedding_head(tmp_path / "evaluators/empathy")
    weights = "empathy/encoder/model.safetensors"  # the frozen encoder, stored once for model and evaluator
    assert (tmp_path / "rm" / weights).samefile(tmp_path / "evaluators" / weights)
    assert 0 <= result["heldout_accuracy"] <= 1 and result["evaluator_train_pairs"] > 0
    assert result["l2_inverse_strength"] > 0 and 0 <= result["cross_validated_accuracy"] <= 1
    prompts = [[{"role": "user", "content": "I lost my job."}]] * 2
    replies = ["That must be a shock; how are you coping?", "ok"]
    saved = head_scorer(tmp_path / "rm/empathy", "empathy", {}).raw(prompts, replies)
    model = mlflow.pyfunc.load_model(result["model_uri"])
    logged = model.predict(pd.DataFrame({"prompt": [json.dumps(p) for p in prompts], "reply": replies}))
    assert list(logged) == pytest.approx(saved, abs=1e-6)
    evaluator = choose(params.objectives[0], params, tmp_path / "rm")  # evaluate finds it and scores with it
    assert evaluator.spec == f"rm:{(tmp_path / 'evaluators/empathy').as_posix()}"
    scores = scorer_from_spec(evaluator.spec, params)(prompts, replies)
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)


def test_a_stub_scores_below_an_answer(tiny_encoder, tmp_path):
    train = _pairs(40, lambda i: f"that sounds hard, tell me more about problem {i} and how it feels", lambda i: "ok")
    info = train_head(tiny_encoder, train, tmp_path / "head", seed=0, max_length=64)
    assert info["train_pairs"] == 40 and info["cross_validated_accuracy"] > 0.9
    scorer = EmbeddingHeadScorer(tmp_path / "head")
    prompts = [[{"role": "user", "content": "my problem number 99 keeps me awake"}]] * 2
    answer, stub = scorer.raw(prompts, ["that sounds hard, tell me more about it and how it feels", "ok"])
    assert answer > stub
    assert all(0 <= s <= 1 for s in scorer(prompts, ["tell me more about it", "ok"]))  # guarded scores in [0, 1]


def test_with_minilm_the_head_learns_the_topic(tmp_path):
    """Rejected replies are as long as chosen ones but answer another prompt: only the topic tells them apart."""
    from components.common.model_store import encoder_dir
    from paretoflow.schema import PackagedModel

    topics = ["my dog died", "I failed the exam", "my sister moved away", "work is too much", "I cannot sleep"]

    def answer(i):
        return f"I am sorry that {topics[i % 5]}; tell me more about it"

    train = _pairs(60, answer, lambda i: answer(i + 1 + i % 3), prompt=lambda i: f"{topics[i % 5]}, day {i}")
    info = train_head(encoder_dir(PackagedModel(kind="package"), "."), train, tmp_path / "head", 0, 64)
    assert info["cross_validated_accuracy"] > 0.9
    scorer = EmbeddingHeadScorer(tmp_path / "head")
    prompt = [{"role": "user", "content": "I failed the exam again"}]
    own, other = scorer.raw([prompt] * 2, [answer(1), answer(3)])
    assert own > other


def test_noise_labels_give_a_head_near_chance_under_cross_validation(tiny_encoder):
    rng = np.random.default_rng(0)
    replies = [" ".join(rng.choice(["a", "b", "c", "d", "e", "f"], size=rng.integers(2, 12))) for _ in range(160)]
    train = _pairs(80, lambda i: replies[2 * i], lambda i: replies[2 * i + 1])
    head = fit(Encoder(tiny_encoder, max_length=32), train, seed=0)
    assert max(head["cv_accuracy"].values()) < 0.7  # nothing to learn: no C makes held-out folds look good


def test_features_are_one_row_per_reply_and_the_weights_match_them(tiny_encoder):
    encoder = Encoder(tiny_encoder, max_length=32)
    rows = features(encoder, [[{"role": "user", "content": "hi"}]] * 3, ["a", "b c", ""])
    dim = encoder.model.config.hidden_size
    assert rows.shape == (3, 3 * dim + 4)  # reply, its product with two contexts, two cosines, log words and square
    assert rows[2, -2] == 0  # an empty reply has no words


def test_a_head_from_another_version_is_refused_with_the_fix(tiny_encoder, tmp_path):
    train = _pairs(12, lambda i: f"long kind answer {i} here", lambda i: "no", prompt=lambda i: f"p{i % 4}")
    train_head(tiny_encoder, train, tmp_path / "head", seed=0, max_length=32)
    spec = json.loads((tmp_path / "head" / HEAD_FILE).read_text())
    (tmp_path / "head" / HEAD_FILE).write_text(json.dumps(spec | {"contexts": [2]}))
    with pytest.raises(ValueError, match="retrain it with `paretoflow train-rm`"):
        EmbeddingHeadScorer(tmp_path / "head")


@pytest.mark.parametrize("extra", [["reward_model.heads=shared"], ["reward_model.early_stopping={patience: 2}"]])
def test_settings_it_cannot_honour_are_refused(model_cache, extra):
    with pytest.raises(ConfigError, match="embedding_head"):
        tiny_params(model_cache, *HEAD, *extra)
