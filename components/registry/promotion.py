"""promotion: alias `champion` moves to the candidate only when every gate passes; `rollback` undoes it.

The gates compare the candidate's front with the champion's. When the candidate's evaluate run also scored the
current champion front (tags `sidebyside.champion_versions` and `sidebyside.scores`), both fronts
were generated and scored in that one run on the same prompts with the same seed, decoding and scorers, and those
scores decide: with intervals, not point comparisons (issue 14.4). The run's per-prompt normalised scores (artifact
`evaluation/paired_scores.json`; start policy 0, scale 1) are resampled in a paired bootstrap over the prompts both
fronts answered: the hypervolume gate passes when the lower end of the 95% interval of (candidate front's -
champion front's hypervolume) is above -`promote.hypervolume_tolerance`, the objectives gate when, for every judged
objective, the lower end of the interval of (candidate - champion) is above -`promote.tolerance`; each detail
carries its interval, and the objectives gate says how many held-out prompts intervals that narrow need. Only
judged objectives are compared (those with an evaluator that passed its agreement check; an unjudged one is named
and not gated). Otherwise (the champion moved since, or an older candidate) the gates fall back to each front's own
registered scores (tags `heldout.<objective>`), comparable only when both were scored on the same held-out prompts
(tag `heldout_set.md5`); each gate's detail says which comparison it made. The judge-attack gate reads the
false-positive rate of the master-key probes that evaluate measured on the candidate's training judges (tag
`judge_attack.fpr`). The coherence gate refuses a candidate front whose end-of-turn rate or in-language share
(tags `coherence.<indicator>`, worst version of the front) falls more than `promote.max_coherence_drop` below the
champion front's worst, read from the candidate's side-by-side scores (`sidebyside.scores`)
when they cover the champion front, else from the champion's own tags; a champion registered before those tags
existed leaves nothing to compare, and the gate passes saying so.
The verdicts are recorded on the candidate version in two tags people filter on, `gates` (`name=pass|fail` per
gate) and `gates.passed` (`true`, `false`, or `pending approval`), and in full (each gate's detail, the champion it
was compared with) as the last section of its description; a version keeps at most 25 tags, which one tag per gate
and per detail would pass. With `promote.require_approval`, a person decides last (gate `human_approval`), through
the `approve` callback the promote flow gives (a Prefect pause).

Promotions fail closed. A registry error while reading (5xx, locked database, timeout) stops the command: it is
never read as "no champion yet" (`aliases.py`). MLflow has no transactions, so alias moves are applied one at a
time under an intent recorded in the registry (`promotion_intent.py`), which is also a lock: just before the move
the aliases are read again and the move is abandoned if another command changed them since they were gated; if a
move fails, every alias is put back, and if putting back fails too, or the process dies half-way, the intent stays
and the next promote or rollback repairs it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.common import pareto
from components.evaluation.hypervolume_interval import hypervolume_difference
from components.evaluation.paired import mean_difference, precision_line
from components.registry import promotion_intent
from components.registry.aliases import (
    MISSING,
    REGISTRY_ERRORS,
    PromotionError,
    describe,
    describe_error,
    point,
    read_aliases,
    read_version,
    registry_call,
)
from components.registry.descriptions import PROMOTION_HEADING, promotion_of, promotion_section, with_promotion
from components.registry.fronts import (
    CANDIDATE,
    CHAMPION,
    PREVIOUS,
    Front,
    champion_policy,
    front_of,
    judged,
    side_by_side_scores,
    version_scores,
)
from paretoflow import tracking
from paretoflow.schema import Params, Promote

log = logging.getLogger(__name__)

SIDE_VERSIONS = "sidebyside.champion_versions"  # set by register from evaluate's champion.json
SIDE_RUN = "sidebyside.run_id"
PAIRED_SCORES = "evaluation/paired_scores.json"  # in the evaluate run: per-prompt normalised scores (evaluate.py)
SEED = 0  # the bootstrap's: the same registry state gives the same verdict
# Scores reach the tags through front.json (10 decimals) and champion.json (full precision): the same front scored
# twice may differ by rounding, which must not fail the hypervolume gate.
HV_ROUNDING = 1e-9
COHERENCE_GATED = ("end_of_turn_rate", "in_language")  # coherence.<indicator> tags compared by gate.coherence
COHERENCE_ROUNDING = 1e-9  # a drop of exactly max_coherence_drop (1.0 - 0.95 in floats) is allowed
GATES = "gates"  # name=pass|fail per gate: filter with tags.gates LIKE '%judge_attack=fail%'
PASSED = "gates.passed"  # true or false once decided
PENDING = "pending approval"  # gates.passed while the automatic gates passed and a reviewer has not answered yet
OLD_GATE_TAGS = "gate."  # a tag per gate and per detail, written before the gates went into one tag: removed
PREVIOUS_TAG = "promotion.previous"  # on a champion: the one it replaced (where a rollback returns to after this one)
ROLLED_BACK_TAG = "promotion.rolled_back"  # replaces promotion.previous on a rolled-back version (25 tags at most)


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


Approver = Callable[[dict], dict]  # the request (model, version, gates) -> {approve, reviewer, note}


def gates(
    candidate: Front,
    champion: Front | None,
    objectives: list[str],
    settings: Promote,
    paired: tuple[dict | None, str] = (None, "not read"),
) -> list[Gate]:
    """Every gate's verdict; with no champion yet the comparison gates pass (there is nothing to lose). `paired`:
    the candidate's evaluate run's per-prompt scores (or None) and why they are missing."""
    attack = judge_attack_gate(candidate, settings)
    if champion is None:
        first = "no champion yet: first promotion"
        return [*(Gate(n, True, first) for n in ("heldout_set", "hypervolume", "objectives", "coherence")), attack]
    side, why = side_by_side(candidate, champion, objectives)
    if side is not None:
        how = f"evaluated side by side in run {candidate.anchor.tags.get(SIDE_RUN, 'unknown')}"
        heldout = Gate("heldout_set", True, f"champion front re-scored on the candidate's held-out prompts, {how}")
        scores, why_not = paired
        compared = paired_gates(scores, candidate, champion, settings, how) if scores is not None else None
        if isinstance(compared, str):
            scores, why_not = None, compared
        if scores is not None:
            return [heldout, *compared, coherence_gate(candidate, champion, settings), attack]
        how += f"; point comparison, no paired interval: {why_not}"
        champion_points = np.array([side[str(v.version)] for v in champion.versions])
        champion_anchor = np.array(side[str(champion.anchor.version)])
    else:
        how = f"champion's own evaluation, point comparison: {why}"
        heldout = heldout_gate(candidate, champion, settings)
        champion_points = champion.scores(objectives)
        champion_anchor = np.array(version_scores(champion.anchor, objectives))
    return [
        heldout,
        *point_gates(candidate, champion_points, champion_anchor, objectives, settings, how),
        coherence_gate(candidate, champion, settings),
        attack,
    ]


def point_gates(
    candidate: Front,
    champion_points: np.ndarray,
    champion_anchor: np.ndarray,
    objectives: list[str],
    settings: Promote,
    how: str,
) -> list[Gate]:
    """Hypervolume and objectives gates on registered means, without intervals (no per-prompt scores to pair), over
    the objectives both fronts have judged; tolerance in score units."""
    candidate_points = candidate.scores(objectives)
    both = [o for o in judged(candidate_points, objectives) if o in judged(champion_points, objectives)]
    left_out = [o for o in objectives if o not in both]
    note = f"; unjudged, not gated: {', '.join(left_out)}" if left_out else ""
    columns = [objectives.index(o) for o in both]
    reference = np.array(settings.reference_point or [0.0] * len(objectives))[columns]
    if not both:
        refused = "no objective judged on both fronts: nothing the gates could compare"
        return [Gate("hypervolume", False, f"{refused}, {how}"), Gate("objectives", False, f"{refused}, {how}")]
    hv_candidate = pareto.hypervolume(candidate_points[:, columns], reference)
    hv_champion = pareto.hypervolume(champion_points[:, columns], reference)
    hypervolume = Gate(
        "hypervolume",
        hv_candidate >= hv_champion - HV_ROUNDING,
        f"candidate front {hv_candidate:.4f} ({len(candidate.versions)} versions) vs champion front "
        f"{hv_champion:.4f} ({len(champion_points)} versions), {how}{note}",
    )
    ours = dict(zip(objectives, version_scores(candidate.anchor, objectives)))
    theirs = dict(zip(objectives, champion_anchor))
    worse = [f"{o} {ours[o]:.4f} < {theirs[o]:.4f}" for o in both if theirs[o] - ours[o] > settings.tolerance]
    kept = Gate(
        "objectives",
        not worse,
        (
            f"below the champion by more than {settings.tolerance}: {'; '.join(worse)}"
            if worse
            else f"no objective below the champion by more than {settings.tolerance}"
        )
        + f", {how}{note}",
    )
    return [hypervolume, kept]


def paired_gates(scores: dict, candidate: Front, champion: Front, settings: Promote, how: str) -> list[Gate] | str:
    """Hypervolume and objectives gates from paired bootstrap intervals on the evaluate run's per-prompt normalised
    scores of both fronts (and of the start policy, the hypervolume's reference); the reason when the scores do not
    cover both fronts."""
    objectives, by_policy = scores["objectives"], scores["scores"]
    ours = [v.tags.get("policy") for v in candidate.versions]
    theirs = [champion_policy(str(v.version)) for v in champion.versions]
    missing = [p for p in [scores["start_policy"], *ours, *theirs] if p not in by_policy]
    if missing:
        return f"the candidate's evaluate run has no per-prompt scores of {', '.join(map(str, missing))}"
    if not objectives:
        refused = f"no objective judged in the candidate's evaluate run: nothing the gates could compare, {how}"
        return [Gate("hypervolume", False, refused), Gate("objectives", False, refused)]

    def matrix(policy: str) -> np.ndarray:  # prompts x objectives
        return np.array([[np.nan if x is None else x for x in by_policy[policy][o]] for o in objectives]).T

    samples, n = settings.bootstrap_samples, len(scores["prompt_ids"])
    hv = hypervolume_difference(
        np.stack([matrix(p) for p in ours]),
        np.stack([matrix(p) for p in theirs]),
        matrix(scores["start_policy"]),
        samples,
        SEED,
    )
    low, high = hv["ci95"]
    hypervolume = Gate(
        "hypervolume",
        low > -settings.hypervolume_tolerance,
        f"candidate front {hv['candidate']:.4f} ({len(ours)} versions) - champion front {hv['champion']:.4f} "
        f"({len(theirs)} versions) = {hv['difference']:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}] (paired "
        f"bootstrap over {n} held-out prompts, normalised: start policy 0, reference the start policy); passes when "
        f"its lower end is above -{settings.hypervolume_tolerance:g}; judged objectives {', '.join(objectives)}, {how}",
    )
    anchor = matrix(candidate.anchor.tags.get("policy"))
    rival = matrix(champion_policy(str(champion.anchor.version)))
    found = {o: mean_difference(anchor[:, k], rival[:, k], samples, SEED) for k, o in enumerate(objectives)}
    worse = [o for o, d in found.items() if d["ci95"][0] <= -settings.tolerance]
    shown = "; ".join(f"{o} {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]" for o, d in found.items())
    needed = precision_line(
        {o: d | {"ci95_width": d["ci95"][1] - d["ci95"][0]} for o, d in found.items()},
        settings.tolerance,
        "paired 95% intervals",
    )
    kept = Gate(
        "objectives",
        not worse,
        (
            f"lower end at or below -{settings.tolerance:g} on {', '.join(worse)}"
            if worse
            else f"every lower end above -{settings.tolerance:g}"
        )
        + f": v{candidate.anchor.version} - champion v{champion.anchor.version} per judged objective (normalised "
        f"units, paired bootstrap 95% intervals over {n} held-out prompts): {shown}. Held-out prompts: {needed}. {how}",
    )
    return [hypervolume, kept]


def side_by_side(candidate: Front, champion: Front, objectives: list[str]) -> tuple[dict | None, str]:
    """The champion's scores from the candidate's own evaluate run, per champion version, when that run scored
    exactly the current champion front; else None and why not."""
    tags = candidate.anchor.tags
    tagged = tags.get(SIDE_VERSIONS)
    current = ",".join(str(v.version) for v in champion.versions)
    if tagged is None:
        return None, f"the candidate's evaluation scored no champion beside it (no tag {SIDE_VERSIONS})"
    if sorted(tagged.split(","), key=int) != sorted(current.split(","), key=int):
        return None, f"the candidate was evaluated beside champion versions {tagged}; the champion front is {current}"
    scores = side_by_side_scores(tags)
    missing = [f"v{v} {o}" for v in current.split(",") for o in objectives if o not in scores.get(v, {})]
    if missing:
        return None, f"the candidate lacks side-by-side scores {', '.join(missing[:3])} (objectives changed since?)"
    return {
        v: [np.nan if scores[v][o] is None else float(scores[v][o]) for o in objectives] for v in current.split(",")
    }, ""


def per_prompt_scores(client: MlflowClient, candidate: Front, champion: Front | None) -> tuple[dict | None, str]:
    """What `gates` pairs: the per-prompt normalised scores the candidate's evaluate run logged (tag
    `sidebyside.run_id`), or None and why; a registry that fails to answer raises (fails closed), a run without the
    artifact is a reason. Nothing is read without a champion (nothing to compare)."""
    if champion is None:
        return None, "no champion"
    run_id = candidate.anchor.tags.get(SIDE_RUN)
    if not run_id or run_id == "unknown":
        return None, f"the candidate names no evaluate run (tag {SIDE_RUN})"
    try:
        listed = {a.path for a in client.list_artifacts(run_id, PAIRED_SCORES.rsplit("/", 1)[0])}
    except MlflowException as exc:
        if exc.error_code != MISSING:
            raise
        return None, f"its evaluate run {run_id} is not in this tracking store"
    if PAIRED_SCORES not in listed:
        return None, f"its evaluate run {run_id} logged no per-prompt scores ({PAIRED_SCORES}; evaluated before them)"
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, PAIRED_SCORES, tmp)).read_text()), ""


def coherence_gate(candidate: Front, champion: Front, settings: Promote) -> Gate:
    """Neither the end-of-turn rate nor the in-language share of the candidate front's worst version may fall more
    than `max_coherence_drop` below the champion front's worst. Passes when the champion carries no coherence
    tags (registered before evaluate measured them): there is nothing to compare, and only a measured drop fails."""
    limit = settings.max_coherence_drop
    theirs, how = champion_coherence(candidate, champion)
    if not theirs:
        tags = ", ".join(f"coherence.{k}" for k in COHERENCE_GATED)
        return Gate(
            "coherence",
            True,
            f"nothing to compare: the champion front carries no coherence tags ({tags}; registered before evaluate "
            "measured them)",
        )
    ours = worst_coherence(candidate.versions)
    missing = [k for k in theirs if k not in ours]
    if missing:
        return Gate(
            "coherence",
            False,
            f"the candidate front has no {', '.join(f'coherence.{k}' for k in missing)} tags while the champion's "
            "has: re-run evaluate and register to measure it",
        )
    compared = [f"{k} {ours[k]:.3f} vs {theirs[k]:.3f}" for k in theirs]
    dropped = [k for k in theirs if theirs[k] - ours[k] > limit + COHERENCE_ROUNDING]
    verdict = (
        f"fell more than {limit} below the champion: {', '.join(dropped)}"
        if dropped
        else f"none more than {limit} below the champion"
    )
    return Gate(
        "coherence",
        not dropped,
        f"{verdict} ({'; '.join(compared)}; worst version of each front), {how}",
    )


def champion_coherence(candidate: Front, champion: Front) -> tuple[dict[str, float], str]:
    """The champion front's worst end-of-turn rate and in-language share, and where they come from: the
    candidate's own evaluate run when it measured every champion version beside it, else the champion's tags."""
    tags = candidate.anchor.tags
    if _beside_current(candidate, champion):
        scores = side_by_side_scores(tags)
        side = {
            k: [scores.get(str(v.version), {}).get(f"coherence.{k}") for v in champion.versions]
            for k in COHERENCE_GATED
        }
        if all(None not in values for values in side.values()):
            found = {k: min(map(float, values)) for k, values in side.items()}
            return found, f"evaluated side by side in run {tags.get(SIDE_RUN, 'unknown')}"
    return worst_coherence(champion.versions), "champion's own evaluation"


def worst_coherence(versions: list) -> dict[str, float]:
    """Per gated indicator the lowest `coherence.<indicator>` tag of the versions; one tagged nowhere is left out."""
    worst = {}
    for k in COHERENCE_GATED:
        values = [float(v.tags[f"coherence.{k}"]) for v in versions if f"coherence.{k}" in v.tags]
        if values:
            worst[k] = min(values)
    return worst


def _beside_current(candidate: Front, champion: Front) -> bool:
    """Whether the candidate's evaluate run scored exactly the current champion front beside it."""
    tagged = candidate.anchor.tags.get(SIDE_VERSIONS)
    current = sorted((str(v.version) for v in champion.versions), key=int)
    return tagged is not None and sorted(tagged.split(","), key=int) == current


