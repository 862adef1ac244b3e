"""Gate logic, alias moves and rollback against a real (SQLite) MLflow registry with tagged versions; registry
faults (a server failing or killed mid-promotion, two promotions at once) are in test_promotion_faults.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from components.registry.descriptions import MAX_DESCRIPTION, PROMOTION_HEADING, Evaluation, version_description
from components.registry.fronts import CANDIDATE, CHAMPION, PREVIOUS, SIDE_SCORES, aliased
from components.registry.promotion import GATES, PAIRED_SCORES, PASSED, PENDING, PromotionError, promote, rollback
from components.registry.register import judge_attack_tags, side_by_side_tags, version_tags
from components.registry.selection import parse_weights, select
from paretoflow.config import load_params
from tests.conftest import REPO


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite registry per module (creating one takes seconds); each test gets its own model name."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry')}/mlflow.db"


@pytest.fixture
def registry(store, tmp_path, request):
    """Params on a model of its own, and a function registering a front (one version per score vector)."""
    name = f"policy-{request.node.name}".replace("[", "-").replace("]", "")
    params = load_params(REPO / "params.yaml", [f"tracking.uri={store}", f"register.model_name={name}"])
    client = MlflowClient(params.tracking.uri)
    client.create_registered_model(name)
    objectives = params.objective_names

    def register_front(
        run: str,
        points: list[list[float]],
        heldout: str = "set-a",
        candidate: int = 0,
        judge_fpr: str | None = "0.0",
        extra: dict[str, str] | None = None,
        coherence: list[tuple[float, float]] | None = None,
    ) -> list[str]:
        """`coherence`: (end-of-turn rate, in-language share) per version; None registers without those tags."""
        versions = []
        for i, point in enumerate(points):
            tags = {f"heldout.{o}": str(s) for o, s in zip(objectives, point)}
            tags |= {"pipeline.run_id": run, "heldout_set.md5": heldout, "policy": f"policy-{i}"}
            tags |= {} if judge_fpr is None else {"judge_attack.fpr": judge_fpr, "judge_attack.worst_judge": "empathy"}
            if coherence is not None:
                tags |= {
                    "coherence.end_of_turn_rate": str(coherence[i][0]),
                    "coherence.in_language": str(coherence[i][1]),
                }
            tags |= extra or {}
            source = tmp_path / run / f"policy-{i}"
            source.mkdir(parents=True)
            versions.append(str(client.create_model_version(name, str(source), tags=tags).version))
        client.set_registered_model_alias(name, CANDIDATE, versions[candidate])
        return versions

    return params, client, register_front


def _aliases(client, params) -> dict[str, str | None]:
    name = params.register.model_name
    return {a: (str(v.version) if (v := aliased(client, name, a)) else None) for a in (CHAMPION, PREVIOUS, CANDIDATE)}


def _recorded(client, params, version: str) -> tuple[dict[str, str], str, str]:
    """What promotion recorded on the version: the verdict per gate (tag `gates`), tag `gates.passed`, and the
    gates section of its description."""
    found = client.get_model_version(params.register.model_name, version)
    verdicts = dict(pair.split("=") for pair in found.tags[GATES].split(","))
    return verdicts, found.tags[PASSED], PROMOTION_HEADING + found.description.partition(PROMOTION_HEADING)[2]


def _row(gate: dict) -> str:
    return f"| {gate['name']} | {'pass' if gate['passed'] else 'fail'} | {gate['detail']} |"


def test_first_promotion_passes_the_comparison_gates_and_records_them(registry):
    params, client, register_front = registry
    (v1, _) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5], [0.9, 0.1, 0.4, 0.3]])
    result = promote(params, client=client)
    assert result["promoted"] and result["version"] == v1 and result["previous_champion"] is None
    assert _aliases(client, params) == {CHAMPION: v1, PREVIOUS: None, CANDIDATE: v1}
    verdicts, passed, section = _recorded(client, params, v1)
    assert verdicts == dict.fromkeys(["heldout_set", "hypervolume", "objectives", "coherence", "judge_attack"], "pass")
    assert passed == "true" and "human_approval" not in {g["name"] for g in result["gates"]}
    assert "**All gates passed**; no champion yet, gated " in section
    assert all(_row(g) in section for g in result["gates"]) and "first promotion" in section
    with pytest.raises(PromotionError, match=f"version {v1} of .* is already the champion"):
        promote(params, client=client)


def test_better_front_is_promoted_and_the_old_champion_kept(registry):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    new, _ = register_front("run-2", [[0.52, 0.5, 0.5, 0.49], [0.9, 0.2, 0.3, 0.4]])
    result = promote(params, client=client)
    assert result["promoted"], result["gates"]
    assert _aliases(client, params)[CHAMPION] == new and _aliases(client, params)[PREVIOUS] == old
    assert client.get_model_version(params.register.model_name, new).tags["promotion.previous"] == old
    hypervolume = next(g for g in result["gates"] if g["name"] == "hypervolume")
    assert (
        "champion's own evaluation, point comparison: the candidate's evaluation scored no champion beside it"
        in hypervolume["detail"]
    )


def _side_by_side(params, run: str, scores: dict[str, float], coherence: float | None = None) -> dict[str, str]:
    """The tags register writes when evaluate scored champion versions (version -> one score on every objective;
    `coherence`: their end-of-turn rate and in-language share, None for an evaluate that did not measure them)."""
    gated = ("coherence.end_of_turn_rate", "coherence.in_language")
    measured = {} if coherence is None else dict.fromkeys(gated, coherence)
    side = {v: dict.fromkeys(params.objective_names, s) | measured for v, s in scores.items()}
    tags = {"sidebyside.champion_versions": ",".join(scores), "sidebyside.run_id": run}
    return tags | {SIDE_SCORES: json.dumps(side)}


def test_champion_scores_from_the_candidates_own_run_decide_when_they_cover_the_champion_front(registry):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.9, 0.9, 0.9, 0.9]])  # its own (older) evaluation scored it high
    promote(params, client=client)
    # re-scored beside the candidate it reaches 0.5; the candidate's held-out set differs from the champion's own
    register_front("run-2", [[0.6, 0.6, 0.6, 0.6]], heldout="set-b", extra=_side_by_side(params, "eval-2", {old: 0.5}))
    result = promote(params, client=client)
    assert result["promoted"], result["gates"]
    details = {g["name"]: g["detail"] for g in result["gates"]}
    for gate in ("heldout_set", "hypervolume", "objectives"):
        assert "evaluated side by side in run eval-2" in details[gate], details[gate]
    assert "vs champion front 0.0625 (1 versions)" in details["hypervolume"]  # 0.5 ** 4, not 0.9 ** 4


def test_stale_side_by_side_scores_fall_back_to_the_champions_own_and_say_so(registry):
    params, client, register_front = registry
    (first,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    (second,) = register_front("run-2", [[0.6, 0.6, 0.6, 0.6]])
    promote(params, client=client)  # the champion moved after the next candidate's evaluation ran
    register_front("run-3", [[0.55, 0.55, 0.55, 0.55]], extra=_side_by_side(params, "eval-3", {first: 0.4}))
    result = promote(params, client=client)
    assert not result["promoted"]
    assert {g["name"] for g in result["gates"] if not g["passed"]} == {"hypervolume", "objectives"}
    hypervolume = next(g for g in result["gates"] if g["name"] == "hypervolume")
    assert (
        f"champion's own evaluation, point comparison: the candidate was evaluated beside champion versions {first}; "
        in (hypervolume["detail"])
    )
    assert f"the champion front is {second}" in hypervolume["detail"]


def _paired_run(client, params, champion: str, candidate: dict[str, np.ndarray], champ: np.ndarray, start) -> str:
    """An evaluate run holding what evaluate logs for promotion: per-prompt normalised scores (prompts x judged
    objectives) of the start policy, the candidate front's policies and the champion version; returns its id."""
    judged = params.objective_names[:3]  # the last objective unjudged (no evaluator passed its agreement check)
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    columns = lambda m: {o: [round(float(x), 6) for x in m[:, k]] for k, o in enumerate(judged)}  # noqa: E731
    scores = {"start": columns(start), f"champion-v{champion}": columns(champ)}
    scores |= {policy: columns(m) for policy, m in candidate.items()}
    prompts = [f"p{i}" for i in range(len(start))]
    payload = {"objectives": judged, "start_policy": "start", "prompt_ids": prompts, "scores": scores}
    client.log_dict(run.info.run_id, payload | {"normalisation": "start 0, range 1"}, PAIRED_SCORES)
    return run.info.run_id


