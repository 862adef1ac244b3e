"""train-rm on the tiny profile: seeds, margins, early stopping, shared heads, shaped reward functions, `score`."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from components.canonical import read_table, write_table
from components.ingest import ingest
from components.reward_model import encode_pairs, margins, train_reward_models
from components.scorers import reward_functions
from paretoflow.cli import app
from paretoflow.config import load_params
from tests.conftest import REPO

ONE_RM = [
    "objectives=[{name: empathy, scorer: reward_model}, {name: concision, scorer: concision}]",
    "grpo.weights=[{empathy: 1, concision: 0}]",
]


def tiny_params(model_cache, *extra):
    return load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}", *extra])


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory, model_cache):
    data = tmp_path_factory.mktemp("data")
    ingest(tiny_params(model_cache), data)
    return data


def test_same_seed_same_accuracy(sample_data, model_cache, tmp_path):
    params = tiny_params(model_cache, *ONE_RM)
    first = train_reward_models(params, sample_data, tmp_path / "a")["empathy"]
    second = train_reward_models(params, sample_data, tmp_path / "b")["empathy"]
    assert first["heldout_accuracy"] == second["heldout_accuracy"]
    assert first["heldout_ci95_low"] == second["heldout_ci95_low"]
    report = json.loads((tmp_path / "a/heldout_report.json").read_text())["empathy"]
    assert report["calibration"] and "spearman_reward_length" in report["length_bias"]
    assert (tmp_path / "a/calibration.png").stat().st_size > 5_000


def test_graded_margins_and_truncation_are_counted(sample_data, model_cache):
    from components.reward_model import load_backbone

    tokenizer, _ = load_backbone(tiny_params(model_cache), num_labels=1)
    pairs = read_table(sample_data / "pairs.parquet").head(4)
    assert margins(pairs) is None
    pairs["meta"] = [{"margin": 1.5}, {}, {"margin": 0.5}, {}]
    assert margins(pairs) == [1.5, 0.0, 0.5, 0.0]
    rows, truncated = encode_pairs(pairs, tokenizer, max_length=16, use_margin=True)
    assert truncated == 8 and all(len(r["chosen_ids"]) == 16 for r in rows)
    assert [r["margin"] for r in rows] == [1.5, 0.0, 0.5, 0.0]
    assert "margin" not in encode_pairs(pairs, tokenizer, 16, use_margin=False)[0][0]


def test_margin_centring_and_early_stopping_train(sample_data, model_cache, tmp_path):
    pairs = read_table(sample_data / "pairs.parquet")
    pairs["margin"] = 0.5
    write_table(pairs, tmp_path / "pairs.parquet")
    params = tiny_params(
        model_cache,
        *ONE_RM,
        "reward_model.epochs=3",
        "reward_model.center_rewards_coefficient=0.01",
        "reward_model.early_stopping={patience: 1, eval_steps: 2, validation_fraction: 0.2}",
    )
    metrics = train_reward_models(params, tmp_path, tmp_path / "rm")["empathy"]
    assert metrics["used_margin"] == 1
    assert metrics["validation_pairs"] > 0 and metrics["best_validation_accuracy"] is not None
    assert metrics["steps"] < 3 * -(-metrics["train_pairs"] // params.reward_model.batch_size)  # stopped early
    assert not (tmp_path / "rm/empathy/checkpoints").exists()


def test_shared_heads_give_named_shaped_rewards_and_score_agrees(sample_data, model_cache, tmp_path):
    params = tiny_params(model_cache, "reward_model.heads=shared", "reward_model.output.transform=par")
    metrics = train_reward_models(params, sample_data, tmp_path)
    assert set(metrics) == {"empathy", "helpfulness", "harmlessness"}
    assert len({m["train_seconds"] for m in metrics.values()}) == 1  # one model trained once
    functions = reward_functions(params, tmp_path)
    assert [f.__name__ for f in functions] == params.objective_names
    prompts = [[{"role": "user", "content": "I feel alone."}]] * 2
    for f in functions:
        scores = f(prompts, ["I'm here with you.", "ok"])
        assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    test = read_table(sample_data / "pairs.parquet")
    test = test[(test["objective"] == "empathy") & (test["split"] == "test")]
    source = tmp_path / "empathy-test.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in test[["prompt", "chosen", "rejected"]].to_dict("records")))
    result = CliRunner().invoke(
        app, ["score", str(source), "--format", "canonical", "--scorer", f"rm:{tmp_path}/shared#empathy"]
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert set(line) == {"agreement", "ci95", "n", "ties"} and line["n"] == len(test)
    assert line["agreement"] == pytest.approx(metrics["empathy"]["heldout_accuracy"])


def test_score_explains_a_bad_scorer_or_format(tmp_path):
    source = tmp_path / "pairs.jsonl"
    source.write_text(json.dumps({"prompt": "hi", "chosen": "hello", "rejected": "go away"}) + "\n")
    bad_scorer = CliRunner().invoke(app, ["score", str(source), "--scorer", "judge:x"])
    assert bad_scorer.exit_code == 2 and "rm:PATH" in bad_scorer.output
    bad_format = CliRunner().invoke(app, ["score", str(source), "--format", "csv", "--scorer", f"rm:{tmp_path}"])
    assert bad_format.exit_code == 2 and "known formats: canonical" in bad_format.output
    assert pd.read_json(source, lines=True).shape == (1, 3)


def test_early_stopping_with_shared_heads_is_refused(model_cache):
    from paretoflow.config import ConfigError

    with pytest.raises(ConfigError, match="heads: separate"):
        tiny_params(model_cache, "reward_model.heads=shared", "reward_model.early_stopping={patience: 1}")


def test_score_reads_real_hh_rlhf_through_the_ingest_adapters(tmp_path):
    """Any ingest format can be scored: here the real HH-RLHF file, with a tiny reward model."""
    from components.score import read_pairs
    from tests.conftest import SHARED_DATA

    pairs, skipped = read_pairs(SHARED_DATA / "hh-rlhf" / "helpful-base.dev.jsonl.gz", "hh-rlhf")
    assert len(pairs) + skipped == 1907 and len(pairs) == 1889
    assert pairs["prompt"].map(lambda p: p[-1]["role"] == "user").all()
