"""Checkpoints are what their marker claims: the marker lists every file with its size (and a sha256 for small
ones), and resume falls back past a checkpoint cut short or damaged since. These tests write real files; the
kill test (test_checkpoints_kill.py) dies for real between the optimizer state and the marker."""

from __future__ import annotations

import hashlib
import json

import pytest

from components.grpo import checkpoints as ckpt

SMALL = b'{"global_step": 4}\n'


def _checkpoint(folder, step: int, large_size: int = 100):
    """A checkpoint-like folder: a (possibly large) weights file, small state files, one in a subfolder; marked."""
    path = folder / f"checkpoint-{step}"
    (path / "extra").mkdir(parents=True)
    (path / "optimizer.pt").write_bytes(b"\x01" * large_size)
    (path / "trainer_state.json").write_bytes(SMALL)
    (path / "extra" / "dynamic_weights.json").write_text("{}\n")
    ckpt.mark_complete(path, step)
    return path


def test_marker_lists_every_file_with_its_size_and_hashes_the_small_ones(tmp_path):
    path = _checkpoint(tmp_path, 4, large_size=ckpt.HASHED_BELOW)
    marker = json.loads((path / ckpt.COMPLETE).read_text())
    assert marker["step"] == 4
    assert marker["files"] == {
        "optimizer.pt": {"size": ckpt.HASHED_BELOW},  # large: its size only, read back cheaply on resume
        "trainer_state.json": {"size": len(SMALL), "sha256": hashlib.sha256(SMALL).hexdigest()},
        "extra/dynamic_weights.json": {"size": 3, "sha256": hashlib.sha256(b"{}\n").hexdigest()},
    }
    assert sorted(p.name for p in path.iterdir()) == [ckpt.COMPLETE, "extra", "optimizer.pt", "trainer_state.json"]
    assert ckpt.verify(path) is None


def _truncate_large(path):
    with open(path / "optimizer.pt", "r+b") as fh:
        fh.truncate(ckpt.HASHED_BELOW // 2)


def _flip_a_byte_of_small(path):
    data = bytearray((path / "trainer_state.json").read_bytes())
    data[-2] ^= 1
    (path / "trainer_state.json").write_bytes(bytes(data))  # same size: only the hash can tell


def _garble_marker(path):
    (path / ckpt.COMPLETE).write_text('{"files": ')


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate_large, f"optimizer.pt is {ckpt.HASHED_BELOW // 2} bytes, the marker lists {ckpt.HASHED_BELOW}"),
        (_flip_a_byte_of_small, "trainer_state.json does not match the sha256 in the marker"),
        (lambda p: (p / "extra" / "dynamic_weights.json").unlink(), "extra/dynamic_weights.json is missing"),
        (_garble_marker, "unreadable completion marker"),
        (lambda p: (p / ckpt.COMPLETE).unlink(), "no completion marker"),
    ],
    ids=["truncated-large-file", "corrupted-small-file", "missing-file", "garbled-marker", "no-marker"],
)
def test_a_damaged_newest_checkpoint_is_removed_and_resume_falls_back(tmp_path, capsys, damage, reason):
    previous = _checkpoint(tmp_path, 2, large_size=ckpt.HASHED_BELOW)
    newest = _checkpoint(tmp_path, 4, large_size=ckpt.HASHED_BELOW)
    assert ckpt.last_complete_checkpoint(tmp_path) == newest  # whole: it is the one resumed
    damage(newest)
    assert ckpt.last_complete_checkpoint(tmp_path) == previous
    assert not newest.exists()
    said = capsys.readouterr().out
    assert f"{newest} is not a whole checkpoint ({reason}" in said and "falling back" in said


def test_with_no_whole_checkpoint_the_run_starts_over_and_says_so(tmp_path, capsys):
    _flip_a_byte_of_small(_checkpoint(tmp_path, 2))
    assert ckpt.last_complete_checkpoint(tmp_path) is None
    assert "no whole checkpoint left" in capsys.readouterr().out


def test_run_state_resumes_only_matching_complete_checkpoints(tmp_path):
    out = tmp_path / "policy-0"
    assert ckpt.run_state(out, "f1") == ("fresh", None)
    for step in (2, 4, 6):
        _checkpoint(out / ckpt.CHECKPOINTS, step)
    (out / ckpt.CHECKPOINTS / "checkpoint-6" / ckpt.COMPLETE).unlink()  # cut short by a kill
    assert ckpt.run_state(out, "f1") == ("resume", out / ckpt.CHECKPOINTS / "checkpoint-4")
    assert not (out / ckpt.CHECKPOINTS / "checkpoint-6").exists()
    ckpt.mark_finished(out, {"steps": 8})
    assert ckpt.run_state(out, "f1") == ("finished", None)
    assert ckpt.run_state(out, "f2") == ("fresh", None)  # other settings: starts over
    assert not (out / ckpt.FINISHED).exists()


def _step_end_controls(max_steps: int, save_steps: int, sigterm_at: int | None = None) -> list[bool]:
    """should_save after each step, as Trainer's own flow callback and the run's callbacks leave it."""
    from transformers import TrainingArguments
    from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback, TrainerControl, TrainerState

    from components.grpo.checkpoints import NoFinalCheckpoint, StopOnSigterm

    stop = StopOnSigterm()
    handler = CallbackHandler([DefaultFlowCallback, stop, NoFinalCheckpoint(stop)], None, None, None, None)
    args = TrainingArguments(output_dir="unused", save_strategy="steps", save_steps=save_steps, report_to="none")
    state = TrainerState(max_steps=max_steps, save_steps=save_steps)
    saves = []
    for step in range(1, max_steps + 1):
        state.global_step = step
        stop.requested = step == sigterm_at
        saves.append(handler.on_step_end(args, state, TrainerControl()).should_save)
    return saves


def test_a_completed_run_writes_no_checkpoint_after_its_last_step():
    assert _step_end_controls(max_steps=5, save_steps=2) == [False, True, False, True, False]
    assert _step_end_controls(max_steps=4, save_steps=2) == [False, True, False, False]


def test_a_run_stopped_by_sigterm_on_its_last_step_still_saves():
    assert _step_end_controls(max_steps=5, save_steps=2, sigterm_at=5)[-1] is True
