"""Which float format training runs in: bf16 where the hardware computes it natively, fp32 elsewhere.

On a CPU with AMX or AVX-512 bf16 (and on CUDA GPUs that support it) bf16 autocast roughly halves the time
of a forward and backward pass of a small LM; elsewhere bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

NATIVE_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}


@cache
def cpu_info(field: str) -> str:
    """A field of the first processor in /proc/cpuinfo ("flags", "model name"); "" where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.split(":", 1)[0].strip() == field:
            return line.split(":", 1)[1].strip()
    return ""


def cpu_flags() -> frozenset[str]:
    return frozenset(cpu_info("flags").split())


def bf16_native() -> bool:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(NATIVE_BF16_FLAGS & cpu_flags())


def use_bf16(setting: str) -> bool:
    """`auto` (bf16 where native), `bf16` or `fp32`, as in params."""
    return bf16_native() if setting == "auto" else setting == "bf16"


def bf16_copy(model):
    """A bf16 copy of `model` for inference: parameters cast (buffers such as rotary frequencies stay fp32), the
    class's own forward (a trainer's patched forward would call back into the original), no gradients."""
    import copy

    import torch

    rollout = copy.deepcopy(model).eval()
    rollout.__dict__.pop("forward", None)
    for parameter in rollout.parameters():
        parameter.requires_grad_(False)
        parameter.data = parameter.data.to(torch.bfloat16)
    return rollout


def bf16_rollouts(model) -> None:
    """`model.generate` runs on a bf16 copy of its weights, refreshed from them at every call.

    With bf16 autocast (what the trainer's bf16 flag means on fp32 weights) each forward casts every weight matrix
    again, so a generated token costs a cast of the whole model, the 262k x 640 tied head most of all: sampling
    runs at about half the speed of plain fp32. Training keeps its fp32 weights and optimizer states; the copy
    (half their size, never trained, never saved) costs one cast per call, which in GRPO is once per step, like
    vLLM's weight sync. Sampling from the copy draws from the bf16 model's distribution, as vLLM's bf16 rollouts do.
    """
    import torch

    rollout = bf16_copy(model)
    pairs = [
        (dst, src) for (_, dst), (_, src) in zip(rollout.named_parameters(), model.named_parameters(), strict=True)
    ]

    @torch.no_grad()
    def generate(*args, **kwargs):
        for dst, src in pairs:
            dst.copy_(src)
        return rollout.generate(*args, **kwargs)

    model.generate = generate
