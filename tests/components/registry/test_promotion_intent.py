"""Intents another machine left in a (SQLite) registry: a stale one is repaired, a fresh one is waited for, and a
move that had completed is kept. (Intents of processes on this machine: test_promotion_faults.py.)"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pytest
from mlflow.tracking import MlflowClient

from components.registry import promotion_intent
from components.registry.fronts import CANDIDATE, CHAMPION, PREVIOUS
from components.registry.promotion import PromotionError, promote, rollback
from components.registry.promotion_intent import STALE_SECONDS, Intent, intent_name
from paretoflow.config import load_params
from tests.conftest import REPO


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite registry per module (creating one takes seconds); each test gets its own model name."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry')}/mlflow.db"


@pytest.fixture
def registry(store, tmp_path, request):
    """Params on a model of its own, and a function registering a one-version front aliased `candidate`."""
    overrides = [f"tracking.uri={store}", f"register.model_name=policy-{request.node.name}"]
    params = load_params(REPO / "params.yaml", overrides)
    client, name = MlflowClient(params.tracking.uri), params.register.model_name
    client.create_registered_model(name)

    def register(run: str, score: float) -> str:
        tags = {f"heldout.{o}": str(score) for o in params.objective_names}
        tags |= {"pipeline.run_id": run, "heldout_set.md5": "set-a", "judge_attack.fpr": "0.0"}
        version = str(client.create_model_version(name, str(tmp_path / run), tags=tags).version)
        client.set_registered_model_alias(name, CANDIDATE, version)
        return version

    return params, client, register


def _leave_intent(client, name: str, before: dict, after: dict, age_seconds: float) -> None:
    """The intent a promote on another machine recorded `age_seconds` ago before it died (or while it still runs)."""
    intent = Intent("remote", name, "promote v2", before, after, "other-host", 4242, time.time() - age_seconds)
    client.create_registered_model(intent_name(name), tags={"intent": json.dumps(asdict(intent))})


def _aliases(client, name: str) -> dict[str, str | None]:
    found = client.get_registered_model(name).aliases
    return {alias: (str(found[alias]) if alias in found else None) for alias in (CHAMPION, PREVIOUS)}


def test_a_stale_intent_from_another_machine_is_put_back_by_the_next_promotion(registry):
    params, client, register = registry
    name = params.register.model_name
    old = register("run-1", 0.5)
    assert promote(params, client=client)["promoted"]
    new = register("run-2", 0.7)
    client.set_registered_model_alias(name, PREVIOUS, old)  # it died after moving previous-champion
    _leave_intent(client, name, {PREVIOUS: None, CHAMPION: old}, {PREVIOUS: old, CHAMPION: new}, STALE_SECONDS + 60)
    result = promote(params, version=new, client=client)
    assert "promote v2 (host other-host, pid 4242" in result["repaired"], result["repaired"]
    assert f"put back {PREVIOUS} -> none, {CHAMPION} -> v{old}" in result["repaired"]
    assert result["promoted"] and _aliases(client, name) == {CHAMPION: new, PREVIOUS: old}
    assert not client.search_registered_models(f"name = '{intent_name(name)}'")


def test_a_fresh_intent_from_another_machine_is_waited_for_then_reported(registry, monkeypatch):
    params, client, register = registry
    name = params.register.model_name
    old = register("run-1", 0.5)
    assert promote(params, client=client)["promoted"]
    new = register("run-2", 0.7)
    _leave_intent(client, name, {PREVIOUS: None, CHAMPION: old}, {PREVIOUS: old, CHAMPION: new}, 5)
    monkeypatch.setattr(promotion_intent, "WAIT_SECONDS", 1)
    with pytest.raises(PromotionError, match=r"promote v2 \(host other-host.* did not finish within 1s; nothing was"):
        promote(params, version=new, client=client)
    assert _aliases(client, name) == {CHAMPION: old, PREVIOUS: None}
    assert client.search_registered_models(f"name = '{intent_name(name)}'"), "not ours to remove"


def test_a_move_that_had_completed_is_kept_and_its_intent_cleared(registry):
    params, client, register = registry
    name = params.register.model_name
    first = register("run-1", 0.5)
    assert promote(params, client=client)["promoted"]
    second = register("run-2", 0.7)
    assert promote(params, client=client)["promoted"]
    _leave_intent(client, name, {PREVIOUS: None, CHAMPION: first}, {PREVIOUS: first, CHAMPION: second}, 3600)
    result = rollback(params, client=client)
    assert "its move had completed" in result["repaired"] and "kept" in result["repaired"]
    assert result["champion"] == first and _aliases(client, name) == {CHAMPION: first, PREVIOUS: None}


def test_a_create_that_raced_another_and_failed_otherwise_reads_the_other_intent(registry, monkeypatch):
    """Two commands creating the intent at once: the loser's store may answer with another error than 'already
    exists' (a unique-key violation); it must then see the winner's intent, not fail as if the registry were down."""
    from mlflow.exceptions import MlflowException

    params, client, _ = registry
    name = params.register.model_name
    _leave_intent(client, name, {}, {}, age_seconds=0)
    mine = Intent("local", name, "promote v3", {}, {}, "this-host", 1, time.time())

    def racing_create(*args, **kwargs):
        raise MlflowException("UNIQUE constraint failed: registered_models.name", error_code="INTERNAL_ERROR")

    monkeypatch.setattr(client, "create_registered_model", racing_create)
    assert promotion_intent._create(client, mine).token == "remote"
    client.delete_registered_model(intent_name(name))
    with pytest.raises(PromotionError, match="could not record the intent"):  # nobody holds it: a real failure
        promotion_intent._create(client, mine)