def heldout_gate(candidate: Front, champion: Front, settings: Promote) -> Gate:
    """Scores from two evaluation runs compare only on the same held-out prompts (tag heldout_set.md5)."""
    same = candidate.heldout_md5 is not None and candidate.heldout_md5 == champion.heldout_md5
    return Gate(
        "heldout_set",
        same or not settings.require_same_heldout,
        "same held-out prompts"
        if same
        else f"candidate scored on held-out set {candidate.heldout_md5}, champion on {champion.heldout_md5}"
        + ("" if settings.require_same_heldout else " (allowed: promote.require_same_heldout is false)"),
    )


def judge_attack_gate(candidate: Front, settings: Promote) -> Gate:
    """Passes when the probes fooled the candidate's training judges less often than the limit."""
    limit, measured = settings.max_judge_false_positive_rate, candidate.anchor.tags.get("judge_attack.fpr")
    if measured is None:
        return Gate("judge_attack", False, "no judge-attack rate recorded (tag judge_attack.fpr): re-run evaluate")
    rate = float(measured)
    worst = candidate.anchor.tags.get("judge_attack.worst_judge")
    return Gate(
        "judge_attack",
        rate < limit,
        f"master-key probes scored as well as a good reply in {rate:.1%} of trials"
        + (f" (worst judge: {worst})" if worst else "")
        + f"; limit {limit:.1%}",
    )