def _prompts(rng, mean: float, noise: float, prompts: int = 60) -> np.ndarray:
    """Normalised per-prompt scores on three judged objectives: a shared prompt difficulty plus the policy's own."""
    return mean + noise * rng.standard_normal((prompts, 3))


@pytest.mark.parametrize(
    ("shift", "noise", "passed"),
    [
        (-0.005, 0.002, True),  # slightly below the champion, well inside the tolerance
        (-0.05, 0.002, False),  # clearly below it
        (-0.005, 0.08, False),  # the point is inside the tolerance, the interval is not: too few prompts
    ],
    ids=["within", "below", "too-noisy"],
)
def test_paired_intervals_decide_the_objectives_and_hypervolume_gates(registry, shift, noise, passed):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.2, 0.2, 0.2, "None"]])
    promote(params, client=client)
    rng = np.random.default_rng(0)
    difficulty = rng.standard_normal((60, 1)) * 0.05
    champ = 0.2 + difficulty + 0.002 * rng.standard_normal((60, 3))
    ours = champ + shift + noise * rng.standard_normal((60, 3))
    run = _paired_run(client, params, old, {"policy-0": ours}, champ, _prompts(rng, 0.0, 0.01))
    side = _side_by_side(params, run, {old: 0.2})
    (new,) = register_front("run-2", [[0.2 + shift] * 3 + ["None"]], extra=side)
    result = promote(params, client=client)
    details = {g["name"]: g["detail"] for g in result["gates"]}
    verdicts = {g["name"]: g["passed"] for g in result["gates"]}
    assert verdicts["objectives"] is passed, details["objectives"]
    assert "paired bootstrap 95% intervals over 60 held-out prompts" in details["objectives"]
    assert f"v{new} - champion v{old}" in details["objectives"]
    low = float(details["objectives"].split("[")[1].split(",")[0])  # the first objective's interval
    assert (low > -params.promote.tolerance) is passed
    assert "need" in details["objectives"] and "this run has 60" in details["objectives"]
    assert ("and reaches it" in details["objectives"]) is (noise < 0.01)
    assert "95% interval [" in details["hypervolume"]
    assert "paired bootstrap over 60 held-out prompts" in details["hypervolume"]
    objectives = params.objective_names
    assert f"judged objectives {', '.join(objectives[:3])}" in details["hypervolume"]
    assert objectives[3] not in details["objectives"].split("intervals over")[1].split(". Held-out")[0]
    assert result["promoted"] is (passed and verdicts["hypervolume"])
    _, _, section = _recorded(client, params, new)
    assert "95% interval [" in section


