"""GRPO's rewards through TRL's real trainer on the tiny profile: standardised rewards reach the advantages, an
objective that does not vary within a group changes no advantage under either aggregation, and every run
counts per objective the groups where that happened."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from components.grpo.reward_scales import SCALES_FILE
from components.grpo.rewards import standardised, training_rewards
from components.grpo.train import build_trainer, train_candidates, train_prompts
from components.sft.start import start_policy_dir
from tests.components.grpo.project_inputs import ingested
from tests.components.grpo.scale_inputs import tiny_params
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model_cache):
    return ingested(tiny_params(model_cache), tmp_path_factory.mktemp("data"))


def one_step(params, data_dir, weights: list[float], aggregation: str, tmp_path):
    """One GRPO step from the tiny start policy; TRL's logs (completions, rewards per function, advantages)."""
    from trl import GRPOConfig

    rewards, names = training_rewards(params, REPO / "no-reward-models")
    scales = {"objectives": {n: {"mean": 0.5, "std": 0.2, "constant": False} for n in names}}
    args = GRPOConfig(
        output_dir=str(tmp_path / aggregation / str(weights)),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=params.grpo.max_completion_length,
        reward_weights=weights,
        multi_objective_aggregation=aggregation,
        scale_rewards="group",
        seed=params.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    trainer, _ = build_trainer(
        params, start_policy_dir(params), train_prompts(data_dir), standardised(rewards, names, scales, 2), args
    )
    trainer.train()
    return trainer


@pytest.mark.parametrize("aggregation", ["sum_then_normalize", "normalize_then_sum"])
def test_an_objective_constant_within_every_group_changes_no_advantage(tmp_path, data_dir, model_cache, aggregation):
    params = tiny_params(model_cache)
    with_it = one_step(params, data_dir, [0.5, 0.5], aggregation, tmp_path)
    without = one_step(params, data_dir, [0.5, 0.0], aggregation, tmp_path)
    assert list(with_it._logs["completion"]) == list(without._logs["completion"])  # same seed, same rollouts
    anything = np.array(list(with_it._logs["rewards"]["anything"])).reshape(-1, 2)
    assert (anything == anything[:, :1]).all(), "precondition: `anything` is constant within every group"
    short = np.array(list(with_it._logs["rewards"]["short"])).reshape(-1, 2)
    assert (short[:, 0] != short[:, 1]).any(), "precondition: `short` varies within some group"
    ours, theirs = (np.array(list(t._logs["advantages"])) for t in (with_it, without))
    assert np.allclose(ours, theirs, atol=1e-3) and np.abs(ours).max() > 0.5
    logged = with_it.state.log_history[0]
    assert logged["zero_variance_groups/anything"] == 2 and logged["zero_variance_groups/short"] < 2


def test_a_run_trains_on_standardised_rewards_and_reports_groups_without_variance(tmp_path, data_dir, model_cache):
    params = tiny_params(model_cache, "grpo.max_steps=3", "grpo.num_generations=2", "grpo.prompts_per_step=2")
    out = tmp_path / "policies"
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("reward-scales")
    with mlflow.start_run() as run:
        train_candidates(params, data_dir, tmp_path / "no-reward-models", out)
    scales = json.loads((out / SCALES_FILE).read_text())["objectives"]
    assert scales["anything"]["constant"] and scales["short"]["std"] > 0
    manifest = json.loads((out / "manifest.json").read_text())[0]
    assert manifest["groups"] == 6 and manifest["zero_variance_groups"]["anything"] == 6
    assert 0 <= manifest["zero_variance_groups"]["short"] < 6
    client = mlflow.MlflowClient()
    child = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")[0]
    raw = [m.value for m in client.get_metric_history(child.info.run_id, "reward_raw/short/mean")]
    seen = [m.value for m in client.get_metric_history(child.info.run_id, "reward/short/mean")]
    short = scales["short"]
    assert len(raw) == 3 and np.allclose((np.array(raw) - short["mean"]) / short["std"], seen, atol=1e-5)
    assert [m.value for m in client.get_metric_history(child.info.run_id, "zero_variance_groups/anything")] == [2] * 3
    logged = client.get_run(run.info.run_id).data.params
    assert float(logged["reward_scale.short.std"]) == pytest.approx(short["std"], rel=1e-5)
    assert json.loads(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{SCALES_FILE}"))["objectives"] == scales