def approval_gate(approve: Approver | None, request: dict) -> Gate:
    """A person's decision; without an approver (outside the promote flow) the gate fails and says where to go."""
    if approve is None:
        return Gate("human_approval", False, "promote.require_approval is set: run the promote flow to be asked")
    answer = approve(request)
    who, note = answer.get("reviewer") or "unnamed reviewer", answer.get("note") or ""
    verdict = "approved" if answer["approve"] else "rejected"
    return Gate("human_approval", bool(answer["approve"]), f"{verdict} by {who}" + (f": {note}" if note else ""))


def promote(
    params: Params,
    version: str | None = None,
    dry_run: bool = False,
    client: MlflowClient | None = None,
    approve: Approver | None = None,
) -> dict:
    """Gate the candidate (alias `candidate`, or `version`) against the champion; move `champion` if all pass.

    With `promote.require_approval`, `approve` is asked once the automatic gates pass (not on a dry run)."""
    client = client or _client(params)
    name = params.register.model_name
    repaired = promotion_intent.recover(client, name, repair_it=not dry_run)
    aliases = read_aliases(client, name)
    chosen = _chosen(client, name, version, aliases)
    champion_version = aliases.get(CHAMPION)
    if champion_version == str(chosen.version):
        raise PromotionError(f"version {chosen.version} of {name} is already the champion")
    with registry_call(client, f"read the fronts of {name} v{chosen.version} and of the champion"):
        champion = None if champion_version is None else _champion_front(client, name, champion_version)
        candidate = front_of(client, chosen, CANDIDATE)
        paired = per_prompt_scores(client, candidate, champion)
    verdicts = gates(candidate, champion, params.objective_names, params.promote, paired)
    compared = _compared(champion, dry_run)
    if params.promote.require_approval and all(g.passed for g in verdicts) and not dry_run:
        # the reviewer reads the automatic gates on the version while deciding; gates.passed waits for the answer
        _record(client, chosen, verdicts, PENDING, compared)
        request = {"model_name": name, "version": str(chosen.version), "gates": [asdict(g) for g in verdicts]}
        verdicts.append(approval_gate(approve, request))
    _record(client, chosen, verdicts, str(all(g.passed for g in verdicts)).lower(), compared)
    promoted = all(g.passed for g in verdicts) and not dry_run
    if promoted:
        move_aliases(
            client,
            name,
            f"promote v{chosen.version}",
            expected={PREVIOUS: aliases.get(PREVIOUS), CHAMPION: champion_version},
            targets={PREVIOUS: champion_version, CHAMPION: str(chosen.version)},
            tags={PREVIOUS_TAG: champion_version, ROLLED_BACK_TAG: None},
        )
    result = {
        "model_name": name,
        "version": str(chosen.version),
        "model_uri": f"models:/{name}/{chosen.version}",
        "promoted": promoted,
        "dry_run": dry_run,
        "previous_champion": champion_version,
        "gates": [asdict(g) for g in verdicts],
        "repaired": repaired,
    }
    tracking.log_dict(result, "promotion/result.json")
    return result


