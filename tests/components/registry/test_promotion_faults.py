"""Promotions that fail closed, against a real `mlflow server` behind a real HTTP proxy: registry errors while the
aliases are read (503, a timeout, a locked database), alias moves that fail half-way (put back; reported when the
server is killed mid-move, then repaired), a promotion SIGKILLed between its two alias moves (repaired by the next
command) and two promotions at once in two processes (one winner, the previous-champion chain intact)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from components.registry.fronts import CANDIDATE, CHAMPION, PREVIOUS
from components.registry.promotion import PromotionError, promote, rollback
from components.registry.promotion_intent import intent_name
from paretoflow.config import load_params
from tests.components.registry.registry_server import DROP, Request
from tests.conftest import REPO

PROMOTE_IN_A_PROCESS = """
import json, sys
from components.registry.promotion import PromotionError, promote
from paretoflow.config import load_params
params = load_params(sys.argv[1], sys.argv[2:4])
try:
    print(json.dumps(promote(params, version=sys.argv[4])))
except PromotionError as exc:
    print(json.dumps({"error": str(exc)}))
"""


pytestmark = pytest.mark.usefixtures("quick_failures")


class Registry:
    """One model on the server: `params` and `client` go through the proxy, `direct` to the server itself."""

    def __init__(self, server, proxy, name: str):
        self.server, self.proxy, self.name = server, proxy, name
        self.overrides = [f"tracking.uri={proxy.url}", f"register.model_name={name}"]
        self.params = load_params(REPO / "params.yaml", self.overrides)
        self.client = MlflowClient(proxy.url)
        self.direct = MlflowClient(server.health_url.removesuffix("/health"))
        self.direct.create_registered_model(name)

    def register(self, run: str, score: float) -> str:
        """A one-version front scoring `score` on every objective, aliased `candidate`."""
        tags = {f"heldout.{o}": str(score) for o in self.params.objective_names}
        tags |= {"pipeline.run_id": run, "heldout_set.md5": "set-a", "judge_attack.fpr": "0.0"}
        version = self.direct.create_model_version(self.name, f"s3://pf-test/{run}/policy-0", tags=tags).version
        self.direct.set_registered_model_alias(self.name, CANDIDATE, version)
        return str(version)

    def champions(self, *scores: float) -> list[str]:
        """Register and promote one front per score, directly on the server: the chain of champions."""
        versions = [self.register(f"run-{i}", score) for i, score in enumerate(scores)]
        for version in versions:
            assert promote(self.direct_params, version=version, client=self.direct)["promoted"]
        return versions

    @property
    def direct_params(self):
        return load_params(REPO / "params.yaml", [f"tracking.uri={self.direct.tracking_uri}", self.overrides[1]])

    def aliases(self) -> dict[str, str | None]:
        found = self.direct.get_registered_model(self.name).aliases
        return {alias: found.get(alias) for alias in (CHAMPION, PREVIOUS)}

    def intent_left(self) -> bool:
        return bool(self.direct.search_registered_models(f"name = '{intent_name(self.name)}'"))

    def tags(self, version: str) -> dict[str, str]:
        return self.direct.get_model_version(self.name, version).tags


@pytest.fixture
def registry(mlflow_server, proxy, request) -> Registry:
    return Registry(mlflow_server, proxy, f"policy-{request.node.name}".replace("[", "-").replace("]", ""))


def _reads_aliases(request: Request, name: str) -> bool:
    return (
        request.method == "GET"
        and request.endpoint in ("registered-models/get", "registered-models/alias")
        and request.fields.get("name") == name
    )


def _moves(request: Request, alias: str, to: str | None = None) -> bool:
    """Whether the request moves (or removes) the alias; to `to` only, when given."""
    return (
        request.method in ("POST", "DELETE")
        and request.endpoint == "registered-models/alias"
        and request.fields.get("alias") == alias
        and to in (None, request.fields.get("version"))
    )


def _locking(registry, writer: sqlite3.Connection):
    """A rule that locks the server's SQLite file, as another writer would, as the aliases are read: after its
    20 s busy timeout the server answers 503 (database is locked)."""

    def rule(request: Request):
        if _reads_aliases(request, registry.name) and not writer.in_transaction:
            writer.execute("BEGIN EXCLUSIVE")
        return None

    return rule


@pytest.mark.parametrize(
    ("fault", "limit_seconds"),
    [("503", 20), ("timeout", 20), pytest.param("locked-database", 60, marks=pytest.mark.slow)],
    ids=["503", "timeout", "locked-database"],
)
def test_a_registry_error_while_reading_the_champion_stops_the_promotion(registry, monkeypatch, fault, limit_seconds):
    (champion,) = registry.champions(0.5)
    worse = registry.register("run-worse", 0.3)  # would pass every gate if "no champion" were read
    database = registry.server.command[-2].removeprefix("--backend-store-uri=sqlite:///")
    writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    if fault == "503":
        registry.proxy.rule = lambda request: 503 if _reads_aliases(request, registry.name) else None
    elif fault == "timeout":
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        registry.proxy.rule = lambda request: time.sleep(4) if _reads_aliases(request, registry.name) else None
    else:
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # each try waits out the server's busy timeout
        registry.proxy.rule = _locking(registry, writer)
    started = time.monotonic()
    try:
        with pytest.raises(PromotionError) as raised:
            promote(registry.params, version=worse, client=registry.client)
        seconds = time.monotonic() - started
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()
    message = str(raised.value)
    assert f"registry {registry.proxy.url}: could not read the aliases of model {registry.name}" in message, message
    assert "Nothing was moved: a registry error is never read as 'no champion yet'" in message
    if fault == "locked-database":
        answers = [(status, body) for r, status, body in registry.proxy.answers if _reads_aliases(r, registry.name)]
        assert answers[0][0] == 503 and b"database is locked" in answers[0][1], answers
    assert registry.aliases() == {CHAMPION: champion, PREVIOUS: None}
    assert "gates.passed" not in registry.tags(worse)
    assert seconds < limit_seconds, f"{fault}: failing took {seconds:.1f}s"


def test_a_move_failing_half_way_is_undone(registry):
    old, mid = registry.champions(0.5, 0.6)
    new = registry.register("run-new", 0.7)
    # the champion move fails after previous-champion moved; putting them back works
    registry.proxy.rule = lambda request: 503 if _moves(request, CHAMPION, to=new) else None
    with pytest.raises(PromotionError, match="every alias was put back"):
        promote(registry.params, version=new, client=registry.client)
    assert [r.fields["version"] for r in registry.proxy.seen if _moves(r, PREVIOUS)] == [mid, old]
    assert registry.aliases() == {CHAMPION: mid, PREVIOUS: old} and not registry.intent_left()


def test_a_rollback_failing_half_way_is_undone(registry):
    first, second, third = registry.champions(0.5, 0.6, 0.7)
    # the previous-champion move fails after champion moved; putting them back works
    registry.proxy.rule = lambda request: 503 if _moves(request, PREVIOUS, to=first) else None
    with pytest.raises(PromotionError, match="every alias was put back"):
        rollback(registry.params, client=registry.client)
    assert [r.fields["version"] for r in registry.proxy.seen if _moves(r, CHAMPION)] == [second, third]
    assert registry.aliases() == {CHAMPION: third, PREVIOUS: second} and not registry.intent_left()
    assert "promotion.rolled_back" not in registry.tags(third)


def _promote_in_a_process(registry, version: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PROMOTE_IN_A_PROCESS, str(REPO / "params.yaml"), *registry.overrides, version],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_promotion_killed_between_its_alias_moves_is_repaired_by_the_next_command(registry):
    (champion,) = registry.champions(0.5)
    new = registry.register("run-new", 0.7)
    reached, released = threading.Event(), threading.Event()

    def hold_the_champion_move(request: Request):
        if _moves(request, CHAMPION):
            reached.set()
            released.wait(120)
            return DROP
        return None

    registry.proxy.rule = hold_the_champion_move
    process = _promote_in_a_process(registry, new)
    try:
        assert reached.wait(120), process.communicate(timeout=5)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        released.set()
    assert registry.aliases() == {CHAMPION: champion, PREVIOUS: champion}, "killed half-way"
    assert registry.intent_left()
    with pytest.raises(PromotionError, match=f"pid {process.pid}.* stopped half-way.*Run promote without --dry-run"):
        promote(registry.direct_params, version=new, client=registry.direct, dry_run=True)
    result = promote(registry.direct_params, version=new, client=registry.direct)
    assert f"pid {process.pid}" in result["repaired"] and "put back" in result["repaired"], result["repaired"]
    assert result["promoted"] and result["previous_champion"] == champion
    assert registry.aliases() == {CHAMPION: new, PREVIOUS: champion} and not registry.intent_left()


def test_a_failed_restore_is_reported_and_the_next_command_repairs_it(registry):
    first, second = registry.champions(0.5, 0.6)
    new = registry.register("run-new", 0.7)

    def kill_at_the_champion_move(request: Request):
        """SIGKILL the server (all its workers) as the champion alias is about to move; hang up from then on."""
        server = registry.server.process
        if _moves(request, CHAMPION) and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)
        return DROP if server.poll() is not None else None

    registry.proxy.rule = kill_at_the_champion_move
    try:
        with pytest.raises(PromotionError) as raised:
            promote(registry.params, version=new, client=registry.client)
    finally:
        registry.server.start()
    message = str(raised.value)
    assert f"moving the aliases of {registry.name} failed" in message, message
    assert "putting them back failed too" in message and f"{CHAMPION} -> v{second}" in message
    assert "the next promote or rollback repairs" in message
    assert registry.aliases() == {CHAMPION: second, PREVIOUS: second} and registry.intent_left()
    result = rollback(registry.direct_params, client=registry.direct)
    assert "put back" in result["repaired"], result["repaired"]
    assert result["champion"] == first and result["rolled_back"] == second
    assert registry.aliases() == {CHAMPION: first, PREVIOUS: None} and not registry.intent_left()


def test_two_promotions_at_once_leave_one_winner_and_the_chain_intact(registry):
    (champion,) = registry.champions(0.5)
    a, b = registry.register("run-a", 0.7), registry.register("run-b", 0.8)
    both_gated = threading.Barrier(2, timeout=120)

    def start_together(request: Request):
        """Both promotions have read the champion and passed their gates before either may go on."""
        if request.endpoint == "model-versions/set-tag" and request.fields.get("key") == "gates.passed":
            both_gated.wait()
        return None

    registry.proxy.rule = start_together
    processes = {v: _promote_in_a_process(registry, v) for v in (a, b)}
    outputs = {}
    for version, process in processes.items():
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-3000:]
        outputs[version] = json.loads(out.strip().splitlines()[-1])
    winners = [v for v, o in outputs.items() if o.get("promoted")]
    assert len(winners) == 1, outputs
    (winner,) = winners
    (loser,) = {a, b} - {winner}
    assert f"the aliases of {registry.name} changed" in outputs[loser]["error"], outputs[loser]
    assert registry.aliases() == {CHAMPION: winner, PREVIOUS: champion} and not registry.intent_left()
    assert registry.tags(winner)["promotion.previous"] == champion
    assert "promotion.previous" not in registry.tags(loser)