def test_point_comparison_leaves_unjudged_objectives_out_and_says_so(registry):
    params, client, register_front = registry
    register_front("run-1", [[0.5, 0.5, 0.5, "None"]])
    promote(params, client=client)
    register_front("run-2", [[0.52, 0.5, 0.5, "None"]])
    result = promote(params, client=client)
    assert result["promoted"], result["gates"]
    details = {g["name"]: g["detail"] for g in result["gates"]}
    unjudged = params.objective_names[3]
    assert f"unjudged, not gated: {unjudged}" in details["objectives"]
    assert "point comparison" in details["hypervolume"] and f"unjudged, not gated: {unjudged}" in details["hypervolume"]


@pytest.mark.parametrize(
    ("points", "heldout", "failing"),
    [
        ([[0.4, 0.4, 0.4, 0.4]], "set-a", {"hypervolume", "objectives"}),  # worse everywhere
        ([[0.7, 0.7, 0.7, 0.45]], "set-a", {"objectives"}),  # larger front, but concision drops by 0.05
        ([[0.6, 0.6, 0.6, 0.6]], "set-b", {"heldout_set"}),  # scored on other prompts: not comparable
    ],
)
def test_a_failing_gate_leaves_the_champion_where_it_was(registry, points, heldout, failing):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    (new,) = register_front("run-2", points, heldout=heldout)
    result = promote(params, client=client)
    assert not result["promoted"]
    assert {g["name"] for g in result["gates"] if not g["passed"]} == failing
    assert _aliases(client, params) == {CHAMPION: old, PREVIOUS: None, CANDIDATE: new}
    verdicts, passed, section = _recorded(client, params, new)
    assert passed == "false" and {g for g, v in verdicts.items() if v == "fail"} == failing
    assert f"**Refused by {', '.join(g['name'] for g in result['gates'] if not g['passed'])}**" in section
    assert f"compared with champion v{old} (front v{old})" in section


