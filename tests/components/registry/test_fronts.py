"""`select` fails closed, against a real `mlflow server` behind a real HTTP proxy: a registry that answers 503, times
out or hangs up while the champion is read stops the selection (it once read as "no champion" and chose from the
candidate front); only a model or alias that does not exist reads as missing. The CLI says so in one message."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from mlflow.tracking import MlflowClient

from components.registry.fronts import CANDIDATE, CHAMPION, RegistryUnreadable, aliased, front_by_alias
from components.registry.selection import select
from paretoflow.config import load_params
from tests.components.registry.registry_server import DROP, Request
from tests.conftest import REPO
from tests.servers import BIN

pytestmark = pytest.mark.usefixtures("quick_failures")


@pytest.fixture
def fronts(mlflow_server, proxy, request):
    """A model with a champion front (scores 0.9 on empathy) and a better-looking candidate front (0.95), written
    directly on the server; params and a client that go through the proxy."""
    name = f"policy-{request.node.name}".replace("[", "-").replace("]", "")
    overrides = [f"tracking.uri={proxy.url}", f"register.model_name={name}"]
    params = load_params(REPO / "params.yaml", overrides)
    direct = MlflowClient(mlflow_server.health_url.removesuffix("/health"))
    direct.create_registered_model(name)
    for alias, run, empathy in ((CHAMPION, "run-1", 0.9), (CANDIDATE, "run-2", 0.95)):
        tags = {f"heldout.{o}": "0.5" for o in params.objective_names} | {"pipeline.run_id": run}
        tags["heldout.empathy"] = str(empathy)
        version = direct.create_model_version(name, f"s3://pf-test/{run}/policy-0", tags=tags).version
        direct.set_registered_model_alias(name, alias, version)
    return params, overrides, MlflowClient(proxy.url)


def _reads_the_champion(request: Request, name: str) -> bool:
    """The model's aliases (how `aliased` reads them) or the champion alias alone (how it read it before)."""
    if request.method != "GET" or request.fields.get("name") != name:
        return False
    return request.endpoint == "registered-models/get" or (
        request.endpoint == "registered-models/alias" and request.fields.get("alias") == CHAMPION
    )


def _searches_versions(request: Request, name: str) -> bool:
    return request.endpoint == "model-versions/search" and name in request.fields.get("filter", "")


@pytest.mark.parametrize("fault", ["503", "timeout", "hang-up", "front-search-503"])
def test_a_registry_error_while_reading_the_champion_stops_select(fronts, proxy, monkeypatch, fault):
    params, _, client = fronts
    name = params.register.model_name
    weights = dict.fromkeys(params.objective_names, 0.0) | {"empathy": 1.0}
    assert select(params, weights, client=client)["front"] == CHAMPION, "healthy: the champion front"
    if fault == "timeout":
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        proxy.rule = lambda request: time.sleep(4) if _reads_the_champion(request, name) else None
    elif fault == "front-search-503":
        proxy.rule = lambda request: 503 if _searches_versions(request, name) else None
    else:
        answer = 503 if fault == "503" else DROP
        proxy.rule = lambda request: answer if _reads_the_champion(request, name) else None
    started = time.monotonic()
    with pytest.raises(RegistryUnreadable) as raised:
        select(params, weights, client=client)
    seconds = time.monotonic() - started
    message = str(raised.value)
    read = (
        f"the front of {name} v1 (alias champion)" if fault == "front-search-503" else f"alias champion of model {name}"
    )
    assert f"registry {proxy.url}: could not read {read}" in message, message
    assert "never read as 'no champion'. Check that the MLflow server is up" in message
    assert seconds < 20, f"{fault}: failing took {seconds:.1f}s"


def test_only_a_missing_model_or_alias_reads_as_missing(fronts):
    params, _, client = fronts
    name = params.register.model_name
    assert str(aliased(client, name, CHAMPION).version) == "1"
    assert aliased(client, name, "previous-champion") is None
    assert (
        aliased(client, "no-such-model", CHAMPION) is None
        and front_by_alias(client, "no-such-model", CANDIDATE) is None
    )


def test_the_cli_prints_one_message_and_exits_non_zero_on_a_registry_error(fronts, proxy):
    params, overrides, _ = fronts
    name = params.register.model_name
    command = [str(BIN / "paretoflow"), "select", "--weights", "empathy=1", "-p", str(REPO / "params.yaml")]
    command += [x for o in overrides for x in ("-o", o)]
    healthy = subprocess.run(command, cwd=REPO, env=os.environ, capture_output=True, text=True, timeout=120)
    assert healthy.returncode == 0, healthy.stderr[-3000:]
    assert json.loads(healthy.stdout)["front"] == CHAMPION and json.loads(healthy.stdout)["version"] == "1"
    proxy.rule = lambda request: 503 if _reads_the_champion(request, name) else None
    failed = subprocess.run(command, cwd=REPO, env=os.environ, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and failed.stdout == "", (failed.stdout, failed.stderr[-3000:])
    shown = " ".join(failed.stderr.split())
    assert shown.startswith(f"select failed: registry {proxy.url}: could not read alias champion of model {name}"), (
        shown
    )
    assert "Traceback" not in failed.stderr and "Check that the MLflow server is up" in shown
