"""How good a reward model is on held-out preference pairs, from its scores.

Accuracy alone hides two things that matter before optimising a reward: whether its margins mean what
they say (calibration: a pair scored sigmoid(margin) = 0.8 should be right 80% of the time) and whether
it simply pays for length (a policy would learn to ramble). Ties get half credit, so a constant scorer
sits at 0.5 rather than 0. Beside the model, three baselines scored on the same pairs (topicality, length, strategy:
components/reward_models/baselines.py) say what it must beat to have learnt more than the topic. A policy finds
what pairs of human replies never test: the stub check scores each held-out chosen reply against its own first few
words, the shortcut GRPO took when a reward model could not tell them apart.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from components.common.encoder import minilm
from components.common.stats import bootstrap_ci, sigmoid
from components.reward_models import baselines

STUB_WORDS = 5  # a stub: the reply's first words (replies no longer than this are left out)


def pairwise_report(
    chosen: list[float],
    rejected: list[float],
    chosen_lengths: list[int],
    rejected_lengths: list[int],
    bins: int = 5,
    samples: int = 1000,
    seed: int = 0,
) -> dict:
    """Accuracy with a bootstrap 95% interval, calibration by margin bin and a length-bias report."""
    c, r = np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float)
    if len(c) == 0 or len(c) != len(r):
        raise ValueError(f"need as many chosen as rejected scores, at least one; got {len(c)} and {len(r)}")
    margin = c - r
    credit = (margin > 0) + 0.5 * (margin == 0)
    return {
        "accuracy": float(credit.mean()),
        "ci95": bootstrap_ci(credit, samples, seed),
        "n": len(c),
        "ties": int((margin == 0).sum()),
        "calibration": calibration(margin, bins),
        "length_bias": length_bias(c, r, np.asarray(chosen_lengths), np.asarray(rejected_lengths)),
    }


def heldout_report(scorer, test, params, train=None) -> dict:
    """`pairwise_report` of the model on the test pairs, with the scoring time, accuracy per source, and the
    baselines on the same pairs (the strategy one fitted on `train`)."""
    prompts = list(test["prompt"])
    started, cpu_started = time.perf_counter(), time.process_time()
    chosen, rejected = scorer.raw(prompts, list(test["chosen"])), scorer.raw(prompts, list(test["rejected"]))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    words = [len(t.split()) for t in test["chosen"]], [len(t.split()) for t in test["rejected"]]
    cfg = params.reward_model
    report = pairwise_report(chosen, rejected, *words, cfg.calibration_bins, cfg.bootstrap_samples, params.seed)
    credit = (np.asarray(chosen) > np.asarray(rejected)) + 0.5 * (np.asarray(chosen) == np.asarray(rejected))
    base, groups = baselines.credits(train, test, minilm()), baselines.clusters(test)
    by_source = {}
    for source, idx in test.reset_index(drop=True).groupby("source").indices.items():
        by_source[source] = {
            "accuracy": float(credit[idx].mean()),
            "ci95": bootstrap_ci(credit[idx], cfg.bootstrap_samples, params.seed),
            "n": len(idx),
            "baselines": baselines.report(
                {k: v[idx] for k, v in base.items()}, credit[idx], cfg.bootstrap_samples, params.seed, groups[idx]
            ),
        }
    report["baselines"] = baselines.report(base, credit, cfg.bootstrap_samples, params.seed, groups)
    report["stub_check"] = stub_check(scorer, test, chosen, cfg.bootstrap_samples, params.seed)
    return report | {"score_seconds": seconds, "score_cpu_seconds": cpu_seconds, "by_source": by_source}


def stub_check(scorer, test, chosen_scores: list[float], samples: int, seed: int) -> dict:
    """How often a held-out chosen reply outscores its own first STUB_WORDS words (ties half), with an interval."""
    long = [i for i, reply in enumerate(test["chosen"]) if len(reply.split()) > STUB_WORDS]
    if not long:
        return {"words": STUB_WORDS, "share": None, "n": 0, "why": "no chosen reply is longer than the stub"}
    prompts = [test["prompt"].iloc[i] for i in long]
    stubs = scorer.raw(prompts, [" ".join(test["chosen"].iloc[i].split()[:STUB_WORDS]) for i in long])
    whole = np.asarray(chosen_scores, dtype=float)[long]
    credit = (whole > np.asarray(stubs)) + 0.5 * (whole == np.asarray(stubs))
    return {
        "words": STUB_WORDS,
        "share": float(credit.mean()),
        "ci95": bootstrap_ci(credit, samples, seed),
        "n": len(long),
    }


def summary_metrics(report: dict) -> dict:
    """The held-out report's headline numbers, flat (what metrics.json and MLflow keep per objective)."""
    bias = report["length_bias"]
    return {
        "heldout_accuracy": report["accuracy"],
        "heldout_ci95_low": report["ci95"][0],
        "heldout_ci95_high": report["ci95"][1],
        "heldout_pairs": report["n"],
        "heldout_ties": report["ties"],
        "heldout_score_seconds": round(report["score_seconds"], 2),
        "heldout_score_cpu_seconds": round(report["score_cpu_seconds"], 2),
        "spearman_reward_length": bias["spearman_reward_length"],
        "longer_reply_baseline_accuracy": bias["longer_reply_baseline_accuracy"],
        "whole_reply_over_stub_share": report["stub_check"]["share"],
        **{f"baseline_{k}_accuracy": b["accuracy"] for k, b in report["baselines"].items() if b["n"]},
        **{f"lead_over_{k}_ci95_low": b["model_lead_ci95"][0] for k, b in report["baselines"].items() if b["n"]},
    }