@pytest.mark.parametrize(
    ("fpr", "limit", "passed", "detail"),
    [
        ("0.01", 0.02, True, "1.0% of trials (worst judge: empathy); limit 2.0%"),
        ("0.02", 0.02, False, "2.0% of trials"),  # the rate must be under the limit
        ("0.35", 0.02, False, "35.0%"),
        ("0.35", 0.5, True, "limit 50.0%"),
        (None, 0.02, False, "no judge-attack rate recorded"),
    ],
    ids=["under", "at-limit", "over", "lenient-limit", "not-measured"],
)
def test_judge_attack_gate_reads_the_rate_evaluate_recorded(registry, fpr, limit, passed, detail):
    params, client, register_front = registry
    (version,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]], judge_fpr=fpr)
    settings = params.promote.model_copy(update={"max_judge_false_positive_rate": limit})
    result = promote(params.model_copy(update={"promote": settings}), client=client)
    gate = next(g for g in result["gates"] if g["name"] == "judge_attack")
    assert gate["passed"] is passed and detail in gate["detail"] and result["promoted"] is passed
    verdicts, _, section = _recorded(client, params, version)
    assert verdicts["judge_attack"] == ("pass" if passed else "fail") and _row(gate) in section
    assert _aliases(client, params)[CHAMPION] == (version if passed else None)


def _approving(params):
    return params.model_copy(update={"promote": params.promote.model_copy(update={"require_approval": True})})


