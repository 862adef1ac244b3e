"""Rewarded soups (algorithms.md 6.1): candidates by interpolating the weights of per-objective specialists.

Every specialist starts from the same base and is exported as a full (merged) model, so mixing full weights
is also the exact mix of LoRA updates: sum_i l_i (W0 + B_i A_i) = W0 + sum_i l_i B_i A_i. Averaging the A and
B factors separately, as the paper's repo does, would not be (sum l B)(sum l A) != sum l B A.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def make_soup(specialists: list[Path], coefficients: list[float], out: Path) -> Path:
    """sum_i c_i theta_i over floating tensors (c normalised to sum 1), saved as a plain transformers directory;
    two models are in memory at a time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    total = sum(coefficients)
    if total <= 0 or any(c < 0 for c in coefficients):
        raise ValueError(f"mixing coefficients must be non-negative with a positive sum, got {coefficients}")
    coefficients = [c / total for c in coefficients]
    model = AutoModelForCausalLM.from_pretrained(specialists[0], dtype=torch.float32)
    mixed = {k: v * coefficients[0] if v.is_floating_point() else v for k, v in model.state_dict().items()}
    for path, c in zip(specialists[1:], coefficients[1:]):
        other = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict()
        for key, value in mixed.items():
            if value.is_floating_point():
                value.add_(other[key], alpha=c)
        del other
    model.load_state_dict(mixed)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(specialists[0]).save_pretrained(out)
    return out