def rollback(params: Params, client: MlflowClient | None = None) -> dict:
    """Put `champion` back on `previous-champion`; the one before that (if recorded) becomes the new previous."""
    client = client or _client(params)
    name = params.register.model_name
    repaired = promotion_intent.recover(client, name)
    aliases = read_aliases(client, name)
    previous, current = aliases.get(PREVIOUS), aliases.get(CHAMPION)
    if previous is None:
        raise PromotionError(f"model {name} has no alias {PREVIOUS}; there is no earlier champion to roll back to")
    with registry_call(client, f"read {name} v{previous}"):
        earlier = client.get_model_version(name, previous).tags.get(PREVIOUS_TAG)
    move_aliases(
        client,
        name,
        "rollback",
        expected={CHAMPION: current, PREVIOUS: previous},
        targets={CHAMPION: previous, PREVIOUS: earlier},
    )
    if current is not None:
        try:
            _note_rollback(client, name, current, previous)
        except REGISTRY_ERRORS as exc:  # the aliases moved: the rollback stands without its note
            log.warning("rolled back, but could not note it on %s v%s (%s)", name, current, exc)
    return {
        "model_name": name,
        "champion": previous,
        "rolled_back": current,
        "previous_champion": earlier,
        "model_uri": f"models:/{name}/{previous}",
        "repaired": repaired,
    }


