"""A real process holding a paretoflow lock, for tests of what a second run does meanwhile."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HOLD = textwrap.dedent(
    """
    import sys, time
    from paretoflow.locking import exclusive
    with exclusive(sys.argv[1], sys.argv[2], timeout=0):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
    """
)


def hold(lock: str | Path, purpose: str, seconds: float = 3600) -> subprocess.Popen:
    """Start a process that takes the lock (failing at once when it is taken) and keeps it for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), purpose, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held", "the holder could not take the lock"
    return proc


def try_once(lock: str | Path) -> subprocess.CompletedProcess:
    """Another process trying to take the lock without waiting (non-zero exit when it is held)."""
    return subprocess.run([sys.executable, "-c", HOLD, str(lock), "probe", "0"], capture_output=True, text=True)
