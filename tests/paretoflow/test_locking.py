"""The project lock against real processes: a second holder waits and says who holds it, gives up after its
timeout naming the holder, goes on when the holder exits (even by SIGKILL), and two processes never interleave."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from paretoflow.locking import LockTimeout, exclusive
from tests.lock_holder import hold, try_once


def test_a_second_process_waits_naming_the_holder_then_times_out(tmp_path):
    lock = tmp_path / "artifacts" / "paretoflow.lock"
    holder = hold(lock, "training_pipeline flow run nightly")
    said: list[str] = []
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeout) as failed, exclusive(lock, "manual retrain", timeout=1.0, notify=said.append):
            pass
        assert 1.0 <= time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert len(said) == 1 and f"held by pid {holder.pid} on " in said[0] and "flow run nightly" in said[0]
    message = str(failed.value)
    assert "gave up after 1s" in message and f"pid {holder.pid}" in message and "PARETOFLOW_LOCK_TIMEOUT_S" in message


def test_the_lock_passes_on_when_the_holder_exits_or_is_killed(tmp_path):
    lock = tmp_path / "paretoflow.lock"
    holder = hold(lock, "short run", seconds=1.0)
    said: list[str] = []
    started = time.monotonic()
    with exclusive(lock, "next run", timeout=30, notify=said.append):
        assert time.monotonic() - started >= 0.9, "got the lock only once the holder had let go"
        assert "pid" in lock.read_text() and "next run" in lock.read_text()
    assert holder.wait(timeout=30) == 0
    assert said[0].startswith("waiting for the lock") and said[-1].startswith("got the lock")
    killed = hold(lock, "killed run")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    with exclusive(lock, "after a kill", timeout=5, notify=said.append):  # the kernel released it
        pass


def test_reentrant_in_a_process_exclusive_across_processes(tmp_path):
    lock = tmp_path / "paretoflow.lock"
    with exclusive(lock, "flow"), exclusive(lock, "a step of the flow"):  # the flow holds it, each step takes it again
        probe = try_once(lock)
        assert probe.returncode != 0 and "LockTimeout" in probe.stderr
    done = try_once(lock)
    assert done.returncode == 0, done.stderr


def test_two_processes_never_interleave_inside_the_lock(tmp_path):
    """Read-modify-write of a counter with a pause in between: without the lock, updates get lost."""
    counter = tmp_path / "counter"
    counter.write_text("0")
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from paretoflow.locking import exclusive
        counter = Path(sys.argv[1])
        for _ in range(15):
            with exclusive(sys.argv[2], "counter", timeout=60, notify=lambda m: None):
                value = int(counter.read_text())
                time.sleep(0.01)
                counter.write_text(str(value + 1))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(counter), str(tmp_path / "lock")]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert counter.read_text() == "30"
