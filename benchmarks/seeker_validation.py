"""Is the simulated seeker a fair judge? It replays real ESConv conversations of the project's own test split (the
real supporter and seeker turns; components.seeker.replay) and its emotion is compared with the real seekers' survey:
- correlation (Spearman, and Pearson) of its emotion change (final - start) with the reported change of negative-
  emotion intensity (initial - final, 1-5 scale), over the conversations that have both, with bootstrap 95% intervals;
- AUC of its final emotion separating conversations the seeker rated 4-5 for empathy from `FailedESConv.json` ones,
  with a stratified bootstrap 95% interval;
- the same two for the mean change per supporter turn (a longer conversation has more turns to move the score, and
  the two groups differ in length), and the correlation of the emotion change with the number of turns (that
  confound, measured);
- the same two for the mean change value the seeker gave its turns (0-1, before the emotion is clipped to 0-100):
  once the emotion sits at 0 or 100, the change per turn is only the number of turns in disguise;
- malformed seeker output and guard flags on the real supporter turns (false alarms: the real replies are benign);
- sample transcripts with the seeker's stated reasons.
The seeker is `params.seeker` (the cpu profile: Gemma 3 270M through the `hf` backend). The packaged Gemma is the
*base* model; `--seeker-weights DIR` plays the seeker with other weights, e.g. a start policy the sft step wrote
(Gemma 3 270M after SFT, trained on train-split replies only: the replayed conversations are test-split ones), and
`seeker_model` says which weights played it (with the SFT run's summary where DIR has one). `--serve` plays the same
weights through the `openai` backend, on a `transformers serve` endpoint started here on loopback (one request per
judgement, expected scores from the endpoint's top logprobs). Writes benchmarks/results/seeker_validation[_NAME].json
whole.

    flock /tmp/pf-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.seeker_validation [--per-group 20] \
        [--seeker-weights .cache/alignment/pilot/artifacts/sft/policy --name sft]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

from benchmarks.provenance import Provenance
from components.common.model_store import policy_dir
from components.judges.local_server import transformers_serve
from components.seeker.replay import esconv_conversations, replay, reported_change
from components.seeker.simulator import seeker_for
from paretoflow.config import load_params

REPO = Path(__file__).resolve().parents[1]
ESCONV = REPO.parent / "shared" / "data" / "esconv"
OUT = REPO / "benchmarks" / "results" / "seeker_validation.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-group", type=int, default=20, help="conversations rated 4-5, and failed ones, each")
    parser.add_argument("--max-supporter-turns", type=int, default=None, help="replay at most this many per dialogue")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seeker-weights", type=Path, help="a model folder to play the seeker (default: the params')")
    parser.add_argument("--name", default="", help="suffix of the results file (e.g. sft)")
    parser.add_argument(
        "--serve", action="store_true", help="play the seeker through the openai backend, on `transformers serve` here"
    )
    parser.add_argument("-o", "--override", action="append", default=[], help="params override, as paretoflow's -o")
    args = parser.parse_args()
    provenance, started = Provenance("benchmarks.seeker_validation"), time.perf_counter()
    given = [f"cache_dir={REPO / '.cache'}", *args.override]
    with ExitStack() as stack:
        params = load_params(REPO / "params.yaml", given)
        if chosen := seeker_judge(args, params, stack):
            params = load_params(REPO / "params.yaml", [*given[:1], *chosen, *given[1:]])
        report = validate(args, params, provenance, started)
    out = OUT.with_name(f"{OUT.stem}_{args.name}.json") if args.name else OUT
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: report[k] for k in ("correlation_with_reported_change", "auc_rated_4_5_vs_failed")}, indent=2))


def seeker_judge(args, params, stack: ExitStack) -> list[str]:
    """The overrides that choose the seeker's weights (default: its own model's) and backend; `--serve` starts the
    server on `stack`."""
    if args.seeker_weights is None and not args.serve:
        return []
    weights = (args.seeker_weights or Path(policy_dir(params.seeker.judge.model, params.cache_dir))).resolve()
    if not args.serve:
        return [f"seeker.judge.model={{kind: pretrained, name_or_path: '{weights}'}}"]
    log = Path(tempfile.mkdtemp(prefix="seeker-serve-")) / "serve.log"
    url = stack.enter_context(transformers_serve(weights, log))
    judge = f"{{kind: openai, base_url: '{url}', model: '{weights}', max_concurrency: 2, timeout_s: 300}}"
    return [f"seeker.judge={judge}"]


def validate(args, params, provenance: Provenance, started: float) -> dict:
    split = params.data.splits
    every = esconv_conversations(ESCONV, split.salt, split.test_fraction)
    good = [c for c in every if c["successful"]][: args.per_group]
    failed = [c for c in every if c["failed"]][: args.per_group]
    chosen = good + failed
    seeker = seeker_for(params)
    played = replay(seeker, chosen, args.max_supporter_turns)
    seconds = time.perf_counter() - started

    start = params.seeker.start_emotion
    rows = [
        {
            "conversation": c["meta"]["conversation"],
            "group": "rated_4_5" if c["successful"] else "failed",
            "supporter_turns": len(p.turns),
            "final_emotion": p.emotion,
            "emotion_change": p.emotion - start,
            "change_per_turn": (p.emotion - start) / len(p.turns) if p.turns else 0.0,
            "mean_change_value": float(np.mean([0.5 if t.value is None else t.value for t in p.turns])),
            "reported_change": reported_change(c["survey"]),
            "empathy": c["survey"].get("empathy"),
        }
        for c, p in zip(chosen, played)
    ]
    rng = np.random.default_rng(params.seed)
    return {
        **provenance.record(),
        "seconds": round(seconds, 1),
        "seeker_model": _model_note(params, args.seeker_weights),
        "backend": params.seeker.judge.kind + (" (transformers serve on loopback)" if args.serve else ""),
        "seeker_settings": params.seeker.model_dump(mode="json"),
        "templates": seeker.templates,
        "data": {
            "split": f"test (data.splits salt={split.salt!r}, test_fraction={split.test_fraction})",
            "test_split_rated_4_5": sum(c["successful"] for c in every),
            "test_split_failed": sum(c["failed"] for c in every),
            "replayed": {"rated_4_5": len(good), "failed": len(failed)},
            "max_supporter_turns": args.max_supporter_turns,
            "supporter_turns_judged": seeker.turns_judged,
        },
        "correlation_with_reported_change": {
            measure: _correlations(rows, measure, rng, args.bootstrap)
            for measure in ("emotion_change", "change_per_turn", "mean_change_value")
        },
        "auc_rated_4_5_vs_failed": {
            measure: _auc(rows, measure, rng, args.bootstrap)
            for measure in ("final_emotion", "change_per_turn", "mean_change_value")
        },
        "confound_turns": {
            "spearman_emotion_change_vs_supporter_turns": _spearman(
                [r["emotion_change"] for r in rows], [r["supporter_turns"] for r in rows]
            ),
            "mean_supporter_turns": {
                g: float(np.mean([r["supporter_turns"] for r in rows if r["group"] == g]))
                for g in ("rated_4_5", "failed")
            },
        },
        "group_means": {
            g: {
                k: float(np.mean([r[k] for r in rows if r["group"] == g]))
                for k in ("final_emotion", "emotion_change", "change_per_turn", "mean_change_value")
            }
            for g in ("rated_4_5", "failed")
        },
        "malformed": dict(seeker.malformed),
        "guard_flags_on_real_supporter_turns": dict(Counter(t.flagged for p in played for t in p.turns if t.flagged)),
        "change_value_spread": _spread([t.value for p in played for t in p.turns if t.value is not None]),
        "conversations": rows,
        "sample_transcripts": [_sample(p) for p in played[:2] + played[len(good) : len(good) + 2]],
    }


def _correlations(rows: list[dict], measure: str, rng, samples: int) -> dict:
    pairs = [(r[measure], r["reported_change"]) for r in rows if r["reported_change"] is not None]
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    boot = []
    for _ in range(samples):
        pick = rng.integers(0, len(x), len(x))
        value = _spearman(x[pick], y[pick])
        if value is not None:
            boot.append(value)
    return {
        "n": len(x),
        "spearman": _spearman(x, y),
        "spearman_ci95": [float(q) for q in np.quantile(boot, [0.025, 0.975])] if boot else None,
        "spearman_p": float(spearmanr(x, y).pvalue) if _varies(x, y) else None,
        "pearson": float(pearsonr(x, y).statistic) if _varies(x, y) else None,
    }


def _auc(rows: list[dict], measure: str, rng, samples: int) -> dict:
    labels = np.array([r["group"] == "rated_4_5" for r in rows])
    scores = np.array([r[measure] for r in rows])
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
    boot = []
    for _ in range(samples):  # stratified: both groups keep their size
        pick = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boot.append(roc_auc_score(labels[pick], scores[pick]))
    return {
        "n_rated_4_5": int(len(pos)),
        "n_failed": int(len(neg)),
        "auc": float(roc_auc_score(labels, scores)),
        "ci95": [float(q) for q in np.quantile(boot, [0.025, 0.975])],
    }


def _spearman(x, y) -> float | None:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(spearmanr(x, y).statistic) if _varies(x, y) else None


def _varies(x, y) -> bool:
    return len(x) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0


def _spread(values: list[float]) -> dict:
    """Of the turns the seeker scored; none scored (every output malformed) is a result, not a crash."""
    if not values:
        return {"n": 0}
    v = np.array(values)
    return {"n": len(v), "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}


def _sample(conv) -> dict:
    record = conv.record()
    record["turns"] = record["turns"][:4]
    record["messages"] = record["messages"][:9]
    return record


def _model_note(params, weights: Path | None) -> dict:
    spec = params.seeker.judge.model_dump(mode="json")
    if weights is None:
        model = spec["model"]
        if isinstance(model, str):  # an endpoint names its model
            return {"judge": spec, "weights": f"the model the endpoint serves: {model}"}
        base = model["kind"] == "gguf"
        return {"judge": spec, "weights": "Gemma 3 270M base (the packaged GGUF)" if base else "as in seeker.judge"}
    summary = weights.parent / "sft.json"  # the sft step's record beside the start policy it wrote
    sft = json.loads(summary.read_text()) if summary.is_file() else None
    kept = ("examples", "steps", "bf16", "train_seconds", "heldout", "replies")
    return {
        "judge": spec,
        "weights": "a start policy written by the sft step" if sft else f"the model in {weights}",
        "sft": {k: sft[k] for k in kept if k in sft} if sft else None,
    }


if __name__ == "__main__":
    main()
