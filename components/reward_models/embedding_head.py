"""`reward_model.architecture: embedding_head`: a Bradley-Terry head over frozen sentence embeddings.

The cross-encoder fine-tuned on 1,000 pairs learnt neither the topic nor the length of a reply (ESConv 0.65 against a
topicality baseline of 0.83, CounselChat at chance: benchmarks/results/alignment.json), and GRPO found its blind spot:
a five-word stub scored as high as an answer. This head reads what a frozen encoder already knows: the reply's
embedding, its element-wise product with the latest turn's and the latest turns' embeddings, their cosines, and the
reply's log length. A logistic regression on chosen-minus-rejected features (no intercept, L2 strength chosen by
cross-validation grouped by prompt, on train pairs only) fits it in seconds, so the data decides how much topic and
length count for an objective. The encoder is saved beside the head: the directory is the whole model.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.encoder import Encoder
from components.common.messages import as_messages
from components.scorers.raw_reward import RawRewardScorer

HEAD_FILE = "embedding_head.json"
ENCODER = "encoder"
CONTEXTS = (1, 3)  # the latest turn, and the latest three: what the reply answers, and the exchange around it
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # inverse L2 strengths the cross-validation chooses from
FOLDS = 5


def is_embedding_head(path: str | Path) -> bool:
    return (Path(path) / HEAD_FILE).exists()


def context_text(prompt, turns: int) -> str:
    return "\n".join(m["content"] for m in as_messages(prompt)[-turns:])


def features(encoder: Encoder, prompts: list, replies: list[str]) -> np.ndarray:
    """One row per (prompt, reply): [v, v*u_k for each context, cos(u_k, v) for each context, log words, its square]."""
    v = encoder.embed(list(replies))
    parts, cosines = [v], []
    for turns in CONTEXTS:
        u = encoder.embed([context_text(p, turns) for p in prompts])
        parts.append(u * v)
        cosines.append((u * v).sum(1))
    words = np.log1p(np.array([len(r.split()) for r in replies], dtype=float))
    return np.column_stack([*parts, *cosines, words, words**2]).astype(np.float64)


def fit(encoder: Encoder, train: pd.DataFrame, seed: int) -> dict:
    """The head's weights and how its L2 strength was chosen. Features are not standardised: embedding components
    of unit vectors are small, so one penalty shrinks the hundreds of embedding directions far more than the few
    scalar ones (cosines, log length), the prior that 1,000 pairs can afford."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    prompts = list(train["prompt"])
    chosen = features(encoder, prompts, list(train["chosen"]))
    rejected = features(encoder, prompts, list(train["rejected"]))
    diff = chosen - rejected
    x, y = np.vstack([diff, -diff]), np.r_[np.ones(len(diff)), np.zeros(len(diff))]
    groups = np.tile(pd.factorize(train["prompt"].map(str))[0], 2)  # a pair and its mirror stay in one fold
    folds = min(FOLDS, len(set(groups)))
    if folds < 2:
        raise ValueError(
            f"embedding_head needs train pairs from at least 2 prompts to choose its L2 strength; got {folds}"
        )
    splits = list(GroupKFold(n_splits=folds).split(x, y, groups))
    model = LogisticRegressionCV(
        Cs=list(C_GRID),
        l1_ratios=(0.0,),
        cv=splits,
        scoring="accuracy",
        fit_intercept=False,
        max_iter=5000,
        random_state=seed,
        use_legacy_attributes=False,
    ).fit(x, y)
    cv_accuracy = {str(c): float(s) for c, s in zip(C_GRID, np.asarray(model.scores_).reshape(folds, -1).mean(0))}
    return {
        "weights": model.coef_[0].tolist(),  # score = features @ weights
        "C": float(model.C_),
        "cv_accuracy": cv_accuracy,
    }


def train_head(encoder_path: str | Path, train: pd.DataFrame, out: Path, seed: int, max_length: int) -> dict:
    """Fit the head on `train`, save it with a copy of the encoder in `out`; what was trained, for the metrics."""
    started, cpu_started = time.perf_counter(), time.process_time()
    encoder = Encoder(encoder_path, max_length=max_length)
    head = fit(encoder, train, seed)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    encoder.model.save_pretrained(out / ENCODER)
    encoder.tokenizer.save_pretrained(out / ENCODER)
    spec = {"contexts": list(CONTEXTS), "max_length": max_length, "features": len(head["weights"]), **head}
    (out / HEAD_FILE).write_text(json.dumps(spec, indent=1) + "\n")
    best = head["cv_accuracy"][str(head["C"])]
    return {
        "train_pairs": len(train),
        "train_seconds": round(time.perf_counter() - started, 2),
        "train_cpu_seconds": round(time.process_time() - cpu_started, 2),
        "l2_inverse_strength": head["C"],
        "cross_validated_accuracy": best,
    }


class EmbeddingHeadScorer(RawRewardScorer):
    """The saved head read like the cross-encoder scorer: `raw` for ranking, its sigmoid (guarded) in [0, 1]."""

    def __init__(self, path: str | Path):
        path = Path(path)
        spec = json.loads((path / HEAD_FILE).read_text())
        if tuple(spec["contexts"]) != CONTEXTS:
            raise ValueError(
                f"{path / HEAD_FILE} was fitted on contexts {spec['contexts']}; this version reads {CONTEXTS}: "
                "retrain it with `paretoflow train-rm`"
            )
        self.weights = np.asarray(spec["weights"])
        self.encoder = Encoder(path / ENCODER, max_length=spec["max_length"])
        self.labels: dict[str, int] = {}  # one head, whatever the objective

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        if not replies:
            return []
        return (features(self.encoder, list(prompts), list(replies)) @ self.weights).tolist()
