"""`scorer: reward_model` and `rm:PATH[#objective]`: a trained reward model's raw score, and the transforms
(sigmoid, normalised, PAR) that put it in [0, 1]. The scores in [0, 1] that GRPO, evaluation and `rm:` scorers read
pass the judge guard (components.rubrics.guard): a reply it flags gets 0, the floor, as from a rubric judge; raw
scores (for ranking) do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from components.common.messages import as_messages, reply_text
from components.common.stats import sigmoid
from components.reward_models.embedding_head import HEAD_FILE, EmbeddingHeadScorer, is_embedding_head
from components.rubrics import guard
from components.scorers.raw_reward import RawRewardScorer

if TYPE_CHECKING:
    from components.scorers.objectives import RewardFunc, ScorerContext
    from paretoflow.schema import Objective, Params, RewardOutput


class RewardModelScorer(RawRewardScorer):
    """A trained reward model: raw scores for ranking (one head of it when it has one per objective), their
    sigmoid as the score in [0, 1].

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

    @property
    def labels(self) -> dict[str, int]:
        """Objective -> head, for a model with one head per objective (heads: shared); empty for one head."""
        config = self.model.config
        return dict(config.label2id) if config.num_labels > 1 else {}

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


def reference_statistics(raw: list[float], size: int) -> dict:
    """What `normalised` and `par` need: mean and spread of rewards on reference replies, and `size` quantiles."""
    values = np.asarray(raw, dtype=float)
    quantiles = np.quantile(values, (np.arange(size) + 0.5) / size)
    return {"mean": float(values.mean()), "std": float(values.std()) or 1.0, "quantiles": quantiles.tolist()}


def transformed(
    scorer: RewardModelScorer | EmbeddingHeadScorer, output: RewardOutput, reference: dict | None
) -> RewardFunc:
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
            return sigmoid(output.par_k * (r[:, None] - refs[None, :])).mean(axis=1).tolist()
        return sigmoid(r).tolist()

    return score


def reward_model_location(objective: str, params: Params, reward_models_dir: Path) -> Path:
    """Where an objective's model lives: its own directory, or the shared multi-head one."""
    name = "shared" if params.reward_model.heads == "shared" else objective
    return reward_models_dir / name


def load_scorer(path: str | Path) -> RewardModelScorer | EmbeddingHeadScorer:
    """The reward model saved at `path`, whichever `reward_model.architecture` trained it."""
    return EmbeddingHeadScorer(path) if is_embedding_head(path) else RewardModelScorer(path)


def is_reward_model(path: str | Path) -> bool:
    return (Path(path) / "config.json").exists() or is_embedding_head(path)


def head_scorer(path: Path, objective: str, loaded: dict) -> RewardModelScorer | EmbeddingHeadScorer:
    """The model at `path` reading `objective`'s head: a shared model has one head per objective (its label),
    any other model one. `loaded` (path -> scorer) loads each model once; other heads are views on it."""
    if path not in loaded:
        loaded[path] = load_scorer(path)
    base = loaded[path]
    head = base.labels.get(objective, 0)
    return base if head == base.head else _with_head(base, head)


def _with_head(base: RewardModelScorer, head: int) -> RewardModelScorer:
    """Another view of a loaded multi-head model reading another head (the weights are shared, not copied)."""
    view = copy.copy(base)
    view.head = head
    return view


def for_objective(objective: Objective, context: ScorerContext) -> RewardFunc:
    """The objective's model from the reward-model step, with `reward_model.output`'s transform."""
    params = context.params
    path = reward_model_location(objective.name, params, context.reward_models_dir)
    if not is_reward_model(path):
        raise FileNotFoundError(f"no reward model for {objective.name!r} at {path}; run `paretoflow train-rm` first")
    scorer = head_scorer(path, objective.name, context.loaded)
    references = path / "references.json"
    reference = json.loads(references.read_text()).get(objective.name) if references.exists() else None
    return guard.gated(transformed(scorer, params.reward_model.output, reference))


def from_spec(argument: str, params: Params) -> RewardModelScorer | EmbeddingHeadScorer:
    """`PATH[#objective]`: the model in that directory (`#objective` picks a shared model's head); its score in
    [0, 1] is the sigmoid of the raw reward, as the default training transform."""
    path, _, objective = argument.partition("#")
    if not path:
        raise ValueError("scorer rm: needs a reward-model directory: rm:PATH or rm:PATH#objective")
    if not is_reward_model(path):
        raise FileNotFoundError(f"no reward model at {path} (expected a directory with config.json or {HEAD_FILE})")
    return head_scorer(Path(path), objective, {})
