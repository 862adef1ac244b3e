"""What every results file says about how it was made: the command, the commit (and whether the tree had
uncommitted changes), the machine (its CPU, and whether that computes bf16 natively: `precision: auto` trains in
fp32 where it does not, so times differ between machines by more than their clocks), and its load at the start
and end, so a figure can be traced and a slow one read against how busy the machine was."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from components.common.precision import bf16_native, cpu_info

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


class Provenance:
    """Start it when the benchmark starts; `record()` at the end gives the block its results file begins with."""

    def __init__(self, module: str):
        self.module = module
        self.commit = _git("rev-parse", "HEAD")  # the code the run loads is the code at its start
        self.uncommitted = bool(_git("status", "--porcelain", "--untracked-files=no"))
        self.load_start = os.getloadavg()[0]
        self.started = time.perf_counter()

    def record(self) -> dict:
        return {
            "command": " ".join([f".venv/bin/python -m {self.module}", *sys.argv[1:]]),
            "commit": self.commit,
            "uncommitted_changes": self.uncommitted,
            **({"head_at_end": head} if (head := _git("rev-parse", "HEAD")) != self.commit else {}),
            "load_average_1min": {"start": round(self.load_start, 2), "end": round(os.getloadavg()[0], 2)},
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "machine": {
                "cpus": os.cpu_count(),
                "cpu": cpu_info("model name") or platform.processor() or "unknown",
                "bf16_native": bf16_native(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        }
