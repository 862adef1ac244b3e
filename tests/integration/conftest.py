"""One set of real servers per session: PostgreSQL databases made for it, moto's S3 behind a fault-injecting proxy,
`mlflow server` (PostgreSQL backend, artifacts proxied to S3) and `prefect server start` (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)
from tests.servers import (
    FaultyProxy,
    ServerProcess,
    mlflow_server,
    postgres_unavailable,
    prefect_server,
    throwaway_database,
)

MLFLOW_BUCKET, DVC_BUCKET = "pf-it-mlflow", "pf-it-dvc"


@dataclass
class Stack:
    s3_endpoint: str  # moto itself (what the tests read S3 through)
    proxy: FaultyProxy  # what the MLflow server writes S3 through
    mlflow: ServerProcess
    prefect: ServerProcess
    work: Path
    startup_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def mlflow_url(self) -> str:
        return self.mlflow.health_url.removesuffix("/health")

    @property
    def prefect_api(self) -> str:
        return self.prefect.health_url.removesuffix("/health")


@pytest.fixture(scope="session")
def stack(s3_endpoint, tmp_path_factory):  # noqa: F811
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"integration tests need PostgreSQL on 127.0.0.1:5432: {reason}")
    work = tmp_path_factory.mktemp("stack")
    s3 = make_bucket(s3_endpoint, MLFLOW_BUCKET)
    s3.create_bucket(Bucket=DVC_BUCKET)
    proxy = FaultyProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    with throwaway_database("pf_it_mlflow") as mlflow_db, throwaway_database("pf_it_prefect") as prefect_db:
        servers = Stack(
            s3_endpoint,
            proxy,
            mlflow_server(mlflow_db, f"s3://{MLFLOW_BUCKET}/artifacts", proxy.url, work),
            prefect_server(prefect_db, work / "prefect-home", work),
            work,
        )
        started = time.monotonic()
        errors: list[BaseException] = []

        def start(server: ServerProcess) -> None:
            try:
                server.start(timeout=180)
            except BaseException as exc:  # reported below, from the fixture's thread
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in (servers.mlflow, servers.prefect)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            if errors:
                raise errors[0]
            servers.startup_seconds = {
                "mlflow": servers.mlflow.start_seconds[0],
                "prefect": servers.prefect.start_seconds[0],
                "both (in parallel)": time.monotonic() - started,
            }
            yield servers
        finally:
            servers.mlflow.stop()
            servers.prefect.stop()
            proxy.close()
