"""A GRPO job SIGKILLed after checkpoint-4's optimizer state is written but before its marker resumes, in a new
process, from checkpoint-2; damage to a real trainer checkpoint is caught by size or hash.

The real job entry point (`python -m components.grpo.job`) runs on the tiny profile and kills itself at that
moment through the writer's `PARETOFLOW_SIGKILL_BEFORE_MARKER` hook.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest

from components.grpo import checkpoints as ckpt
from tests.components.grpo.dynamic_job import POLICY, dynamic_job
from tests.conftest import REPO

pytestmark = pytest.mark.slow

STEPS = 5  # a completed run writes no checkpoint after its last step: the kill comes at an earlier one
KILLED = 4


@pytest.fixture(scope="module")
def killed(tmp_path_factory, model_cache):
    """A dynamic-weights run killed at checkpoint-4, before its marker; `pristine` keeps a copy of its checkpoints
    as the kill left them, and `run(n)` runs the job again as a new process."""
    root = tmp_path_factory.mktemp("killed")
    command = dynamic_job(root, model_cache, steps=STEPS, save_steps=2)
    policy = root / POLICY

    def run(n: int, env: dict[str, str] | None = None) -> tuple[int, str]:
        log = root / f"run{n}.log"
        with log.open("w") as out:
            code = subprocess.run(
                command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, timeout=300
            ).returncode
        return code, log.read_text()

    code, log = run(1, {ckpt.KILL_BEFORE_MARKER: str(KILLED)})
    assert code == -signal.SIGKILL, log[-3000:]
    shutil.copytree(policy / ckpt.CHECKPOINTS, root / "pristine")
    return policy, root / "pristine", run


def test_kill_before_the_marker_resumes_from_the_previous_checkpoint(killed):
    policy, _, run = killed
    checkpoints = policy / ckpt.CHECKPOINTS
    cut_short, previous = checkpoints / "checkpoint-4", checkpoints / "checkpoint-2"
    assert (cut_short / "optimizer.pt").is_file() and (cut_short / "dynamic_weights.json").is_file()
    assert not (cut_short / ckpt.COMPLETE).exists()  # killed between the two
    listed = json.loads((previous / ckpt.COMPLETE).read_text())["files"]
    assert {"optimizer.pt", "scheduler.pt", "trainer_state.json", "dynamic_weights.json"} <= set(listed)

    code, log = run(2)
    assert code == 0, log[-3000:]
    assert f"{cut_short} is not a whole checkpoint (no completion marker" in log
    assert "resuming from checkpoint-2" in log
    assert json.loads((policy / ckpt.FINISHED).read_text())["steps"] == STEPS
    curves = json.loads((policy / "curves.json").read_text())
    assert [c["step"] for c in curves] == list(range(1, STEPS + 1))  # steps 3 to 5 trained after the resume, each once


def _truncate_optimizer(path):
    with open(path / "optimizer.pt", "r+b") as fh:
        fh.truncate(fh.seek(0, os.SEEK_END) - 1)


def _flip_a_byte_of_trainer_state(path):
    data = bytearray((path / "trainer_state.json").read_bytes())
    data[data.index(b"global_step") + 1] ^= 0x20  # same size: only the hash can tell
    (path / "trainer_state.json").write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (None, None),
        (_truncate_optimizer, "optimizer.pt is"),
        (_flip_a_byte_of_trainer_state, "trainer_state.json does not match the sha256"),
    ],
    ids=["whole", "truncated-optimizer", "corrupted-trainer-state"],
)
def test_damage_to_a_real_checkpoint_is_caught_by_size_or_hash(killed, tmp_path, capsys, damage, reason):
    _, pristine, _ = killed
    checkpoints = shutil.copytree(pristine, tmp_path / "checkpoints")
    newest = checkpoints / "checkpoint-4"
    ckpt.mark_complete(newest, KILLED)  # whole as the kill left it: marked, then damaged afterwards
    if damage is None:
        assert ckpt.last_complete_checkpoint(checkpoints) == newest
        return
    damage(newest)
    assert ckpt.last_complete_checkpoint(checkpoints) == checkpoints / "checkpoint-2"
    assert f"{newest} is not a whole checkpoint ({reason}" in capsys.readouterr().out
