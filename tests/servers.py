"""Real servers on loopback for the integration tests: throwaway databases on the machine's PostgreSQL, moto's S3
behind a TCP proxy that can take the endpoint down, and `mlflow server` / `prefect server start` as subprocesses on
free ports. Each is started, waited for and stopped by the caller; nothing is left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

from components.judges.local_server import free_port

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BIN = Path(sys.executable).parent


def postgres_unavailable() -> str | None:
    """Why the integration tests cannot use PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), or None."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (install the dev extra: make install)"
    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **POSTGRES).close()
    except psycopg2.OperationalError as exc:
        return f"no PostgreSQL reachable as user postgres on 127.0.0.1:5432 ({str(exc).strip()})"
    return None


@contextmanager
def throwaway_database(prefix: str):
    """A new database, yielded as `postgresql://...` (callers add their driver); dropped, connections and all, after."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **POSTGRES)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def wait_http(url: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None) -> float:
    """Poll `url` until it answers 200; return the seconds it took. Fails early, with the log's tail, if the
    server process exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


class ServerProcess:
    """One server subprocess in its own process group, logging to a file; restartable on the same port."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], health_url: str, log_dir: Path):
        self.name, self.command, self.env, self.health_url = name, command, env, health_url
        self.log = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.start_seconds: list[float] = []

    def start(self, timeout: float = 120) -> ServerProcess:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.start_seconds.append(wait_http(self.health_url, timeout, self.process, self.log))
        return self

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the whole group (uvicorn/gunicorn workers too), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def mlflow_server(backend_uri: str, artifacts: str, s3_endpoint: str, log_dir: Path) -> ServerProcess:
    """`mlflow server` with a PostgreSQL backend store (psycopg2: SQLAlchemy 2.1's default driver for `postgresql://`
    is psycopg 3) and proxied artifacts on S3 (`--artifacts-destination`). boto3 in the server makes one attempt per
    S3 call, so an S3 failure reaches the client as a 500 and the client's retries are what the fault tests prove."""
    port = free_port()
    env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint, "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    command = [
        str(BIN / "mlflow"),
        "server",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=2",
        f"--backend-store-uri={backend_uri.replace('postgresql://', 'postgresql+psycopg2://', 1)}",
        f"--artifacts-destination={artifacts}",
    ]
    return ServerProcess("mlflow", command, env, f"http://127.0.0.1:{port}/health", log_dir)


def prefect_server(database_url: str, home: Path, log_dir: Path) -> ServerProcess:
    """`prefect server start` with its database on PostgreSQL (asyncpg driver), no UI, no analytics."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    return ServerProcess("prefect", command, env, f"http://127.0.0.1:{port}/api/health", log_dir)


class FaultyProxy:
    """A TCP proxy in front of an endpoint. `arm_outage(s)` takes the endpoint down for `s` seconds from the next
    request on, as when the service is gone: open (keep-alive) connections are cut, that request is dropped, and
    every connection made during the outage is reset."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = self.refused = self.cut = 0
        self._open: set[socket.socket] = set()
        self.outage_started: float | None = None
        self.outage_ended: float | None = None
        self._armed: float | None = None
        self._down_until = 0.0
        self._closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm_outage(self, seconds: float) -> None:
        """The outage starts with the next request, so it always hits one."""
        self._armed = seconds

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._start_outage_if_armed()
            if time.monotonic() < self._down_until:
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # RST: the client sees "connection reset by peer"
                continue
            self.connections += 1
            threading.Thread(target=self._pipe_both, args=(client,), daemon=True).start()

    def _start_outage_if_armed(self) -> None:
        with self._lock:
            if self._armed is None:
                return
            now = time.monotonic()
            self._down_until, self._armed = now + self._armed, None
            self.outage_started, self.outage_ended = time.time(), time.time() + self._down_until - now
            for sock in list(self._open):
                self.cut += 1
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _pipe_both(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._open.add(client)
        back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
        back.start()
        self._pipe(client, upstream, requests=True)
        back.join(60)
        self._open.discard(client)
        client.close()
        upstream.close()

    def _pipe(self, source: socket.socket, sink: socket.socket, requests: bool = False) -> None:
        """Copy bytes one way; on the request side, an armed outage starts here (a request on a kept-alive
        connection), before the bytes are sent on."""
        try:
            while data := source.recv(65536):
                if requests and self._armed is not None:
                    self._start_outage_if_armed()
                if requests and time.monotonic() < self._down_until:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
