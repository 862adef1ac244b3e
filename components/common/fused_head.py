"""The LM head scores only the positions that carry a label (the reply), on every device.

TRL's fused LM head (`add_fused_lm_head`, used by GRPOTrainer and SFTTrainer) projects through the 262k-token
head, in tiles, only the labelled positions when the device runs Triton kernels (CUDA, XPU); on other devices it
projects every position, prompt and padding included, and masks the result afterwards, so that a compiler sees one
tile shape per batch (its reason: Neuron recompiles on every new shape). A CPU has no such cost, and there the
head is the largest matmul of a step: a GRPO step on the cpu profile scores about 118 positions per completion of
which 24 have a label, an SFT batch about 200 of which 30. Scoring only the labelled positions gives the same
log-probabilities, losses and gradients (the other positions are zeros either way), with a fifth of the work.

TRL decides this in one place, `trl.trainer.utils._use_triton` (it picks the tile kernel elsewhere, which is left
alone); `score_labelled_positions()` makes that decision say yes on a CPU.
"""

from __future__ import annotations

import trl.trainer.utils as trl_utils

_TRL_DECISION = trl_utils._use_triton


def _compact(device) -> bool:
    return device.type == "cpu" or _TRL_DECISION(device)


def score_labelled_positions(enabled: bool = True) -> None:
    """Process-wide: the fused LM head projects only labelled positions on a CPU too (`enabled=False` restores
    TRL's own choice, for a benchmark's baseline)."""
    trl_utils._use_triton = _compact if enabled else _TRL_DECISION


def scores_labelled_positions_only() -> bool:
    import torch

    return trl_utils._use_triton(torch.device("cpu"))
