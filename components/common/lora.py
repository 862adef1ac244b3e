"""params `lora` settings -> a PEFT LoraConfig for TRL's trainers (SFT and GRPO alike); None trains every weight."""

from __future__ import annotations


def lora_config(lora):
    if lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
