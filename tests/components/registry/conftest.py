"""One real `mlflow server` for the registry fault tests of this package (starting one takes up to a minute on a
busy machine), and a fresh fault proxy in front of it per test."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.components.registry.registry_server import RegistryProxy, sqlite_mlflow_server


@pytest.fixture(scope="package")
def mlflow_server(tmp_path_factory):
    process = sqlite_mlflow_server(tmp_path_factory.mktemp("registry-server")).start(timeout=180)
    yield process
    process.stop()


@pytest.fixture
def proxy(mlflow_server):
    proxy = RegistryProxy(urlsplit(mlflow_server.health_url).port)
    yield proxy
    proxy.close()


@pytest.fixture
def quick_failures(monkeypatch):
    """The MLflow client still retries (once, without backoff), so a failing request ends in seconds rather than
    the default four minutes; subprocesses inherit the same settings."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
