"""The start policy: the policy GRPO trains from and every later comparison is made against."""

from __future__ import annotations

from pathlib import Path

from components.common.model_store import policy_dir
from paretoflow import paths

START_POLICY = "policy"  # the SFT model's folder inside the sft step's output


def start_policy_dir(params, sft_dir: Path = paths.SFT) -> Path | str:
    """The SFT policy when `sft.enabled`, else the pretrained `policy` (an instruct model) as it is."""
    if params.sft.enabled:
        path = Path(sft_dir) / START_POLICY
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no SFT policy at {path}; run `paretoflow sft` first (or set sft.enabled: false)")
        return path
    return policy_dir(params.policy, params.cache_dir)