def calibration(margin: np.ndarray, bins: int = 5) -> list[dict]:
    """Pairs binned by |margin| (equal counts): the model's own win probability against how often it is right."""
    order = np.argsort(np.abs(margin), kind="stable")
    rows = []
    for idx in np.array_split(order, min(bins, len(margin))):
        m = margin[idx]
        rows.append(
            {
                "abs_margin_low": float(np.abs(m).min()),
                "abs_margin_high": float(np.abs(m).max()),
                "n": len(idx),
                "predicted": float(sigmoid(np.abs(m)).mean()),
                "accuracy": float(((m > 0) + 0.5 * (m == 0)).mean()),
            }
        )
    return rows


def length_bias(c: np.ndarray, r: np.ndarray, c_len: np.ndarray, r_len: np.ndarray) -> dict:
    """Spearman(reward, length in words) over all replies, and how far 'prefer the longer one' gets alone."""
    rewards, lengths = np.concatenate([c, r]), np.concatenate([c_len, r_len])
    rho = stats.spearmanr(rewards, lengths).statistic if np.ptp(lengths) and np.ptp(rewards) else 0.0
    longer = c_len != r_len
    return {
        "spearman_reward_length": float(rho),
        "longer_reply_baseline_accuracy": float(((c_len > r_len) + 0.5 * (c_len == r_len)).mean()),
        "accuracy_when_chosen_longer": _mean_or_none((c > r)[longer & (c_len > r_len)]),
        "accuracy_when_chosen_shorter": _mean_or_none((c > r)[longer & (c_len < r_len)]),
    }


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def calibration_figure(reports: dict[str, dict]):
    """One line per objective: predicted win probability (x) against observed accuracy (y), diagonal = calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0.5, 1], [0.5, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, report in reports.items():
        rows = report["calibration"]
        label = f"{name} (acc {report['accuracy']:.2f}, n={report['n']})"
        ax.plot([b["predicted"] for b in rows], [b["accuracy"] for b in rows], marker="o", label=label)
    ax.set(xlabel="predicted P(chosen wins) = sigmoid(|margin|)", ylabel="held-out accuracy", ylim=(0, 1.02))
    ax.set_title("Reward-model calibration by margin bin")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
