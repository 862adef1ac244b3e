"""Finding the champion front evaluate scores side by side: none yet, one, and a registry that cannot be read."""

from __future__ import annotations

import logging

from mlflow.tracking import MlflowClient

from components.evaluation import champion as champion_eval
from components.registry.fronts import CHAMPION
from paretoflow.config import load_params
from tests.conftest import REPO


def test_no_model_then_no_alias_then_the_champion_front(tmp_path, caplog):
    params = load_params(REPO / "params.yaml", [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"])
    name = params.register.model_name
    with caplog.at_level(logging.INFO, logger="components.evaluation.champion"):
        first = champion_eval.champion_front(params)
    assert first.front is None and f"no model {name} registered" in first.note and first.note in caplog.text
    assert champion_eval.identity(params) is None
    client = MlflowClient(params.tracking.uri)
    client.create_registered_model(name)
    versions = [
        client.create_model_version(name, str(tmp_path / f"p{i}"), tags={"pipeline.run_id": run}).version
        for i, run in enumerate(["run-a", "run-a", "run-b"])
    ]
    assert "has no alias champion" in champion_eval.champion_front(params).note
    client.set_registered_model_alias(name, CHAMPION, versions[1])
    found = champion_eval.champion_front(params)
    assert champion_eval.versions_of(found.front) == [str(v) for v in versions[:2]]  # the whole front of run-a
    assert champion_eval.identity(params) == {"model": name, "versions": ["1", "2"], "run_id": "run-a"}
    client.set_registered_model_alias(name, CHAMPION, versions[2])
    assert champion_eval.identity(params)["versions"] == ["3"]  # a promotion changes evaluate's cache key


def test_an_unreachable_registry_is_logged_and_evaluation_goes_on(monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    params = load_params(REPO / "params.yaml", ["tracking.uri=http://127.0.0.1:9"])
    with caplog.at_level(logging.WARNING, logger="components.evaluation.champion"):
        lookup = champion_eval.champion_front(params)
    assert lookup.front is None
    assert "could not read the champion of paretoflow-policy from http://127.0.0.1:9" in caplog.text
    assert "Check tracking.uri and that the MLflow server is up" in lookup.note


def test_a_registered_champion_is_fetched_once_and_generates_like_the_policy_it_was(tmp_path, model_cache, monkeypatch):
    import mlflow

    from components.common.model_store import policy_dir
    from components.evaluation.heldout_replies import generate
    from components.registry.register import PIP_REQUIREMENTS, PIPELINE, TASK, _resolve_pipeline_class

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    params = load_params(
        REPO / "params.yaml",
        ["profile=tiny", f"cache_dir={model_cache}", f"tracking.uri={uri}", "evaluate.max_new_tokens=6"],
    )
    policy = policy_dir(params.policy, params.cache_dir)
    monkeypatch.chdir(tmp_path)  # the local artifact store lands here
    mlflow.set_tracking_uri(uri)
    _resolve_pipeline_class(PIPELINE)
    with mlflow.start_run(tags={"pipeline.run_id": "run-a"}):
        info = mlflow.transformers.log_model(
            transformers_model=str(policy),
            task=TASK,
            name="policy-0",
            registered_model_name=params.register.model_name,
            pip_requirements=PIP_REQUIREMENTS,
        )
    client = MlflowClient(uri)
    version = str(info.registered_model_version)
    client.set_registered_model_alias(params.register.model_name, CHAMPION, version)
    front = champion_eval.champion_front(params).front
    ((fetched_version, path),) = champion_eval.fetch(params, front)
    assert fetched_version == version and (path / "config.json").exists() and (path / "tokenizer_config.json").exists()
    prompts = [[{"role": "user", "content": f"I feel {w} today."}] for w in ("sad", "lost")]
    assert generate(path, prompts, params) == generate(policy, prompts, params)
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", lambda *a, **k: 1 / 0)
    assert champion_eval.fetch(params, front) == [(version, path)], "a version is downloaded once"
