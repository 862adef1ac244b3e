"""evaluate: generate on held-out prompts, score every objective with an evaluator GRPO never optimised, find the
Pareto front.

Generation (components/evaluation/heldout_replies.py) runs through transformers or, with `evaluate.engine: vllm`
(the gpu profile), vLLM's engine, with the same seed and decoding settings.

Evaluators (components/evaluation/front_evaluators.py): each objective's front column is its evaluator's score, a
scorer the policies never trained on (a reward-model objective's evaluator model, a rubric or LLM judge named in
`evaluate.independent`, a rule's own rule); the training reward is kept beside it (`<objective>_training`) and the
gap between their gains over the start policy is the reward-hacking indicator. Every run measures each evaluator's
agreement with the human labels of held-out pairs (`evaluators.json`); an objective whose evaluator's 95% interval
does not clear 0.5 is unjudged: its column is empty, it is flagged, and it stays out of the hypervolume, EUM and
gates. The per-prompt normalised scores of every policy go to the run (`evaluation/paired_scores.json`): promotion
compares fronts with paired intervals on them, and `precision.json` says how wide this run's intervals are.

The front table (components/evaluation/front_table.py): the start policy (the SFT policy GRPO trained from) is
scored alongside as the reference the trained policies should improve on: hypervolume and expected utility are
computed on scores normalised per objective (start policy 0, a declared ideal or scale 1; pareto.Normalisation),
with the start policy as the hypervolume's reference, stated in `pareto/hypervolume_reference`; the front,
hypervolume (with a paired bootstrap 95% interval over the held-out prompts) and expected utility over a weight grid
are computed over the trained policies. Each policy's mean scores carry bootstrap 95% intervals, its end-of-turn
rate (replies stop at the chat template's end of turn), and reward-hacking indicators (length growth over the start
policy, repetition, distinct-n, and the gap between each training reward and its evaluator); the trained judges face
the master-key probes.

Coherence (`coherence`): per policy the share of replies in the prompt's script and language, of replies that
speak as the seeker or carry role markers, the end-of-turn rate, median length, repetition, distinct-n and the
held-out perplexity of reference replies (`evaluate.perplexity_examples`), in front.json, `coherence.json`, the
summary and MLflow (`coherence/<policy>/<indicator>`). With `sft.enabled`, the pretrained `policy` SFT started
from is generated and measured too, for context only: it is not scored, not on the front and not a reference.

The champion front in the registry, if there is one, is generated and scored here too, on the same prompts with
the same seed, decoding and scorers (`champion.json`): promotion compares the candidates with those scores.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pandas as pd

from components.common import pareto
from components.common.replies import Reply
from components.data.canonical import read_table
from components.evaluation import champion as champion_eval
from components.evaluation import coherence
from components.evaluation.front_evaluators import front_evaluators, measurement_params, panel
from components.evaluation.front_table import (
    BASE,
    champion_report,
    coherence_block,
    coherence_metrics,
    coherence_numbers,
    display_table,
    front_rows,
    front_table,
)
from components.evaluation.heldout_prompts import heldout_prompts
from components.evaluation.heldout_replies import (
    PRETRAINED,
    generate,
    perplexity_examples,
    pretrained_context,
    reply_rows,
)
from components.evaluation.hypervolume_interval import hypervolume_interval
from components.evaluation.paired import precision
from components.evaluation.scorer_checks import TRAINING, judge_attack
from components.evaluation.side_by_side import markdown as side_by_side_markdown
from components.evaluation.side_by_side import side_by_side
from components.registry.fronts import champion_policy
from components.scorers.objectives import reward_functions
from components.seeker import evaluation as conversations
from components.seeker import rollout as multiturn
from components.sft.start import start_policy_dir
from paretoflow import paths, tracking
from paretoflow.schema import Params

HACKING = ("length_words", "length_growth", "repetition", "distinct_1", "distinct_2")
PAIRED_SCORES = "evaluation/paired_scores.json"  # run artifact: per-prompt normalised scores, what promotion pairs


def evaluate_policies(
    params: Params,
    data_dir: Path = paths.DATA,
    reward_models_dir: Path = paths.REWARD_MODELS,
    policies_dir: Path = paths.POLICIES,
    out_dir: Path = paths.EVALUATION,
) -> dict:
    from transformers import AutoTokenizer

    objectives = params.objective_names
    prompts = read_table(data_dir / "prompts.parquet")
    candidates = [(BASE, start_policy_dir(params, data_dir.parent / paths.SFT.name), None)]
    tokenizer = AutoTokenizer.from_pretrained(candidates[0][1])
    heldout = heldout_prompts(prompts, read_table(data_dir / "pairs.parquet"), params.evaluate, tokenizer)
    if heldout.empty:
        raise ValueError(
            "no held-out (test) prompts to evaluate on; add prompts, raise data.splits.test_fraction or "
            "evaluate.max_prompt_tokens"
        )
    tracking.log_table_input(heldout, data_dir / "prompts.parquet", "prompts-heldout", "evaluation")
    manifest = json.loads((policies_dir / "manifest.json").read_text())
    candidates += [(p["name"], policies_dir / p["name"], p["weights"]) for p in manifest]
    scorers = reward_functions(params, reward_models_dir)
    training = dict(zip(objectives, scorers))
    evaluators = panel(params, reward_models_dir, read_table(data_dir / "pairs.parquet"), training)
    judged = evaluators.judged
    lookup = champion_eval.champion_front(params)
    champions = champion_eval.fetch(params, lookup.front) if lookup.front else []
    scored = [(name, path) for name, path, _ in candidates] + [(champion_policy(v), path) for v, path in champions]
    prompts, responses = list(heldout["prompt"]), []
    for i, (name, path) in enumerate(scored):
        started = time.perf_counter()
        replies = generate(path, prompts, params)
        generated = time.perf_counter()
        completions = [r.text for r in replies]
        scores = evaluation_scores(prompts, completions, training, evaluators.scorers)
        seconds = {"generate": generated - started, "score": time.perf_counter() - generated}
        _progress(name, i, len(scored), replies, seconds)
        rows = reply_rows(name, heldout, replies)
        responses += [row | {column: values[j] for column, values in scores.items()} for j, row in enumerate(rows)]
    scores_df = pd.DataFrame(responses)
    examples = perplexity_examples(params, data_dir, tokenizer)
    with _announced(f"reference perplexity of {len(candidates)} policies on {len(examples)} replies"):
        perplexity = {
            name: coherence.reference_perplexity(path, examples, params.evaluate.batch_size)
            for name, path, _ in candidates
        }
    ppl = {n: p and p["perplexity"] for n, p in perplexity.items()}
    table = front_table(scores_df, candidates, params, ppl, judged)
    with (
        _announced(f"the pretrained policy's {len(prompts)} replies, for context")
        if params.sft.enabled
        else nullcontext()
    ):
        context = pretrained_context(params, heldout, examples)
    coherent = coherence_block(table, context, perplexity, examples)
    base_replies = list(scores_df.loc[scores_df["policy"] == BASE, "completion"])
    with _announced("judge-attack probes"):
        attack = judge_attack(params, scorers, data_dir, heldout, base_replies)
    held = heldout_set(list(heldout["id"]))
    norm = table.attrs["normalisation"]
    champion = champion_report(scores_df, lookup, held["md5"], norm, params)
    paired = paired_scores(norm.frame(scores_df), norm, held["prompt_ids"])
    spread = precision({p: s for p, s in paired["scores"].items() if p in set(table["policy"])}, judged)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    scores_df.to_parquet(out_dir / "scores.parquet", index=False)
    (out_dir / "heldout.json").write_text(json.dumps(held, indent=2) + "\n")
    (out_dir / "champion.json").write_text(json.dumps(champion, indent=2) + "\n")
    (out_dir / "judge_attack.json").write_text(json.dumps(attack, indent=2) + "\n")
    (out_dir / "coherence.json").write_text(json.dumps(coherent, indent=2) + "\n")
    (out_dir / "evaluators.json").write_text(json.dumps(evaluators.report, indent=2) + "\n")
    (out_dir / "precision.json").write_text(json.dumps(spread, indent=2) + "\n")
    if context is not None:
        context[0].to_parquet(out_dir / "pretrained_replies.parquet", index=False)
    shown = side_by_side(
        heldout,
        pd.concat([context[0], scores_df]) if context is not None else scores_df,
        [PRETRAINED, BASE, *table.loc[~table["is_base"], "policy"]],
        params.evaluate.side_by_side_prompts,
    )
    (out_dir / "side_by_side.json").write_text(json.dumps(shown, indent=2) + "\n")
    (out_dir / "side_by_side.md").write_text(side_by_side_markdown(shown))
    trained, start_row = table[~table["is_base"]], table[table["is_base"]].iloc[0]
    grid = pareto.weight_grid(len(judged), params.evaluate.weight_grid_steps) if judged else None
    hv_low, hv_high = (
        hypervolume_interval(
            norm.frame(scores_df),
            list(trained["policy"]),
            judged,
            norm.reference,
            params.evaluate.bootstrap_samples,
            params.seed,
            reference_policy=BASE,
        )
        if judged
        else [0.0, 0.0]
    )
    metrics = {
        "pareto/hypervolume": float(table.attrs["hypervolume"]),
        "pareto/hypervolume/ci95_low": hv_low,
        "pareto/hypervolume/ci95_high": hv_high,
        "pareto/hypervolume_reference": norm.describe(),
        "pareto/eum": pareto.expected_utility(norm.apply(trained.loc[trained["on_front"], judged]), grid)
        if judged
        else 0.0,
        "pareto/front_size": int(trained["on_front"].sum()),
        "pareto/candidates": len(trained),
        **{f"pareto/reference/{o}": r for o, r in zip(norm.objectives, norm.start)},
        **{f"pareto/scale/{o}": c for o, c in zip(norm.objectives, norm.scale)},
        **{f"eval/{o}/mean": float(trained[o].mean()) for o in judged},
        **{f"eval/start/{o}/mean": float(table.loc[table["is_base"], o].iloc[0]) for o in judged},
        **evaluator_metrics(evaluators.report),
        **{f"train_reward/{o}/mean": float(trained[f"{o}{TRAINING}"].mean()) for o in objectives},
        **{f"train_reward/start/{o}/mean": float(start_row[f"{o}{TRAINING}"]) for o in objectives},
        **{f"precision/{o}/{k}": v for o, found in spread.items() for k, v in found.items()},
        "coherence/end_of_turn_rate/min": float(trained["end_of_turn_rate"].min()),
        "coherence/in_language/min": float(trained["in_language"].min()),
        "coherence/as_seeker/max": float(trained["as_seeker"].max()),
        **coherence_metrics(coherent),
        "hacking/length_growth/max": float(trained["length_growth"].max()),
        "hacking/repetition/max": float(trained["repetition"].max()),
        "hacking/distinct_2/min": float(trained["distinct_2"].min()),
        **{f"hacking/{o}/scorer_gap": float(trained[f"{o}_scorer_gap"].max()) for o in judged},
        "judge_attack/fpr": attack["fpr"],
        **{f"judge_attack/{o}/fpr": r["rate"] for o, r in attack["judges"].items()},
        **({"champion/hypervolume": champion["hypervolume"]} if champion["versions"] else {}),
    }
    if multiturn.enabled(params):  # whole conversations with the simulated seeker (issue 18)
        played = conversations.evaluate_conversations(params, [(n, p) for n, p, _ in candidates], data_dir, training)
        metrics |= played.pop("metrics")
        (out_dir / "conversations.json").write_text(json.dumps(played, indent=2) + "\n")
        tracking.log_dict(played, "evaluation/conversations.json")
        tracking.log_text(conversations.transcripts_markdown(played), "evaluation/transcripts.md")
    (out_dir / "front.json").write_text(table.to_json(orient="records", indent=2) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    drawn, axes = display_table(table, objectives, judged)
    title = (
        f"held-out scores by evaluators, hypervolume {metrics['pareto/hypervolume']:.4f}, "
        f"EUM {metrics['pareto/eum']:.4f}"
        + (f" (unjudged: {', '.join(evaluators.unjudged)})" if evaluators.unjudged else "")
        + "\n"
        + norm.caption()
    )
    figure = pareto.plot_front(drawn, axes, title)
    figure.savefig(out_dir / "pareto_front.png", dpi=120)
    samples = scores_df.groupby("policy")["completion"].apply(lambda c: list(c)[: params.evaluate.samples_shown])
    page = pareto.plot_front_html(drawn, axes, samples.to_dict(), title.replace("\n", "<br>"))
    page.write_html(out_dir / "pareto_front.html", include_plotlyjs=True)
    _log(table, metrics, figure, objectives)
    measured = front_evaluators(params, reward_models_dir, tuple(evaluators.unjudged))
    tracking.log_params(measurement_params(norm, measured))
    tracking.log_dict(evaluators.report, "evaluation/evaluators.json")
    tracking.log_dict(paired, PAIRED_SCORES)
    if context is not None:
        with tracking.child_run(f"evaluate/{PRETRAINED}"):
            tracking.log_metrics(coherence_numbers(coherent["policies"][PRETRAINED], "coherence/"))
            tracking.set_tags({"policy": PRETRAINED, "on_front": "context only"})
    tracking.log_figure(page, "pareto/front.html")
    tracking.log_dict(attack, "judge_attack.json")
    tracking.log_dict(champion, "champion.json")
    tracking.log_dict(coherent, "coherence.json")
    tracking.log_text(side_by_side_markdown(shown), "side_by_side.md")
    return metrics | {
        "evaluators": {o: _verdict(r) for o, r in evaluators.report.items()},
        "front": front_rows(table, objectives),
        "coherence": coherent,
        "html": str((out_dir / "pareto_front.html").resolve()),
        "champion": champion["note"],
    }


def evaluation_scores(prompts: list, completions: list[str], training: dict, evaluators: dict) -> dict[str, list]:
    """Per objective the training reward (`<o>_training`) and the evaluator's score (`<o>`; None for an unjudged
    objective, which has no evaluator that passed its agreement check). A rule that is its own evaluator is scored
    once."""
    scores = {f"{o}{TRAINING}": f(prompts, completions) for o, f in training.items()}
    for o in training:
        f = evaluators.get(o)
        scores[o] = (
            [None] * len(completions)
            if f is None
            else (scores[f"{o}{TRAINING}"] if f is training[o] else f(prompts, completions))
        )
    return scores


def evaluator_metrics(report: dict[str, dict]) -> dict[str, float]:
    """`evaluator/<o>/judged` (1 or 0) for every objective, its agreement and interval where one was measured, and
    how many objectives were judged."""
    metrics = {"evaluator/judged": float(sum(r["judged"] for r in report.values()))}
    for o, r in report.items():
        metrics[f"evaluator/{o}/judged"] = float(r["judged"])
        if r["agreement"] is not None:
            measured = r["agreement"]
            metrics |= {f"evaluator/{o}/agreement": measured["agreement"], f"evaluator/{o}/pairs": measured["n"]}
            metrics |= {f"evaluator/{o}/ci95_low": measured["ci95"][0], f"evaluator/{o}/ci95_high": measured["ci95"][1]}
    return metrics


def _verdict(record: dict) -> str:
    """One objective's evaluator in words, for the step's summary."""
    if record["kind"] == "rule":
        return f"judged by {record['evaluator']}: {record['why']}"
    if record["judged"]:
        return f"judged by {record['evaluator']}: {record['why']}"
    return f"unjudged (not scored; training reward shown): {record['why']}"


def paired_scores(normalised: pd.DataFrame, norm: pareto.Normalisation, prompt_ids: list[str]) -> dict:
    """Every scored policy's per-prompt scores on the judged objectives, normalised (start policy 0), in one prompt
    order: what promotion resamples for its paired intervals, with the normalisation that produced them."""
    objectives = list(norm.objectives)
    indexed = normalised.set_index(["policy", "prompt_id"])
    scores = {
        policy: {
            o: [None if pd.isna(v) else round(float(v), 6) for v in indexed.loc[policy][o].reindex(prompt_ids)]
            for o in objectives
        }
        for policy in normalised["policy"].unique()
    }
    return {
        "objectives": objectives,
        "start_policy": BASE,
        "normalisation": norm.describe(),
        "scale": dict(zip(objectives, norm.scale)),
        "prompt_ids": list(prompt_ids),
        "scores": scores,
    }


def heldout_set(prompt_ids: list[str]) -> dict:
    """Which prompts the scores come from: promotion compares two fronts only on the same set."""
    digest = hashlib.md5("\n".join(sorted(prompt_ids)).encode()).hexdigest()
    return {"md5": digest, "prompts": len(prompt_ids), "prompt_ids": sorted(prompt_ids)}


def _progress(name: str, i: int, total: int, replies: list[Reply], seconds: dict[str, float]) -> None:
    """One line per scored policy (the step's longest part), and its seconds as MLflow metrics (step = its index)."""
    ended = sum(r.ended for r in replies) / max(len(replies), 1)
    print(
        f"evaluate: {name} ({i + 1}/{total}): {len(replies)} replies generated in {seconds['generate']:.0f}s, "
        f"scored in {seconds['score']:.0f}s; {ended:.0%} end their turn",
        flush=True,
    )
    tracking.log_metrics({f"time/evaluate_{k}_seconds": v for k, v in seconds.items()}, step=i)


@contextmanager
def _announced(what: str):
    """The parts after the policies' replies say what they do and how long it took (minutes of silence otherwise)."""
    print(f"evaluate: {what}...", flush=True)
    started = time.perf_counter()
    yield
    print(f"evaluate: {what}: {time.perf_counter() - started:.0f}s", flush=True)


def _log(table: pd.DataFrame, metrics: dict, figure, objectives: list[str]) -> None:
    judged = table.attrs["judged"]
    tracking.log_metrics(metrics)
    for _, row in table.iterrows():
        with tracking.child_run(f"evaluate/{row['policy']}"):
            tracking.log_metrics(
                {f"eval/{o}/mean": row[o] for o in judged}
                | {f"eval/{o}/ci95_low": row[f"{o}_ci_low"] for o in judged}
                | {f"eval/{o}/ci95_high": row[f"{o}_ci_high"] for o in judged}
                | {f"hacking/{k}": row[k] for k in HACKING}
                | {f"train_reward/{o}/mean": row[f"{o}{TRAINING}"] for o in objectives if f"{o}{TRAINING}" in row}
                | {f"hacking/{o}/scorer_gap": row[f"{o}_scorer_gap"] for o in judged if f"{o}_scorer_gap" in row}
                | {"eval/utility": row["utility"]}
                | coherence_numbers(row, "coherence/")
            )
            tracking.set_tags({"policy": row["policy"], "on_front": str(bool(row["on_front"]))})
    logged = table.assign(weights=table["weights"].map(json.dumps))
    tracking.log_table(logged, "pareto/front.json")
    tracking.log_figure(figure, "pareto/front.png")
