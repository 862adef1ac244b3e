"""The registry's descriptions, in markdown as the MLflow UI renders it: per version what a reviewer reads before
tags (weights, held-out scores with intervals, how it was judged, what it stands on), and for the registered model
what a front is and how to pick a version.

Tags stay for filtering; everything else a version's evaluation measured is said here once. Promotion appends
its gates (each with its verdict and detail) as a last section, replaced each time the version is gated again.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.registry.selection import how_to_pick

# PostgreSQL stores a description in varchar(5000) (MLflow's schema); SQLite would keep more, a server refuses it
MAX_DESCRIPTION = 5000
PROMOTION_HEADING = "### Promotion gates"  # starts the section promotion writes; everything above is register's
HACKING_SHOWN = {"length_growth": "length growth", "repetition": "repetition", "distinct_2": "distinct-2"}
COHERENCE_SHOWN = ("end_of_turn_rate", "in_language", "as_seeker", "median_words", "perplexity")


@dataclass(frozen=True)
class Evaluation:
    """What every version of one front shares: its evaluation (the evaluate step's files) and what it stands on."""

    objectives: list[str]
    evaluators: dict[str, str]  # objective -> its training scorer (what GRPO optimised)
    checks: dict | None  # evaluators.json: objective -> its evaluator, agreement with human labels, judged or not
    metrics: dict  # metrics.json
    heldout: dict  # heldout.json
    judge_attack: dict | None  # judge_attack.json
    coherence: dict | None  # coherence.json
    champion: dict | None  # champion.json
    pipeline_run: str
    lineage_uri: str
    data_md5: str
    rubrics: str
    git_commit: str
    decoding: dict | None = None  # the served model's default decoding (register.served_decoding)


def version_description(row: dict, ev: Evaluation) -> str:
    """`row`: the version's front.json row."""
    weights = " · ".join(f"{o} {row['weights'].get(o, 0):g}" for o in ev.objectives)
    lines = [
        f"**{row['policy']}**, trained with weights {weights}: on the Pareto front of pipeline run "
        f"`{ev.pipeline_run}` (hypervolume contribution {row['hv_contribution']:.4g}, equal-weight utility "
        f"{row['utility']:.3f}).",
        "",
        "| objective | held-out mean | 95% interval | evaluator (agreement with human labels) | training reward |",
        "|---|---|---|---|---|",
        *(_score_row(row, o, ev) for o in ev.objectives),
        "",
        _heldout_line(ev),
        "",
        "**How it was judged.** " + _judged_line(row, ev),
        "",
        "**Coherence of its replies:** " + _coherence(row) + _context(ev.coherence) + ".",
        "",
        *_champion_lines(ev),
        *_serving_lines(ev.decoding),
        f"**Lineage.** Data `{ev.data_md5}`, rubrics `{ev.rubrics}`, git commit `{ev.git_commit}`; the code and data "
        f"md5s behind every step in `{ev.lineage_uri}` (tag `lineage`).",
        "",
        "Choose among this front's versions for your own trade-off: " + how_to_pick(ev.objectives),
    ]
    return fit_description("\n".join(lines))


def model_description(objectives: list[str], latest: str) -> str:
    """The registered model's description; `latest`: one line on the front registered last."""
    lines = [
        f"Policies aligned on several objectives at once ({', '.join(objectives)}), scored on held-out prompts.",
        "",
        "Each pipeline run registers its **Pareto front**: the trained policies that no other policy of the run "
        "beats on every objective at once, one version each (tag `pipeline.run_id` groups them). Moving along the "
        "front trades one objective for another; none of its versions is best overall. Alias `candidate` marks "
        "the latest front's version with the best equal-weight utility; `champion` the front promoted through the "
        "gates (tag `gates`, and each gate's detail in the version's description); `previous-champion` the one "
        "before it.",
        "",
        "**Picking a version:** " + how_to_pick(objectives),
        "",
        "Each version's description states its weights, held-out scores with 95% intervals, its pipeline run and "
        "its evaluators; filter versions on tags `weight.<objective>`, `heldout.<objective>`, `data.md5`, "
        "`git.commit`, `pipeline.run_id`, `gates.passed`.",
        "",
        latest,
    ]
    return fit_description("\n".join(lines))


def front_line(name: str, versions: list[str], ev: Evaluation) -> str:
    """The latest front in one line, for the registered model's description."""
    return (
        f"Latest front: versions {', '.join(versions)} of {name} from pipeline run `{ev.pipeline_run}`, "
        f"{_front_figures(ev.metrics)}."
    )


def _score_row(row: dict, objective: str, ev: Evaluation) -> str:
    low, high, mean = row.get(f"{objective}_ci_low"), row.get(f"{objective}_ci_high"), row.get(objective)
    interval = "–" if low is None else f"[{low:.3f}, {high:.3f}]"
    shown = "**unjudged**, not scored" if mean is None else f"{mean:.3f}"
    training = row.get(f"{objective}_training")
    reward = ev.evaluators[objective] + ("" if training is None else f": {training:.3f}")
    return f"| {objective} | {shown} | {interval} | {_cell(_evaluator(objective, ev))} | {reward} |"


def _evaluator(objective: str, ev: Evaluation) -> str:
    """The objective's evaluator and its agreement check, or why it is unjudged."""
    check = (ev.checks or {}).get(objective)
    if check is None:
        return "not recorded (evaluated before evaluators.json)"
    if check["kind"] == "rule":
        return f"{check['evaluator']}: a deterministic rule, no agreement check needed"
    measured = check["agreement"]
    if measured is None:
        return f"unjudged: {check['why']}"
    low, high = measured["ci95"]
    agreement = f"{measured['agreement']:.2f} [{low:.2f}, {high:.2f}] on {measured['n']} held-out pairs"
    return f"{check['evaluator']}, {agreement}" + ("" if check["judged"] else ": unjudged, interval not above 0.5")


def _heldout_line(ev: Evaluation) -> str:
    return (
        f"Means over {ev.heldout.get('prompts', '?')} held-out prompts (set `{ev.heldout['md5']}`, tag "
        f"`heldout_set.md5`), intervals by bootstrap. The front: {_front_figures(ev.metrics)}."
    )


def _front_figures(metrics: dict) -> str:
    hv = f"hypervolume {metrics['pareto/hypervolume']:.4f}"
    if "pareto/hypervolume/ci95_low" in metrics:
        hv += f" [{metrics['pareto/hypervolume/ci95_low']:.4f}, {metrics['pareto/hypervolume/ci95_high']:.4f}]"
    hv += f" ({metrics.get('pareto/hypervolume_reference', 'reference not recorded')})"
    return (
        f"{hv}, EUM {metrics['pareto/eum']:.4f}, "
        f"{metrics['pareto/front_size']} of {metrics['pareto/candidates']} trained policies on the front"
    )


def _judged_line(row: dict, ev: Evaluation) -> str:
    parts = [
        "Every objective by an evaluator GRPO never optimised (column *evaluator*); a model or judge counts only when "
        "its agreement with human labels on held-out pairs has a 95% interval above 0.5, else the objective is "
        "unjudged: not scored, and left out of the hypervolume, EUM and gates. The reward GRPO optimised is beside it "
        "(*training reward*)"
    ]
    gaps = {o: row[f"{o}_scorer_gap"] for o in ev.objectives if row.get(f"{o}_scorer_gap") is not None}
    if gaps:
        parts.append(
            "gain of the training reward minus the evaluator's (reward-hacking indicator): "
            + ", ".join(f"{o} {gap:+.3f}" for o, gap in gaps.items())
        )
    signs = [f"{label} {row[k]:.3f}" for k, label in HACKING_SHOWN.items() if row.get(k) is not None]
    if signs:
        parts.append("reward-hacking signs: " + ", ".join(signs))
    if ev.judge_attack:
        attack = ev.judge_attack
        per_judge = ", ".join(f"{o} {r['rate']:.1%}" for o, r in attack["judges"].items())
        parts.append(
            f"judge-attack probes scored like a good reply in {attack['fpr']:.1%} of trials"
            + (f" (per judge: {per_judge})" if per_judge else "")
        )
    return "; ".join(parts) + "."


def _coherence(row: dict) -> str:
    return ", ".join(
        f"{k} {row[k]:g}" if k == "median_words" else f"{k} {row[k]:.3f}"
        for k in COHERENCE_SHOWN
        if row.get(k) is not None
    )


def _context(coherence: dict | None) -> str:
    """The start (and pretrained) policy's coherence, which the version's compares with."""
    if not coherence:
        return ""
    shown = {"start": "start policy", "pretrained": "pretrained policy"}
    return "".join(
        f"; {label}: {_coherence(coherence['policies'][p])}" for p, label in shown.items() if p in coherence["policies"]
    )


def _champion_lines(ev: Evaluation) -> list[str]:
    """The champion front as this version's evaluate run scored it, beside it (what promotion compares)."""
    if not ev.champion or not ev.champion["versions"]:
        return []
    scores = "; ".join(
        f"v{v} " + ", ".join(f"{o} {_score(s.get(o))}" for o in ev.objectives) for v, s in ev.champion["scores"].items()
    )
    return [f"**Champion front, scored beside it** in evaluate run `{ev.champion['run_id']}`: {scores}.", ""]


def _serving_lines(decoding: dict | None) -> list[str]:
    """How the version answers a request: chat completions with evaluation's decoding as defaults."""
    if not decoding:
        return []
    mode = f"sampling at temperature {decoding['temperature']:g}" if decoding["do_sample"] else "greedy"
    extra = [f"{k} {decoding[k]:g}" for k in ("repetition_penalty", "no_repeat_ngram_size") if k in decoding]
    note = " (transformers applies them over the prompt as well; evaluation applied them within the reply)"
    return [
        "**Serving.** Chat completions (`llm/v1/chat`): messages in, the chat template applied, the reply ends at the "
        f"end-of-turn token or after {decoding['max_new_tokens']} tokens; defaults as evaluated: {mode}"
        + (f", {', '.join(extra)}{note}" if extra else "")
        + "; a request's own settings override them.",
        "",
    ]


def _score(value: float | None) -> str:
    return "unjudged" if value is None else f"{value:.3f}"


def promotion_section(gates: list[dict], outcome: str, context: str) -> str:
    """The gates as a reviewer reads them: the outcome (`gates.passed`), what was compared, and per gate its
    verdict and the detail saying why (with the interval where the gate measured one)."""
    refused = [g["name"] for g in gates if not g["passed"]]
    headline = {"true": "All gates passed", "false": f"Refused by {', '.join(refused)}"}.get(outcome, outcome)
    rows = [f"| {g['name']} | {'pass' if g['passed'] else 'fail'} | {_cell(g['detail'])} |" for g in gates]
    return "\n".join(
        [PROMOTION_HEADING, "", f"**{headline}**; {context}.", "", "| gate | result | detail |", "|---|---|---|", *rows]
    )


def with_promotion(description: str | None, section: str) -> str:
    """The version's description with its promotion section replaced by `section` (added the first time). The
    section stays whole within half the limit; register's text above it is cut to make room."""
    base = (description or "").partition(PROMOTION_HEADING)[0].rstrip()
    section = fit_description(section, MAX_DESCRIPTION // 2, "the promote flow's `promotion` artifact has every gate")
    if not base:
        return section
    return fit_description(base, MAX_DESCRIPTION - len(section) - 2) + "\n\n" + section


def promotion_of(description: str | None) -> str:
    """The promotion section of a version's description ('' when it was never gated)."""
    _, heading, rest = (description or "").partition(PROMOTION_HEADING)
    return heading + rest


def _cell(text: str) -> str:
    """Text inside a markdown table cell: on one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def fit_description(text: str, limit: int = MAX_DESCRIPTION, rest: str = "the evaluation's files hold the rest") -> str:
    """Cut at `limit`, saying so and where `rest` is (a front with many objectives and champion versions could
    pass it)."""
    if len(text) <= limit:
        return text
    note = f"\n\n… (cut at {limit} characters: {rest})"
    return text[: limit - len(note)] + note
