"""Resumable GRPO runs: which state a policy directory is in, checkpoints that are what they claim, a clean
stop on SIGTERM.

A policy directory holds `run_spec.json` (the fingerprint of everything that shapes the run). With the same
fingerprint a re-run skips a finished policy (`finished.json`, written last) and resumes an unfinished one
from its newest *verified* checkpoint: Trainer writes model, optimizer, scheduler and RNG state, the callbacks
add their own state in `on_save`, and the marker comes last, listing every file with its size (and the sha256
of each small one). Resume checks the files against it, so a checkpoint cut short by SIGKILL (no marker) or
damaged afterwards (a truncated copy, a half-synced spot restore) is removed, with a message, and the run
falls back to the previous one. Another fingerprint means other settings: the directory starts over.

For the fault test only: with `PARETOFLOW_SIGKILL_BEFORE_MARKER=<step>` in its environment a process kills
itself with SIGKILL once checkpoint-<step> is written but before its marker is (the worst moment to die).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback

SPEC = "run_spec.json"
FINISHED = "finished.json"
COMPLETE = "checkpoint_complete.json"
CHECKPOINTS = "checkpoints"
HASHED_BELOW = 1 << 20  # bytes: config, trainer state, scheduler, RNG and callback state get a sha256 too
KILL_BEFORE_MARKER = "PARETOFLOW_SIGKILL_BEFORE_MARKER"
_STEP = re.compile(r"^checkpoint-(\d+)$")


def run_state(out: Path, fingerprint: str) -> tuple[str, Path | None]:
    """("finished", None), ("resume", checkpoint) or ("fresh", None); a stale directory is cleared."""
    spec = out / SPEC
    if spec.exists() and json.loads(spec.read_text()).get("fingerprint") == fingerprint:
        if (out / FINISHED).exists():
            shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
            return "finished", None
        checkpoint = last_complete_checkpoint(out / CHECKPOINTS)
        return ("resume", checkpoint) if checkpoint else ("fresh", None)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    spec.write_text(json.dumps({"fingerprint": fingerprint}, indent=2) + "\n")
    return "fresh", None


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest `checkpoint-N` that its marker vouches for; newer ones, cut short or damaged, are removed
    with a message saying why, and the search falls back to the one before."""
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name)) and p.is_dir())
    for _, path in reversed(found):
        problem = verify(path)
        if problem is None:
            return path
        shutil.rmtree(path, ignore_errors=True)
        print(f"grpo: {path} is not a whole checkpoint ({problem}); removed it, falling back", flush=True)
    if found:
        print(f"grpo: no whole checkpoint left in {folder}; the run starts from step 0", flush=True)
    return None


def mark_complete(folder: Path, step: int) -> None:
    """Flush the checkpoint's files to disk, then write the marker listing them (atomically, by rename): a
    marker present means every file it lists was whole and durable when it was written."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE):
        _fsync(path)
        files[path.relative_to(folder).as_posix()] = _describe(path)
    if os.environ.get(KILL_BEFORE_MARKER) == str(step):
        os.kill(os.getpid(), signal.SIGKILL)
    partial = folder / f"{COMPLETE}.partial"
    partial.write_text(json.dumps({"step": step, "files": files}, indent=2, sort_keys=True) + "\n")
    _fsync(partial)
    os.replace(partial, folder / COMPLETE)
    _fsync(folder)


def verify(folder: Path) -> str | None:
    """Why `folder` is not the checkpoint its marker lists (a missing marker, file, size or hash), or None."""
    marker = folder / COMPLETE
    if not marker.exists():
        return "no completion marker: cut short while being written"
    try:
        listed = json.loads(marker.read_text())["files"]
        files = {name: (int(entry["size"]), entry.get("sha256")) for name, entry in listed.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable completion marker {marker.name} ({exc!r})"
    for name, (size, sha256) in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if (actual := path.stat().st_size) != size:
            return f"{name} is {actual} bytes, the marker lists {size}"
        if sha256 is not None and _sha256(path) != sha256:
            return f"{name} does not match the sha256 in the marker"
    return None


def _describe(path: Path) -> dict:
    size = path.stat().st_size
    return {"size": size, "sha256": _sha256(path)} if size < HASHED_BELOW else {"size": size}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync(path: Path) -> None:
    """To disk, so that a host crash cannot leave a marker over files still in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def forget_finished(policies: Path) -> list[str]:
    """Before a forced run (`paretoflow run --force`): every policy under `policies` trains again from its start,
    so finished markers and checkpoints go; returns the names of the policies that had finished."""
    policies = Path(policies)
    if not policies.is_dir():
        return []
    finished = sorted(p.parent.name for p in policies.glob(f"*/{FINISHED}"))
    for folder in (p for p in policies.iterdir() if p.is_dir()):
        (folder / FINISHED).unlink(missing_ok=True)
        shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    return finished


def mark_finished(out: Path, summary: dict) -> None:
    (out / FINISHED).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


class CheckpointMarker(TrainerCallback):
    """Add it last: its marker says every other part of the checkpoint has been written. Only the process
    that saves writes it (in a multi-GPU launch the others wrote nothing there)."""

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if args.should_save and folder.is_dir():
            mark_complete(folder, state.global_step)


class StopOnSigterm(TrainerCallback):
    """SIGTERM (a spot interruption, `docker stop`, Prefect cancelling) only raises a flag; at the end of the
    running step the trainer saves a checkpoint and stops, and the caller reports the stop as an error."""

    def __init__(self):
        self.requested = False

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers live in the main thread; a worker thread keeps the default behaviour
            return
        previous = signal.signal(signal.SIGTERM, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


class NoFinalCheckpoint(TrainerCallback):
    """A run that completes is exported and its checkpoints removed (`mark_finished`), so the checkpoint Trainer
    writes after the last step (model, optimizer and scheduler: about 3 GB for Gemma 3 270M) would be written only
    to be deleted. Add it after `StopOnSigterm`: a run stopped by SIGTERM on its last step still saves."""

    def __init__(self, stop: StopOnSigterm):
        self.stop = stop

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps and not self.stop.requested:
            control.should_save = False
        return control
