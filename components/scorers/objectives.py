"""One scorer per objective, in [0, 1], with TRL's reward signature: the same functions serve GRPO and evaluation.

`f(prompts, completions, **kwargs) -> list[float]`; prompts and completions may be chat messages or text.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from components.common.messages import as_messages, reply_text
from paretoflow.schema import Objective, Params, RewardOutput

RewardFunc = Callable[..., list[float]]


class RewardModelScorer:
    """A trained reward model: raw scores for ranking (one head of it when it has one per objective).

    Inputs are truncated from the left at the length the model was trained with, so the reply is kept.
    """

    def __init__(self, path: str | Path, batch_size: int = 16, head: int = 0):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.truncation_side = "left"
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        self.max_length = min(self.tokenizer.model_max_length, 512)
        self.batch_size = batch_size
        self.head = head
        self._torch = torch

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        texts = [
            self.tokenizer.apply_chat_template([*as_messages(p), {"role": "assistant", "content": r}], tokenize=False)
            for p, r in zip(prompts, replies)
        ]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths per batch: less padding
        scores = [0.0] * len(texts)
        with self._torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                chunk = order[i : i + self.batch_size]
                batch = self.tokenizer(
                    [texts[j] for j in chunk],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                for j, score in zip(chunk, self.model(**batch).logits[:, self.head].float().tolist()):
                    scores[j] = score
        return scores

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        raw = self.raw(list(prompts), [reply_text(c) for c in completions])
        return self._torch.sigmoid(self._torch.tensor(raw)).tolist()


def reference_statistics(raw: list[float], size: int) -> dict:
    """What `normalised` and `par` need: mean and spread of rewards on reference replies, and `size` quantiles."""
    values = np.asarray(raw, dtype=float)
    quantiles = np.quantile(values, (np.arange(size) + 0.5) / size)
    return {"mean": float(values.mean()), "std": float(values.std()) or 1.0, "quantiles": quantiles.tolist()}


def transformed(scorer: RewardModelScorer, output: RewardOutput, reference: dict | None) -> RewardFunc:
    """Raw reward -> [0, 1]: sigmoid, normalised by the reference statistics, or PAR (algorithms.md 8.1).

    PAR's references here are quantiles of the reward on the training replies (one population for all
    prompts), not samples of the reference policy per prompt as in the paper.
    """
    if output.transform != "sigmoid" and reference is None:
        raise FileNotFoundError(
            f"reward_model.output.transform={output.transform} needs the reference statistics saved at training "
            "(references.json beside the model); retrain with `paretoflow train-rm`"
        )

    def score(prompts, completions, **kwargs) -> list[float]:
        r = np.asarray(scorer.raw(list(prompts), [reply_text(c) for c in completions]))
        if output.transform == "normalised":
            r = (r - reference["mean"]) / reference["std"]
        if output.transform == "par":
            refs = np.asarray(reference["quantiles"])
            return _sigmoid(output.par_k * (r[:, None] - refs[None, :])).mean(axis=1).tolist()
        return _sigmoid(r).tolist()

    return score


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def concision(target_words: int) -> RewardFunc:
    """1 at or under `target_words` words, falling as target/words beyond it; an empty reply scores 0."""

    def score(prompts, completions, **kwargs) -> list[float]:
        out = []
        for completion in completions:
            words = len(reply_text(completion).split())
            out.append(0.0 if words == 0 else min(1.0, target_words / words))
        return out

    return score


def reward_functions(
    params: Params, reward_models_dir: str | Path, objectives: list[Objective] | None = None
) -> list[RewardFunc]:
    """The objectives' scorers (default: params.objectives), in order, each named after its objective (TRL logs
    them by name)."""
    loaded: dict[Path, RewardModelScorer] = {}
    chosen = params.objectives if objectives is None else objectives
    return [_named(_scorer(o, params, Path(reward_models_dir), loaded), o.name) for o in chosen]


def reward_model_location(objective: str, params: Params, reward_models_dir: Path) -> Path:
    """Where an objective's model lives: its own directory, or the shared multi-head one."""
    name = "shared" if params.reward_model.heads == "shared" else objective
    return reward_models_dir / name


def _scorer(objective: Objective, params: Params, reward_models_dir: Path, loaded: dict) -> RewardFunc:
    if objective.scorer == "concision":
        return concision(objective.target_words)
    if objective.scorer == "novelty":
        return _novelty(params, loaded)
    if objective.scorer == "rubric":  # rubrics from the rubrics step, beside the reward models
        from components.scorers.rubric import rubric_reward

        rubrics_dir = reward_models_dir.parent / "rubrics"
        return rubric_reward(objective.name, params.rubrics.judge, params.cache_dir, rubrics_dir)
    path = reward_model_location(objective.name, params, reward_models_dir)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no reward model for {objective.name!r} at {path}; run `paretoflow train-rm` first")
    scorer = head_scorer(path, objective.name, loaded)
    references = path / "references.json"
    reference = json.loads(references.read_text()).get(objective.name) if references.exists() else None
    return transformed(scorer, params.reward_model.output, reference)


def head_scorer(path: Path, objective: str, loaded: dict) -> RewardModelScorer:
    """The model at `path` reading `objective`'s head: a shared model has one head per objective (its label),
    any other model one. `loaded` (path -> scorer) loads each model once; other heads are views on it."""
    if path not in loaded:
        loaded[path] = RewardModelScorer(path)
    base = loaded[path]
    config = base.model.config
    head = config.label2id.get(objective, 0) if config.num_labels > 1 else 0
    return base if head == base.head else _with_head(base, head)


def _novelty(params: Params, loaded: dict):
    """One encoder per process for every novelty scorer (GRPO objective and audit alike)."""
    from components.common.model_store import encoder_dir
    from components.scorers.novelty import NoveltyScorer

    path = Path(encoder_dir(params.novelty.encoder, params.cache_dir))
    key = ("novelty", path, params.novelty.tactic_weight)
    if key not in loaded:
        loaded[key] = NoveltyScorer(path, params.novelty.tactic_weight)
    return loaded[key]


def _with_head(base: RewardModelScorer, head: int) -> RewardModelScorer:
    """Another view of a loaded multi-head model reading another head (the weights are shared, not copied)."""
    view = copy.copy(base)
    view.head = head
    return view


def _named(func: RewardFunc, name: str) -> RewardFunc:
    def scorer(prompts, completions, **kwargs):
        return func(prompts, completions, **kwargs)

    scorer.__name__ = name
    return scorer