def test_approval_is_asked_only_after_the_gates_pass_and_decides(registry, monkeypatch):
    params, client, register_front = registry
    asked, written = [], []
    real_tag = client.set_model_version_tag
    monkeypatch.setattr(client, "set_model_version_tag", lambda *a: written.append(a[2]) or real_tag(*a))

    def reviewer(answer: bool):
        def approve(request):
            asked.append(request)
            verdicts, passed, section = _recorded(client, params, request["version"])
            assert passed == PENDING and verdicts["hypervolume"] == "pass", "the gates, awaiting review"
            assert f"**{PENDING}**" in section and all(_row(g) in section for g in request["gates"])
            return {"approve": answer, "reviewer": "dana", "note": "read the samples"}

        return approve

    (v1,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    rejected = promote(_approving(params), client=client, approve=reviewer(False))
    assert not rejected["promoted"] and _aliases(client, params)[CHAMPION] is None
    assert asked[-1]["version"] == v1 and {g["name"] for g in asked[-1]["gates"]} >= {"hypervolume", "judge_attack"}
    verdicts, passed, section = _recorded(client, params, v1)
    assert verdicts["human_approval"] == "fail" and passed == "false"
    assert "| human_approval | fail | rejected by dana: read the samples |" in section
    assert section.count(PROMOTION_HEADING) == 1 and PENDING not in section, "the pending section was replaced"
    assert written == [GATES, PASSED] * 2, "pending while the reviewer decides, then the outcome"
    approved = promote(_approving(params), client=client, approve=reviewer(True))
    assert approved["promoted"] and _aliases(client, params)[CHAMPION] == v1
    assert _recorded(client, params, v1)[0]["human_approval"] == "pass"
    register_front("run-2", [[0.4, 0.4, 0.4, 0.4]])  # fails the automatic gates: nobody is asked
    before = len(asked)
    assert not promote(_approving(params), client=client, approve=reviewer(True))["promoted"]
    assert len(asked) == before


def test_approval_without_an_approver_fails_and_dry_run_asks_nobody(registry):
    params, client, register_front = registry
    (v1,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    result = promote(_approving(params), client=client)
    assert not result["promoted"] and "run the promote flow" in result["gates"][-1]["detail"]
    dry = promote(_approving(params), client=client, dry_run=True, approve=lambda request: 1 / 0)
    assert "human_approval" not in {g["name"] for g in dry["gates"]} and all(g["passed"] for g in dry["gates"])


def test_tolerance_from_params_allows_a_small_drop(registry):
    params, client, register_front = registry
    register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    register_front("run-2", [[0.7, 0.7, 0.7, 0.45]])
    lenient = params.model_copy(update={"promote": params.promote.model_copy(update={"tolerance": 0.06})})
    assert promote(lenient, client=client)["promoted"]


def test_dry_run_records_gates_and_moves_nothing(registry):
    params, client, register_front = registry
    (v1,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    result = promote(params, dry_run=True, client=client)
    assert not result["promoted"] and all(g["passed"] for g in result["gates"])
    assert _aliases(client, params)[CHAMPION] is None
    _, passed, section = _recorded(client, params, v1)
    assert passed == "true" and "in a dry run (no alias moves)" in section


def test_rollback_restores_the_previous_champion_step_by_step(registry):
    params, client, register_front = registry
    versions = []
    for i in range(3):
        versions += register_front(f"run-{i}", [[0.5 + i / 10] * 4])
        assert promote(params, client=client)["promoted"]
    v0, v1, v2 = versions
    assert _aliases(client, params)[CHAMPION] == v2
    result = rollback(params, client=client)
    assert result["champion"] == v1 and result["rolled_back"] == v2
    assert _aliases(client, params)[CHAMPION] == v1 and _aliases(client, params)[PREVIOUS] == v0
    rolled_back = client.get_model_version(params.register.model_name, v2)
    assert rolled_back.tags["promotion.rolled_back"] == "true" and "promotion.previous" not in rolled_back.tags
    gated, note = rolled_back.description.split("**Rolled back** ")
    assert "| hypervolume | pass |" in gated and note.endswith(f"alias champion returned to v{v1}.")
    rollback(params, client=client)
    assert _aliases(client, params)[CHAMPION] == v0 and _aliases(client, params)[PREVIOUS] is None
    with pytest.raises(PromotionError, match="no earlier champion"):
        rollback(params, client=client)


def test_select_picks_the_best_utility_on_the_champion_front(registry):
    params, client, register_front = registry
    candidate_only = register_front("run-1", [[0.9, 0.1, 0.5, 0.5], [0.1, 0.9, 0.5, 0.5]])
    empathic = select(params, parse_weights("empathy=1", params.objective_names), client=client)
    assert empathic["front"] == CANDIDATE and empathic["version"] == candidate_only[0]
    promote(params, client=client)
    register_front("run-2", [[0.95, 0.95, 0.95, 0.95]])  # a better candidate, not promoted: not selectable
    helpful = select(params, parse_weights("helpfulness=0.7,empathy=0.3", params.objective_names), client=client)
    assert helpful["front"] == CHAMPION and helpful["version"] == candidate_only[1]
    assert helpful["model_uri"] == f"models:/{params.register.model_name}/{candidate_only[1]}"
    assert helpful["utility"] == pytest.approx(0.7 * 0.9 + 0.3 * 0.1)


def test_select_leaves_unjudged_objectives_out_of_the_utility_and_says_so(registry):
    params, client, register_front = registry
    objectives = params.objective_names
    versions = register_front("run-1", [[0.9, "None", 0.5, 0.1], [0.1, "None", 0.5, 0.9]])
    picked = select(params, parse_weights(f"{objectives[1]}=0.5,{objectives[3]}=0.5", objectives), client=client)
    assert picked["version"] == versions[1] and picked["unjudged"] == [objectives[1]]
    assert picked["utility"] == pytest.approx(0.5 * 0.9)  # the unjudged objective's weight counts for nothing
    with pytest.raises(ValueError, match=f"unjudged on the candidate front \\({objectives[1]}"):
        select(params, parse_weights(f"{objectives[1]}=1", objectives), client=client)


def test_weights_are_checked_and_normalised():
    objectives = ["empathy", "helpfulness", "harmlessness"]
    assert parse_weights("empathy=0.7, harmlessness=0.3", objectives) == pytest.approx(
        {"empathy": 0.7, "helpfulness": 0.0, "harmlessness": 0.3}
    )
    assert parse_weights("empathy=2,helpfulness=2", objectives)["empathy"] == 0.5
    for bad, message in [
        ("empathy=0.7,kindness=0.3", "objective one of"),
        ("empathy", "objective=number"),
        ("empathy=lots", "not a number"),
        ("empathy=0", "positive sum"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_weights(bad, objectives)


def test_unknown_version_and_missing_scores_are_explained(registry):
    params, client, register_front = registry
    with pytest.raises(PromotionError, match="has no alias candidate"):
        promote(params, client=client)
    with pytest.raises(PromotionError, match="has no version 99"):
        promote(params, version="99", client=client)
    register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    name = params.register.model_name
    bare = client.create_model_version(name, str(client.tracking_uri), tags={"pipeline.run_id": "other"}).version
    with pytest.raises(ValueError, match="has no held-out score for empathy"):
        promote(params, version=str(bare), client=client)


def test_the_same_front_scored_twice_passes_despite_rounding_in_the_tags(registry):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])
    promote(params, client=client)
    side = _side_by_side(params, "eval-2", {old: 0.5000000000001})  # champion.json keeps every digit
    register_front("run-2", [[0.5, 0.5, 0.5, 0.5]], extra=side)  # front.json rounds to 10 decimals
    assert promote(params, client=client)["promoted"]


def _coherence_gate(result) -> dict:
    return next(g for g in result["gates"] if g["name"] == "coherence")


@pytest.mark.parametrize(
    ("candidate", "passed", "detail"),
    [
        ([(0.96, 1.0)], True, "none more than 0.05 below the champion (end_of_turn_rate 0.960 vs 1.000;"),
        ([(0.95, 0.95)], True, "none more than 0.05 below"),  # exactly five points: allowed
        ([(0.94, 1.0)], False, "fell more than 0.05 below the champion: end_of_turn_rate ("),
        ([(1.0, 0.9)], False, "fell more than 0.05 below the champion: in_language ("),
        ([(1.0, 1.0), (0.5, 1.0)], False, "end_of_turn_rate 0.500 vs 1.000"),  # the front's worst version counts
        (None, False, "the candidate front has no coherence.end_of_turn_rate, coherence.in_language tags"),
    ],
    ids=["small-drop", "at-limit", "turns-drop", "language-drops", "worst-version", "candidate-unmeasured"],
)
def test_coherence_gate_refuses_a_drop_in_end_of_turn_rate_or_in_language_share(registry, candidate, passed, detail):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]], coherence=[(1.0, 1.0)])
    promote(params, client=client)
    new = register_front("run-2", [[0.6, 0.6, 0.6, 0.6]] * (len(candidate) if candidate else 1), coherence=candidate)
    result = promote(params, client=client)
    gate = _coherence_gate(result)
    assert gate["passed"] is passed and detail in gate["detail"], gate["detail"]
    assert result["promoted"] is passed and _aliases(client, params)[CHAMPION] == (new[0] if passed else old)
    if passed:
        assert "champion's own evaluation" in gate["detail"]
    verdicts, _, section = _recorded(client, params, new[0])
    assert verdicts["coherence"] == ("pass" if passed else "fail") and _row(gate) in section