def move_aliases(
    client: MlflowClient,
    name: str,
    command: str,
    expected: dict[str, str | None],
    targets: dict[str, str | None],
    tags: dict[str, str] | None = None,
) -> None:
    """Point each alias at its version (None: remove it), all or none, under an intent recorded in the registry.

    Nothing moves unless the aliases are still as `expected` (as read when the command decided); the version moved
    to `champion` gets `tags` first (None: remove the tag). A failed move puts every alias back; if that fails too
    the intent stays for the next command to repair."""
    intent = promotion_intent.begin(client, name, command, expected, targets)
    try:
        current = read_aliases(client, name)
        now = {alias: current.get(alias) for alias in targets}
        if now != expected:
            promotion_intent.finish(client, intent)
            raise PromotionError(
                f"the aliases of {name} changed while this {command} ran: {describe(expected)} when it read them, "
                f"{describe(now)} now (another promote or rollback finished first). Nothing was moved: run it again "
                "to decide against the current champion"
            )
        try:
            for key, value in (tags or {}).items():
                if value is None:
                    client.delete_model_version_tag(name, targets[CHAMPION], key)
                else:
                    client.set_model_version_tag(name, targets[CHAMPION], key, value)
            for alias, version in targets.items():
                point(client, name, alias, version)
        except Exception as exc:
            _put_back(client, intent, exc)
        try:
            promotion_intent.finish(client, intent)
        except PromotionError as exc:  # the aliases moved; the next command finds the move complete and clears it
            log.warning("%s: aliases moved to %s, but the intent stays: %s", command, describe(targets), exc)
    finally:
        promotion_intent.release(intent)


