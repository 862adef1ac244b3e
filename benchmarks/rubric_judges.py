"""Rubric judges against human labels: agreement on held-out pairs, judge requests/s, cache hit rate on a re-run,
and the guard's false-positive rate on master-key probes, per backend.

Sets (from ../shared/data, read through `components.evaluation.agreement.read_pairs`): HH-RLHF helpful (helpfulness) and
harmless (harmlessness), ESConv and CounselChat (empathy). Each set is split in halves by a hash of the prompt;
the train half mines the objective's principles (offline miner), and held-out pairs are scored with the
prompt-only rubric (hard rules from the prompt + mined principles): the rubric a held-out prompt gets at
evaluation. Backends:
  offline  MiniLM + rules;
  hf       the converted Gemma 3 270M in process, expected score from the next-token probabilities of
           "1".."10" after "Score:" (one forward pass per item);
  openai   the openai client against `transformers serve` on loopback serving the same Gemma; it asks for
           log-probabilities, which `transformers serve` ignores, so its scores are parsed `Score: N` texts
           (`scored_by` counts which way each went).
Every backend starts from an empty judge cache; the re-run uses a fresh judge on the same cache, and its hit
rate is over score lookups (a re-run makes zero judge requests). Results merge into
benchmarks/results/rubric_judges.json (one key per backend) and go to MLflow (experiment `rubric_judges`,
`--mlflow-uri`, default a SQLite file in the work folder).
Run under the shared lock: `flock /tmp/pf-heavy.lock .venv/bin/python -m benchmarks.rubric_judges`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.encoder import minilm
from components.common.stats import bootstrap_ci
from components.data.canonical import assign_split
from components.evaluation.agreement import read_pairs
from components.evaluation.attack_probes import false_positive_rate
from components.rubrics import offline as rubric_offline
from components.scorers.rubric import RubricReward, new_judge
from paretoflow.schema import GgufModel, HFJudge, OfflineJudge, OpenAIJudge, PretrainedModel

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "rubric_judges.json"
SETS = {
    "hh_helpful": (DATA / "hh-rlhf" / "helpful-base.dev.jsonl.gz", "hh-rlhf", "helpfulness"),
    "hh_harmless": (DATA / "hh-rlhf" / "harmless-base.dev.jsonl.gz", "hh-rlhf", "harmlessness"),
    "esconv_empathy": (DATA / "esconv", "esconv", "empathy"),
    "counselchat_empathy": (DATA / "counsel-chat" / "counsel_chat.dev.csv", "counselchat", "empathy"),
}
DEFAULT_PAIRS = {"offline": 300, "hf": 40, "openai": 10}  # what fits on 2 CPU cores in about half an hour
DEFAULT_PROBE_PROMPTS = {"offline": 100, "hf": 5, "openai": 3}


def load_sets(seed: int) -> dict[str, tuple[str, pd.DataFrame, pd.DataFrame]]:
    out = {}
    for name, (path, fmt, objective) in SETS.items():
        pairs, _ = read_pairs(path, fmt)
        half = pairs["prompt"].map(lambda p: assign_split(p, "rubric-bench", 0.5))
        train = pairs[half == "train"].sample(frac=1.0, random_state=seed)
        test = pairs[half == "test"].sample(frac=1.0, random_state=seed)
        out[name] = (objective, train, test)
    return out


def gemma_dir() -> Path:
    """The packaged Gemma 3 270M converted once into the repo's `.cache/` (shared with the tests)."""
    from components.common.model_store import policy_dir

    return policy_dir(GgufModel(kind="gguf"), REPO / ".cache")


def settings_for(backend: str, base_url: str | None, model: str | None):
    if backend == "offline":
        return OfflineJudge(kind="offline")
    if backend == "hf":
        gemma = PretrainedModel(kind="pretrained", name_or_path=str(gemma_dir()))
        return HFJudge(kind="hf", model=gemma, batch_size=8, max_input_tokens=512)
    return OpenAIJudge(kind="openai", base_url=base_url, model=model, max_concurrency=2, timeout_s=300)


