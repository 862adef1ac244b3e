"""Which float format training runs in: bf16 where the hardware computes it natively, fp32 elsewhere.

On a CPU with AMX or AVX-512 bf16 (and on CUDA GPUs that support it) bf16 autocast roughly halves the time
of a forward and backward pass of a small LM; elsewhere bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

NATIVE_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}


@cache
def cpu_flags() -> frozenset[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return frozenset()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def bf16_native() -> bool:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(NATIVE_BF16_FLAGS & cpu_flags())


def use_bf16(setting: str) -> bool:
    """`auto` (bf16 where native), `bf16` or `fp32`, as in params."""
    return bf16_native() if setting == "auto" else setting == "bf16"
