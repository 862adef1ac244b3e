"""One scorer per objective, in [0, 1], with TRL's reward signature: the same functions serve GRPO and evaluation.

`f(prompts, completions, **kwargs) -> list[float]`; prompts and completions may be chat messages or text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paretoflow.config import Objective, Params

RewardFunc = Callable[..., list[float]]


def reply_text(completion) -> str:
    """The assistant's text from a TRL completion (a string or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role", "assistant") == "assistant")


def as_messages(prompt) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


class RewardModelScorer:
    """A trained reward model: raw scores for ranking, sigmoid(score) in [0, 1] as the objective's reward."""

    def __init__(self, path: str | Path, batch_size: int = 16):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.truncation_side = "left"
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        self.max_length = min(self.tokenizer.model_max_length, 512)
        self.batch_size = batch_size
        self._torch = torch

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        texts = [
            self.tokenizer.apply_chat_template([*as_messages(p), {"role": "assistant", "content": r}], tokenize=False)
            for p, r in zip(prompts, replies)
        ]
        scores: list[float] = []
        with self._torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[i : i + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                scores += self.model(**batch).logits[:, 0].float().tolist()
        return scores

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        raw = self.raw(list(prompts), [reply_text(c) for c in completions])
        return self._torch.sigmoid(self._torch.tensor(raw)).tolist()


def concision(target_words: int) -> RewardFunc:
    """1 at or under `target_words` words, falling as target/words beyond it; an empty reply scores 0."""

    def score(prompts, completions, **kwargs) -> list[float]:
        out = []
        for completion in completions:
            words = len(reply_text(completion).split())
            out.append(0.0 if words == 0 else min(1.0, target_words / words))
        return out

    return score


def reward_functions(params: Params, reward_models_dir: str | Path) -> list[RewardFunc]:
    """The objectives' scorers, in params order, each named after its objective (TRL logs them by name)."""
    return [_named(_scorer(o, Path(reward_models_dir)), o.name) for o in params.objectives]


def _scorer(objective: Objective, reward_models_dir: Path) -> RewardFunc:
    if objective.scorer == "concision":
        return concision(objective.target_words)
    path = reward_models_dir / objective.name
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no reward model for {objective.name!r} at {path}; run `paretoflow train-rm` first")
    return RewardModelScorer(path)


def _named(func: RewardFunc, name: str) -> RewardFunc:
    def scorer(prompts, completions, **kwargs):
        return func(prompts, completions, **kwargs)

    scorer.__name__ = name
    return scorer
