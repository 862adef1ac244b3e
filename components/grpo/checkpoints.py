"""Resumable GRPO runs: which state a policy directory is in, complete checkpoints, a clean stop on SIGTERM.

A policy directory holds `run_spec.json` (the fingerprint of everything that shapes the run). With the same
fingerprint a re-run skips a finished policy (`finished.json`, written last) and resumes an unfinished one
from its newest *complete* checkpoint: Trainer writes model, optimizer, scheduler and RNG state, the callbacks
add their own state in `on_save`, and the marker below comes last, so a checkpoint cut short by SIGKILL is
never resumed from. Another fingerprint means other settings: the directory starts over.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback

SPEC = "run_spec.json"
FINISHED = "finished.json"
COMPLETE = "checkpoint_complete"
CHECKPOINTS = "checkpoints"
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
    """The newest `checkpoint-N` carrying the completion marker; incomplete ones are removed."""
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name)) and p.is_dir())
    for _, path in reversed(found):
        if (path / COMPLETE).exists():
            return path
        shutil.rmtree(path, ignore_errors=True)
    return None


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
    """Add it last: its marker says every other part of the checkpoint has been written."""

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            (folder / COMPLETE).write_text(str(state.global_step))


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