def test_coherence_gate_passes_when_the_champion_predates_the_tags(registry):
    params, client, register_front = registry
    register_front("run-1", [[0.5, 0.5, 0.5, 0.5]])  # registered before evaluate measured coherence
    first = _coherence_gate(promote(params, client=client))
    assert first["passed"] and "first promotion" in first["detail"]
    register_front("run-2", [[0.6, 0.6, 0.6, 0.6]], coherence=[(0.2, 0.3)])
    result = promote(params, client=client)
    gate = _coherence_gate(result)
    assert result["promoted"] and gate["passed"] and gate["detail"].startswith("nothing to compare: the champion")


def test_coherence_measured_side_by_side_decides_over_the_champions_own_tags(registry):
    params, client, register_front = registry
    (old,) = register_front("run-1", [[0.5, 0.5, 0.5, 0.5]], coherence=[(0.8, 0.8)])  # its own, older evaluation
    promote(params, client=client)
    side = _side_by_side(params, "eval-2", {old: 0.5}, coherence=1.0)
    register_front("run-2", [[0.6, 0.6, 0.6, 0.6]], coherence=[(0.9, 1.0)], extra=side)
    gate = _coherence_gate(promote(params, dry_run=True, client=client))
    assert not gate["passed"] and "end_of_turn_rate 0.900 vs 1.000" in gate["detail"]
    assert "evaluated side by side in run eval-2" in gate["detail"]
    # side-by-side scores without coherence (an older evaluate): the champion's own tags decide
    register_front(
        "run-3", [[0.6, 0.6, 0.6, 0.6]], coherence=[(0.9, 1.0)], extra=_side_by_side(params, "e3", {old: 0.5})
    )
    gate = _coherence_gate(promote(params, dry_run=True, client=client))
    assert gate["passed"] and "end_of_turn_rate 0.900 vs 0.800" in gate["detail"]
    assert "champion's own evaluation" in gate["detail"]


