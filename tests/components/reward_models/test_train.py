"""train-rm on the tiny profile: seeds, MLflow models, margins, centring, early stopping, shared heads, shaped
reward functions, `score`."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from components.data.canonical import read_table, write_table
from components.reward_models.train import train_reward_models
from components.reward_models.training import encode_pairs, margins
from components.scorers.objectives import reward_functions
from components.scorers.reward_model import head_scorer
from paretoflow import tracking
from paretoflow.cli import app
from tests.components.reward_models.conftest import ONE_RM, tiny_params
from tests.conftest import REPO


@pytest.mark.slow
def test_same_seed_same_accuracy_and_the_logged_model_scores_like_the_saved_one(
    sample_data, model_cache, tmp_path, monkeypatch
):
    """The second run trains inside an MLflow run: logging changes nothing, and the logged model loads back."""
    import mlflow

    from paretoflow.hashing import dvc_md5

    params = tiny_params(model_cache, *ONE_RM, f"tracking.uri=sqlite:///{tmp_path}/mlflow.db")
    first = train_reward_models(params, sample_data, tmp_path / "a")["empathy"]
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder is relative
    tracking.setup(params)
    with mlflow.start_run() as run:
        second = train_reward_models(params, sample_data, tmp_path / "b")["empathy"]
    assert first["heldout_accuracy"] == second["heldout_accuracy"]
    assert first["heldout_ci95_low"] == second["heldout_ci95_low"]
    report = json.loads((tmp_path / "a/heldout_report.json").read_text())["empathy"]
    assert report["calibration"] and "spearman_reward_length" in report["length_bias"]
    assert set(report["by_source"]) == {"sample-pairs"} and report["by_source"]["sample-pairs"]["n"] == report["n"]
    assert (tmp_path / "a/calibration.png").stat().st_size > 5_000
    assert not (tmp_path / "a/empathy/references.json").exists()  # sigmoid output needs no reference statistics

    assert "model_uri" not in first and second["model_uri"].startswith("models:/")
    logged = mlflow.get_logged_model(second["model_uri"].removeprefix("models:/"))
    assert logged.tags["data.md5"] == dvc_md5(sample_data / "pairs.parquet")
    assert logged.params["reward_model.max_length"] == str(params.reward_model.max_length)
    child = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'", output_format="list")
    assert sorted(r.info.run_name for r in child) == ["reward_model/empathy", "reward_model/evaluator/empathy"]
    model = mlflow.pyfunc.load_model(second["model_uri"])  # the serving path: raw rewards, truncated inputs
    prompts = [[{"role": "user", "content": "I lost my job."}]] * 2
    replies = ["That must be a shock; how are you coping?", "ok " * 300]  # the second is truncated
    tokenizer = mlflow.transformers.load_model(second["model_uri"], return_type="components")["tokenizer"]
    texts = [
        tokenizer.apply_chat_template([*p, {"role": "assistant", "content": r}], tokenize=False)
        for p, r in zip(prompts, replies)
    ]
    logged_scores = [row["score"] for row in model.predict(texts)[0]]
    saved_scores = head_scorer(tmp_path / "b/empathy", "empathy", {}).raw(prompts, replies)
    assert logged_scores == pytest.approx(saved_scores, abs=1e-5)


def test_splits_cap_train_and_heldout_pairs_by_id(sample_data, model_cache):
    from components.reward_models.train import objective_splits

    pairs = read_table(sample_data / "pairs.parquet")
    params = tiny_params(model_cache, "reward_model.max_train_pairs=5", "reward_model.max_heldout_pairs=3")
    split = objective_splits(pairs, "empathy", params)
    assert len(split["train"]) == 5 and len(split["test"]) == 3
    full = objective_splits(pairs, "empathy", tiny_params(model_cache))
    assert list(split["test"]["id"]) == sorted(full["test"]["id"])[:3]
    assert set(split["train"]["id"]) <= set(full["train"]["id"]) and set(full["test"]["split"]) == {"test"}


def test_graded_margins_and_truncation_are_counted(sample_data, model_cache):
    from components.reward_models.training import load_backbone

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


@pytest.mark.slow
def test_shared_heads_give_named_shaped_rewards_and_score_agrees(sample_data, model_cache, tmp_path):
    params = tiny_params(model_cache, "reward_model.heads=shared", "reward_model.output.transform=par")
    metrics = train_reward_models(params, sample_data, tmp_path)
    assert set(metrics) == {"empathy", "helpfulness", "harmlessness"}
    assert len({m["train_seconds"] for m in metrics.values()}) == 1  # one model trained once
    loaded = {}
    views = [head_scorer(tmp_path / "shared", o, loaded) for o in metrics]
    assert len({id(v.model) for v in views}) == 1  # loaded once, read through each objective's head
    assert sorted(v.head for v in views) == [0, 1, 2]
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
        app, ["score", str(source), "-p", str(REPO / "params.yaml"), "--scorer", f"rm:{tmp_path}/shared#empathy"]
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert set(line) == {"agreement", "ci95", "n", "ties"} and line["n"] == len(test)
    assert line["agreement"] == pytest.approx(metrics["empathy"]["heldout_accuracy"])


def test_score_explains_a_bad_scorer_or_format(tmp_path):
    source = tmp_path / "pairs.jsonl"
    source.write_text(json.dumps({"prompt": "hi", "chosen": "hello", "rejected": "go away"}) + "\n")
    params = ["-p", str(REPO / "params.yaml")]
    bad_scorer = CliRunner().invoke(app, ["score", str(source), *params, "--scorer", "judge:x"])
    assert bad_scorer.exit_code == 2 and "rm:PATH" in bad_scorer.output
    bad_format = CliRunner().invoke(
        app, ["score", str(source), *params, "--format", "csv", "--scorer", f"rm:{tmp_path}"]
    )
    assert bad_format.exit_code == 2 and "known formats: canonical" in bad_format.output
    assert pd.read_json(source, lines=True).shape == (1, 3)


def test_early_stopping_with_shared_heads_is_refused(model_cache):
    from paretoflow.config import ConfigError

    with pytest.raises(ConfigError, match="heads: separate"):
        tiny_params(model_cache, "reward_model.heads=shared", "reward_model.early_stopping={patience: 1}")


def test_score_reads_real_hh_rlhf_through_the_ingest_adapters(tmp_path):
    """Any ingest format can be scored: here the real HH-RLHF file, with a tiny reward model."""
    from components.evaluation.agreement import read_pairs
    from tests.conftest import SHARED_DATA

    pairs, skipped = read_pairs(SHARED_DATA / "hh-rlhf" / "helpful-base.dev.jsonl.gz", "hh-rlhf")
    assert len(pairs) + skipped == 1907 and len(pairs) == 1889
    assert pairs["prompt"].map(lambda p: p[-1]["role"] == "user").all()


def test_shared_heads_loss_reads_each_pairs_head_with_margin_and_centring(sample_data, model_cache):
    """The plain-loop loss against rewards computed one conversation at a time (no padding, no batching)."""
    import torch

    from components.reward_models.multihead import _batch_loss
    from components.reward_models.training import encode_pairs, load_backbone

    params = tiny_params(model_cache, "reward_model.heads=shared")
    tokenizer, model = load_backbone(params, num_labels=2, labels=["empathy", "helpfulness"])
    rows, _ = encode_pairs(read_table(sample_data / "pairs.parquet").head(3), tokenizer, 64, use_margin=False)
    rows = [{**row, "head": i % 2, "margin": 0.5 * i} for i, row in enumerate(rows)]
    with torch.no_grad():
        one = [
            [model(input_ids=torch.tensor([r[k]])).logits[0, r["head"]] for k in ("chosen_ids", "rejected_ids")]
            for r in rows
        ]
        chosen, rejected = (torch.stack(x) for x in zip(*one))
        margin = torch.tensor([r["margin"] for r in rows])
        expected = -torch.nn.functional.logsigmoid(chosen - rejected - margin).mean()
        assert _batch_loss(model, tokenizer, rows, params.reward_model).item() == pytest.approx(
            expected.item(), abs=1e-5
        )
        centred = params.reward_model.model_copy(update={"center_rewards_coefficient": 0.5})
        expected = expected + 0.5 * ((chosen + rejected) ** 2).mean()
        assert _batch_loss(model, tokenizer, rows, centred).item() == pytest.approx(expected.item(), abs=1e-5)
