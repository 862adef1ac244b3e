"""The evaluation as a markdown table (the training flow's Prefect artifact): policies x objectives with 95%
intervals, front membership, hypervolume contribution, EUM, the coherence of each policy's replies (the
pretrained policy beside them for context), reward-hacking signs, and links to the MLflow runs and to the Pareto
front's figure and interactive page on the pipeline run."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from paretoflow.tracking import FRONT_ARTIFACTS

LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store


def run_url(tracking_uri: str, run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server itself, or `mlflow ui` for a local store."""
    try:
        experiment = MlflowClient(tracking_uri).get_run(run_id).info.experiment_id
    except MlflowException:
        experiment = "0"
    base = tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) else LOCAL_UI
    return f"{base}/#/experiments/{experiment}/runs/{run_id}"


def front_links(tracking_uri: str, pipeline_run_id: str) -> str:
    """Markdown links to the pipeline run and the Pareto front figure and interactive page it carries
    (`tracking.end_pipeline_run` logs them there), as pages of the MLflow UI."""
    run = run_url(tracking_uri, pipeline_run_id)
    png, html = (f"{run}/artifactPath/{path}" for path in FRONT_ARTIFACTS)
    return f"[pipeline run]({run}) · [Pareto front]({png}) · [interactive front]({html})"


def markdown(step: dict, objectives: list[str], tracking_uri: str, pipeline_run_id: str | None = None) -> str:
    """`step` is the evaluate step's result (run id, summary with the `front` rows) as the flow holds it;
    `pipeline_run_id`: the parent run, whose front figure and page the artifact links to."""
    summary, run_id = step["summary"], step["run_id"]
    interval = (
        f" [{summary['pareto/hypervolume/ci95_low']:.4f}, {summary['pareto/hypervolume/ci95_high']:.4f}]"
        if "pareto/hypervolume/ci95_low" in summary
        else ""
    )
    lines = [
        f"### Held-out evaluation: hypervolume {summary['pareto/hypervolume']:.4f}{interval}, "
        f"EUM {summary['pareto/eum']:.4f}, "
        f"{summary['pareto/front_size']} of {summary['pareto/candidates']} policies on the front",
        "",
        f"Hypervolume {summary.get('pareto/hypervolume_reference', 'reference not recorded')}.",
        "",
        "| policy | weights | " + " | ".join(objectives) + " | front | hv contribution |",
        "|---|---|" + "---|" * len(objectives) + "---|---|",
    ]
    for row in summary.get("front", []):
        weights = "/".join(f"{row['weights'][o]:g}" for o in objectives) if row["weights"] else "start policy"
        cells = [_cell(row["scores"][o], row.get("training_rewards", {}).get(o)) for o in objectives]
        front = "yes" if row["on_front"] else ("start" if row["policy"] == "start" else "")
        lines.append(
            f"| {row['policy']} | {weights} | " + " | ".join(cells) + f" | {front} | {row['hv_contribution']:.4g} |"
        )
    lines += [
        "",
        f"Weights in the order {'/'.join(objectives)}; scores are evaluator means with bootstrap 95% intervals "
        "(evaluators GRPO never optimised); *unjudged*: no evaluator passed its agreement check with human labels, so "
        "only the training reward is shown and the objective is out of the hypervolume, EUM and gates.",
        "",
    ]
    lines += [f"- {o}: {verdict}" for o, verdict in summary.get("evaluators", {}).items()]
    lines += [""] if summary.get("evaluators") else []
    lines += coherence_lines(summary.get("coherence"))
    gaps = {k.split("/")[1]: v for k, v in summary.items() if k.startswith("hacking/") and k.endswith("/scorer_gap")}
    if gaps:
        shown = ", ".join(f"{o} {v:+.3f}" for o, v in gaps.items())
        lines.append(f"Largest gain of the training reward over its evaluator's (reward-hacking indicator): {shown}.")
    if "judge_attack/fpr" in summary:
        lines.append(f"Judge-attack probes scored like a good reply in {summary['judge_attack/fpr']:.1%} of trials.")
    if "champion/hypervolume" in summary:
        lines.append(f"Champion front, scored in this run: hypervolume {summary['champion/hypervolume']:.4f}.")
    if summary.get("champion"):
        lines.append(f"Champion: {summary['champion']}.")
    lines += ["", front_links(tracking_uri, pipeline_run_id)] if pipeline_run_id else []
    lines += [
        "",
        f"[MLflow run]({run_url(tracking_uri, run_id)}) (tracking `{tracking_uri}`) · "
        f"interactive front: run artifact `pareto/front.html`"
        + (f", [local copy](file://{summary['html']})" if summary.get("html") else ""),
    ]
    return "\n".join(lines)


COHERENCE_COLUMNS = (  # indicator, header, format
    ("in_language", "in language", "{:.0%}"),
    ("as_seeker", "as seeker", "{:.0%}"),
    ("role_marker", "role markers", "{:.0%}"),
    ("end_of_turn_rate", "end of turn", "{:.0%}"),
    ("median_words", "median words", "{:g}"),
    ("repetition", "repetition", "{:.2f}"),
    ("distinct_2", "distinct-2", "{:.2f}"),
    ("perplexity", "perplexity", "{:.2f}"),
)


def coherence_lines(block: dict | None) -> list[str]:
    """Per policy the coherence of its held-out replies; the pretrained policy's row is context, not a candidate."""
    if not block:
        return []
    lines = [
        "| policy | " + " | ".join(h for _, h, _ in COHERENCE_COLUMNS) + " |",
        "|---|" + "---|" * len(COHERENCE_COLUMNS),
    ]
    for policy, row in block["policies"].items():
        name = {"start policy": f"{policy} (start policy)", "pretrained (context only)": f"{policy} (context)"}
        cells = ["–" if row.get(k) is None else f.format(row[k]) for k, _, f in COHERENCE_COLUMNS]
        lines.append(f"| {name.get(row['role'], policy)} | " + " | ".join(cells) + " |")
    reference = block["perplexity_reference"]
    lines += [
        "",
        "Coherence of the held-out replies: in the prompt's script and language "
        f"({block['language_id']}), speaking as the seeker, carrying role markers, ending the turn. Perplexity of "
        f"reference replies: {reference['replies']} ({reference['examples']} replies, {reference['tokens']} tokens).",
        "",
    ]
    return lines


def _cell(scores: list[float] | None, training: float | None) -> str:
    """A judged objective's mean and interval, or an unjudged one's training reward, flagged."""
    if scores is None:
        return "unjudged" + ("" if training is None else f" (training reward {training:.3f})")
    mean, low, high = scores
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"
