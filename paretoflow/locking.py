"""One run at a time on a working state: an exclusive `fcntl.flock` on a lock file, held for the whole run.

The kernel drops the lock when its holder exits, however it exits (SIGKILL included), so a dead run never leaves
a stale lock behind. The holder writes who it is into the file (pid, host, what, since when); a second run waits,
saying once which run holds it, and gives up after a timeout (`PARETOFLOW_LOCK_TIMEOUT_S`, default 6 hours) with
a message naming the holder. Re-entrant within a process: the flow holds the project lock for the whole run and
each step it executes takes it again. On NFS, flock is only as good as the server's lock support.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

TIMEOUT_ENV = "PARETOFLOW_LOCK_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 6 * 3600.0

_held: dict[str, list] = {}  # resolved lock path -> [fd, depth], the locks this process holds
_guard = threading.Lock()


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than this one would wait; the message names it."""


def timeout_from_env() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None


def holder(path: str | Path) -> str:
    """Who holds the lock at `path`, as its holder wrote it (best effort: it may be between runs)."""
    try:
        info = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process (it has not written its name yet)"
    return f"pid {info['pid']} on {info.get('host', '?')} ({info.get('purpose', '?')}, since {info.get('since', '?')})"


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextmanager
def exclusive(
    path: str | Path,
    purpose: str,
    timeout: float | None = None,
    notify: Callable[[str], object] = _stderr,
    poll: float = 0.5,
) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) while the block runs; `purpose` says what holds it."""
    path = Path(path).resolve()
    key = str(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    timeout = timeout_from_env() if timeout is None else timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout, notify, poll)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": purpose,
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        with _guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            os.ftruncate(fd, 0)  # nobody holds it now; the next holder writes its own name
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _acquire(fd: int, path: Path, timeout: float, notify, poll: float) -> None:
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if waited:
                notify(f"got the lock on {path}; going on")
            return
        except BlockingIOError:
            pass
        if not waited:
            notify(
                f"waiting for the lock on {path}: another run is using this working state, held by {holder(path)}; "
                f"waiting up to {timeout:.0f}s ({TIMEOUT_ENV})"
            )
            waited = True
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"gave up after {timeout:.0f}s waiting for the lock on {path}, held by {holder(path)}: let that run "
                f"finish or stop it, then run again (set {TIMEOUT_ENV} to wait longer)"
            )
        time.sleep(min(poll, max(0.01, deadline - time.monotonic())))