MAX_TAGS = 25  # issue 17: at most 25 tags per registered version


def _as_register_writes(params, client, run: str, score: float, champion: str | None = None) -> str:
    """A one-version front with the tags and description `register` writes: 22 tags when evaluate scored a champion
    beside it (side-by-side scores), the most register writes; aliased candidate."""
    objectives, name = params.objective_names, params.register.model_name
    row = {o: score for o in objectives} | {f"{o}_ci_low": score - 0.05 for o in objectives}
    row |= {f"{o}_ci_high": score + 0.05 for o in objectives} | {"end_of_turn_rate": 1.0, "in_language": 1.0}
    row |= {"policy": "policy-0", "weights": dict.fromkeys(objectives, 0.25), "hv_contribution": 0.1, "utility": score}
    side = None if champion is None else {"versions": [champion], "run_id": f"eval-{run}", "scores": {champion: row}}
    attack = {"fpr": 0.0, "worst_judge": "empathy", "judges": {"empathy": {"rate": 0.0}}}
    ev = Evaluation(
        objectives=objectives,
        evaluators=dict.fromkeys(objectives, "reward_model"),
        checks=None,
        metrics={"pareto/hypervolume": score**4, "pareto/eum": score, "pareto/front_size": 1, "pareto/candidates": 3},
        heldout={"md5": "set-a", "prompts": 64},
        judge_attack=attack,
        coherence=None,
        champion=side,
        pipeline_run=run,
        lineage_uri=f"runs:/{run}/lineage.json",
        data_md5="d" * 32,
        rubrics="none",
        git_commit="c" * 40,
    )
    shared = {"pipeline.run_id": run, "git.commit": ev.git_commit, "data.md5": ev.data_md5, "heldout_set.md5": "set-a"}
    shared |= {"lineage": ev.lineage_uri, **judge_attack_tags(attack), **side_by_side_tags(side, objectives)}
    tags = {k: str(v) for k, v in version_tags(row, objectives, shared).items()}
    source = client.create_model_version(name, f"s3://pf-test/{run}/policy-0", tags=tags)
    version = str(source.version)
    client.update_model_version(name, version, description=version_description(row, ev))
    client.set_registered_model_alias(name, CANDIDATE, version)
    return version


def test_a_version_register_tagged_in_full_keeps_25_tags_and_gains_a_gates_section(registry):
    """Through promotion, rollback and promotion again, on the fullest version register writes; one gated under
    the older one-tag-per-gate form (13 tags more) drops those tags."""
    params, client, _ = registry
    name = params.register.model_name
    old = _as_register_writes(params, client, "run-1", 0.5)
    assert promote(params, client=client)["promoted"]
    new = _as_register_writes(params, client, "run-2", 0.6, champion=old)
    registered = client.get_model_version(name, new)
    assert len(registered.tags) == 22, sorted(registered.tags)
    for gate in ("heldout_set", "hypervolume", "objectives", "coherence", "judge_attack", "human_approval"):
        client.set_model_version_tag(name, new, f"gate.{gate}", "pass")
        client.set_model_version_tag(name, new, f"gate.{gate}.detail", "an earlier promote's detail")
    client.set_model_version_tag(name, new, "gate.passed", "true")
    for step in ("promote", "rollback", "promote again"):
        result = rollback(params, client=client) if step == "rollback" else promote(params, client=client)
        found = client.get_model_version(name, new)
        assert len(found.tags) <= MAX_TAGS, (step, len(found.tags), sorted(found.tags))
        assert not [k for k in found.tags if k.startswith("gate.")], step
        assert found.description.startswith(registered.description), "register's text stays first"
        assert len(found.description) <= MAX_DESCRIPTION and found.description.count(PROMOTION_HEADING) == 1
        verdicts, passed, section = _recorded(client, params, new)
        assert passed == "true" and set(verdicts.values()) == {"pass"}, step
        assert f"compared with champion v{old} (front v{old})" in section, step
        assert "evaluated side by side in run eval-run-2" in section, step
        if step == "rollback":
            assert result["rolled_back"] == new and found.tags["promotion.rolled_back"] == "true"
            assert section.endswith(f"alias champion returned to v{old}.")
        else:
            assert result["promoted"] and found.tags["promotion.previous"] == old, step
            assert "promotion.rolled_back" not in found.tags and "Rolled back" not in section, step