def _put_back(client: MlflowClient, intent: promotion_intent.Intent, exc: Exception) -> None:
    """Point every alias where it was before the move and say so; if that fails too, say what to do."""
    name, failed = intent.model, []
    for alias, version in intent.before.items():
        try:
            point(client, name, alias, version)
        except Exception as undo:
            failed.append(f"{alias}: {describe_error(undo)}")
    if failed:
        raise PromotionError(
            f"moving the aliases of {name} failed ({describe_error(exc)}), and putting them back failed too "
            f"({'; '.join(failed)}): they should read {describe(intent.before)} but may not. The {intent.command} "
            f"left its intent in the registry (model {promotion_intent.intent_name(name)}): the next promote or "
            "rollback repairs it once the registry answers"
        ) from exc
    promotion_intent.finish(client, intent)
    raise PromotionError(
        f"moving the aliases of {name} failed ({describe_error(exc)}); every alias was put back: "
        f"{describe(intent.before)}"
    ) from exc


def _chosen(client: MlflowClient, name: str, version: str | None, aliases: dict[str, str]):
    """The version to promote: `version`, else the one alias `candidate` points at."""
    wanted = version or aliases.get(CANDIDATE)
    if wanted is None:
        raise PromotionError(f"model {name} has no alias {CANDIDATE}; run the pipeline (register) or pass --version")
    chosen = read_version(client, name, wanted)
    if chosen is None:
        raise PromotionError(f"model {name} has no version {wanted} in {client.tracking_uri}")
    return chosen


