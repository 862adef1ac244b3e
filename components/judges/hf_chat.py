"""Judge backend: an in-process transformers causal LM (Gemma 3 270M in the cpu profile), batched.

Conversations are rendered with the tokenizer's chat template, sorted by length so a batch pads little,
left-padded (a decoder continues from the last real token) and generated greedily unless a temperature
is given. The model loads on the first call, so building a client costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from components.judges.base import Conversation, JudgeError, report_progress
from components.models import policy_dir
from paretoflow.config import HFJudge, PretrainedModel, TinyModel
from paretoflow.hashing import text_sha


class HFChatClient:
    backend = "hf"

    def __init__(self, settings: HFJudge, cache_dir: str | Path):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.model = _model_name(settings.model)
        self._model = None
        self._tokenizer = None

    def _directory(self) -> Path:
        return Path(policy_dir(self.settings.model, self.cache_dir))

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = self._directory()
        tokenizer = AutoTokenizer.from_pretrained(directory)
        if not tokenizer.chat_template:
            raise JudgeError(f"judge model {directory} has no chat template; set one on its tokenizer (see models.py)")
        tokenizer.padding_side = "left"
        tokenizer.truncation_side = "left"  # keep the end of a long prompt: the question and the reply slot
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
        model.eval()
        self._model, self._tokenizer = model, tokenizer

    def chat(
        self,
        conversations: list[Conversation],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_reply: Callable[[int, str], None] | None = None,
    ) -> list[str]:
        """One reply per conversation, in input order; `on_reply(index, text)` fires after each batch."""
        import torch

        if not conversations:
            return []
        if self._model is None:
            self._load()
        tok, model = self._tokenizer, self._model
        texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        replies: list[str] = [""] * len(texts)
        size = self.settings.batch_size
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            enc = tok(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.settings.max_input_tokens,
                add_special_tokens=False,  # the chat template already writes <bos>
            )
            with torch.inference_mode():
                out = model.generate(
                    **enc, max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id, top_p=None, top_k=None, **sampling
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(batch, tok.batch_decode(new, skip_special_tokens=True)):
                replies[i] = text.strip()
                if on_reply is not None:
                    on_reply(i, replies[i])
            report_progress(f"hf {self.model}", start, start + len(batch), len(order))
        return replies


def _model_name(spec) -> str:
    """What identifies the weights in cache keys, known before anything is built or loaded."""
    if isinstance(spec, PretrainedModel):
        return spec.name_or_path
    if isinstance(spec, TinyModel):
        return "tiny-causal-lm-" + text_sha(spec.model_dump_json(), length=10)
    return spec.package
