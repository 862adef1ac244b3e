"""What a block of work cost: wall seconds, CPU seconds and GPU seconds, logged with every step.

CPU seconds add user and system time of this process and of its finished child processes (an
`accelerate launch` subprocess counts). GPU seconds are the time elapsed on each visible device between
two CUDA events, summed over devices: the GPU time a run holds (what clouds bill), not kernel busy time.
"""

from __future__ import annotations

import glob
import resource
import time


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Meter:
    """Started on creation; `metrics()` reads the usage so far under `time/<name>_*` metric names."""

    def __init__(self):
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()
        self._events = _cuda_events()

    def wall_seconds(self) -> float:
        return time.perf_counter() - self._wall

    def cpu_seconds(self) -> float:
        return _cpu_seconds() - self._cpu

    def gpu_seconds(self) -> float | None:
        if not self._events:
            return None
        import torch

        total = 0.0
        for device, start in self._events:
            with torch.cuda.device(device):
                end = torch.cuda.Event(enable_timing=True)
                end.record()
                end.synchronize()
                total += start.elapsed_time(end) / 1000
        return total

    def metrics(self, name: str) -> dict[str, float]:
        out = {f"time/{name}_seconds": self.wall_seconds(), f"time/{name}_cpu_seconds": self.cpu_seconds()}
        gpu = self.gpu_seconds()
        if gpu is not None:
            out[f"time/{name}_gpu_seconds"] = gpu
        return out


def _cuda_events() -> list:
    """A timing event recorded now on every visible CUDA device; none without an NVIDIA device node (so a
    CPU machine never imports torch for this)."""
    if not glob.glob("/dev/nvidia[0-9]*"):
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    events = []
    for device in range(torch.cuda.device_count()):
        with torch.cuda.device(device):
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            events.append((device, event))
    return events