def _champion_front(client: MlflowClient, name: str, version: str) -> Front:
    return front_of(client, client.get_model_version(name, version), CHAMPION)


def _compared(champion: Front | None, dry_run: bool) -> str:
    """What the gates compared, and when, for the description."""
    against = (
        "no champion yet"
        if champion is None
        else f"compared with champion v{champion.anchor.version} (front "
        + ", ".join(f"v{v.version}" for v in champion.versions)
        + ")"
    )
    return f"{against}, gated {_now()}" + (" in a dry run (no alias moves)" if dry_run else "")


def _record(client: MlflowClient, version, verdicts: list[Gate], outcome: str, compared: str) -> None:
    """The verdicts on the version: tags `gates` and `gates.passed`, every detail in its description's last
    section. Tags of the older one-tag-per-gate form go, so that a version gated before keeps under 25 tags."""
    name, number = version.name, str(version.version)
    section = promotion_section([asdict(g) for g in verdicts], outcome, compared)
    with registry_call(client, f"record the gates on {name} v{number}"):
        for key in [k for k in version.tags if k.startswith(OLD_GATE_TAGS)]:
            client.delete_model_version_tag(name, number, key)
        client.set_model_version_tag(name, number, GATES, ",".join(f"{g.name}={_verdict(g)}" for g in verdicts))
        client.set_model_version_tag(name, number, PASSED, outcome)
        client.update_model_version(name, number, description=with_promotion(version.description, section))


def _note_rollback(client: MlflowClient, name: str, version: str, restored: str) -> None:
    """Tag the rolled-back version and say so under its gates; its promotion.previous goes (it names the version
    that is champion again, and both tags would take a version past 25)."""
    found = client.get_model_version(name, version)
    note = f"**Rolled back** {_now()}: alias champion returned to v{restored}."
    section = (promotion_of(found.description) or PROMOTION_HEADING) + "\n\n" + note
    client.set_model_version_tag(name, version, ROLLED_BACK_TAG, "true")
    client.delete_model_version_tag(name, version, PREVIOUS_TAG)
    client.update_model_version(name, version, description=with_promotion(found.description, section))


def _verdict(gate: Gate) -> str:
    return "pass" if gate.passed else "fail"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _client(params: Params) -> MlflowClient:
    tracking.setup(params)
    return MlflowClient(params.tracking.uri)
