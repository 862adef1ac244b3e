"""A GRPO job stopped by SIGTERM (spot interruption) and later killed by SIGKILL still ends at its planned step,
resumed from its checkpoints with the scheduler and the dynamic reward weights carried over.

Runs the real job entry point (`python -m components.grpo.job`, what `accelerate launch` and SageMaker run)
as a subprocess on the tiny profile.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from components.grpo.checkpoints import CHECKPOINTS, COMPLETE, FINISHED
from tests.components.grpo.dynamic_job import POLICY, dynamic_job
from tests.conftest import REPO

pytestmark = pytest.mark.slow

STEPS = 8


def _complete_steps(folder: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*") if (p / COMPLETE).exists())


def _wait_for(condition, proc, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"job ended early with exit code {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("job made no progress in time")
        time.sleep(0.05)


def test_sigterm_saves_and_sigkill_resumes_to_the_same_final_step(tmp_path, model_cache):
    command = dynamic_job(tmp_path, model_cache, steps=STEPS, save_steps=3)
    policy = tmp_path / POLICY
    checkpoints = policy / CHECKPOINTS

    def start(n: int) -> subprocess.Popen:
        log = open(tmp_path / f"run{n}.log", "w")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    first = start(1)
    _wait_for(lambda: 3 in _complete_steps(checkpoints), first)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=90) == 1
    assert "stopped by SIGTERM" in (tmp_path / "run1.log").read_text()
    stopped_at = max(_complete_steps(checkpoints))
    assert 3 < stopped_at < 6  # a checkpoint written because of the signal, not the regular interval

    second = start(2)
    _wait_for(lambda: 6 in _complete_steps(checkpoints), second)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    assert f"resuming from checkpoint-{stopped_at}" in (tmp_path / "run2.log").read_text()
    assert not (policy / FINISHED).exists()
    saved = json.loads((checkpoints / "checkpoint-6" / "dynamic_weights.json").read_text())

    third = start(3)
    assert third.wait(timeout=120) == 0, (tmp_path / "run3.log").read_text()[-3000:]
    assert "resuming from checkpoint-6" in (tmp_path / "run3.log").read_text()
    assert json.loads((policy / FINISHED).read_text())["steps"] == STEPS
    curves = json.loads((policy / "curves.json").read_text())
    assert [c["step"] for c in curves] == list(range(1, STEPS + 1))  # each step once, across three processes
    trajectory = json.loads((policy / "weight_trajectory.json").read_text())
    meta = {t["step"]: t["meta"] for t in trajectory}  # the learning-rate factor each step ran at (set the step before)
    rates = [c["learning_rate"] / meta[c["step"] - 1] for c in curves]
    assert all(a > b for a, b in zip(rates, rates[1:]))  # the linear schedule carried on, never restarted
    assert trajectory[: len(saved["trajectory"])] == saved["trajectory"]  # restored, then extended
    assert trajectory[-1]["step"] == STEPS
    assert not checkpoints.exists()