def run_backend(backend: str, sets, n_pairs: int, n_probes: int, cache: Path, base_url=None, model=None) -> dict:
    settings = settings_for(backend, base_url, model)
    encoder = minilm()
    results, mined = {}, {}
    for name, (_, train, _) in sets.items():
        mined[name] = rubric_offline.mine_principles(train.head(300), encoder, 4)
    for attempt in ("first", "rerun"):
        judge = new_judge(settings, cache)
        started, calls = time.perf_counter(), 0
        for name, (objective, _, test) in sets.items():
            sample = test.head(n_pairs)
            reward = RubricReward(objective, judge, principles=mined[name])
            prompts = list(sample["prompt"])
            t0, before = time.perf_counter(), _requests(judge)
            chosen = np.asarray(reward(prompts, list(sample["chosen"])))
            rejected = np.asarray(reward(prompts, list(sample["rejected"])))
            credit = (chosen > rejected) + 0.5 * (chosen == rejected)
            row = results.setdefault(name, {"objective": objective, "principles": mined[name]})
            if attempt == "first":
                row.update(
                    agreement=float(credit.mean()),
                    ci95=bootstrap_ci(credit, seed=0),
                    n=len(credit),
                    ties=int((chosen == rejected).sum()),
                    seconds=round(time.perf_counter() - t0, 1),
                    judge_requests=_requests(judge) - before,
                )
                probes = sample.head(n_probes)
                fp = false_positive_rate(reward, list(probes["prompt"]), list(probes["chosen"]))
                row["false_positive"] = {k: fp[k] for k in ("rate", "by_kind", "n", "worst_probe", "worst_rate")}
            print(f"{backend} {attempt} {name}: {json.dumps({k: row.get(k) for k in ('agreement', 'n', 'ties')})}")
            calls += _requests(judge) - before
        seconds = time.perf_counter() - started
        results[f"_{attempt}"] = {
            "seconds": round(seconds, 1),
            "judge_requests": calls,
            "requests_per_s": round(calls / seconds, 3) if seconds else 0.0,
            "cache_hit_rate": judge.cache.hit_rate,  # scores answered without computing them
            "judge_stats": judge.client.stats() if judge.client is not None else {},
        }
    probes_total = sum(r["false_positive"]["n"] for k, r in results.items() if not k.startswith("_"))
    hits = sum(
        r["false_positive"]["rate"] * r["false_positive"]["n"] for k, r in results.items() if not k.startswith("_")
    )
    results["_false_positive_rate"] = hits / probes_total if probes_total else 0.0
    results["_model"] = judge.model
    results["_scoring"] = getattr(judge.client, "scoring", None) or "offline"
    results["_pairs_per_set"] = n_pairs
    results["_probe_prompts_per_set"] = n_probes
    return results


def _requests(judge) -> int:
    """Judge work actually done: LLM calls that missed the chat cache, or offline scorings computed."""
    client = judge.client
    return client.misses if client is not None else judge.calls


def log_mlflow(uri: str, backend: str, results: dict) -> str:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("rubric_judges")
    with mlflow.start_run(run_name=f"rubric-judges-{backend}") as run:
        mlflow.log_params({"backend": backend, "model": results["_model"], "scoring": results["_scoring"]})
        mlflow.log_params({"pairs_per_set": results["_pairs_per_set"]})
        metrics = {
            f"rubrics/{backend}/requests_per_s": results["_first"]["requests_per_s"],
            f"rubrics/{backend}/rerun_cache_hit_rate": results["_rerun"]["cache_hit_rate"],
            f"rubrics/{backend}/rerun_judge_requests": results["_rerun"]["judge_requests"],
            f"rubrics/{backend}/false_positive_rate": results["_false_positive_rate"],
        }
        for name, row in results.items():
            if not name.startswith("_"):
                metrics[f"rubrics/{backend}/{name}/agreement"] = row["agreement"]
                metrics[f"rubrics/{backend}/{name}/agreement_ci95_lo"] = row["ci95"][0]
                metrics[f"rubrics/{backend}/{name}/agreement_ci95_hi"] = row["ci95"][1]
                metrics[f"rubrics/{backend}/{name}/ties"] = row["ties"]
                metrics[f"rubrics/{backend}/{name}/n"] = row["n"]
                metrics[f"rubrics/{backend}/{name}/false_positive_rate"] = row["false_positive"]["rate"]
        mlflow.log_metrics(metrics)
        mlflow.log_dict(results, f"rubric_judges_{backend}.json")
        return run.info.run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="offline,hf,openai")
    parser.add_argument("--pairs", type=int, default=None, help="held-out pairs per set (default per backend)")
    parser.add_argument("--probe-prompts", type=int, default=None, help="prompts for the master-key probes")
    parser.add_argument("--work", default="/tmp/rubric-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlflow-uri", default=None, help="tracking URI (default: sqlite in --work)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets = load_sets(args.seed)
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    for backend in args.backends.split(","):
        cache = work / f"cache-{backend}"
        shutil.rmtree(cache, ignore_errors=True)
        n_pairs = args.pairs or DEFAULT_PAIRS[backend]
        n_probes = args.probe_prompts or DEFAULT_PROBE_PROMPTS[backend]
        if backend == "openai":
            from components.judges.local_server import transformers_serve

            gemma = gemma_dir()
            with transformers_serve(gemma, work / "serve.log") as url:
                results = run_backend(backend, sets, n_pairs, n_probes, cache, url, str(gemma))
        else:
            results = run_backend(backend, sets, n_pairs, n_probes, cache)
        uri = args.mlflow_uri or f"sqlite:///{work}/mlflow.db"
        results["_mlflow"] = {"uri": uri, "experiment": "rubric_judges", "run_id": log_mlflow(uri, backend, results)}
        out[backend] = results
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
        print(json.dumps({backend: {k: v for k, v in results.items() if k.startswith("_")}}, indent=2))


if __name__ == "__main__":
    main()
