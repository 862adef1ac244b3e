"""The gates section promotion writes into a version's description: replaced, never stacked, and within what a
PostgreSQL-backed registry stores however long register's text or the gates' details are."""

from __future__ import annotations

from components.registry.descriptions import (
    MAX_DESCRIPTION,
    PROMOTION_HEADING,
    fit_description,
    promotion_of,
    promotion_section,
    with_promotion,
)

GATES = [
    {"name": "hypervolume", "passed": True, "detail": "candidate front 0.5 vs champion front 0.4"},
    {"name": "human_approval", "passed": False, "detail": "rejected by dana: a | b\nsee the samples"},
]


def test_the_section_says_the_outcome_and_every_gate_on_one_table_row():
    section = promotion_section(GATES, "false", "compared with champion v3 (front v3, v4)")
    assert section.startswith(PROMOTION_HEADING)
    assert "**Refused by human_approval**; compared with champion v3 (front v3, v4)." in section
    assert "| hypervolume | pass | candidate front 0.5 vs champion front 0.4 |" in section
    assert "| human_approval | fail | rejected by dana: a \\| b see the samples |" in section
    assert "**All gates passed**" in promotion_section(GATES[:1], "true", "no champion yet")
    assert "**pending approval**" in promotion_section(GATES[:1], "pending approval", "no champion yet")


def test_gating_again_replaces_the_section_below_registers_text():
    first = with_promotion("register's text", promotion_section(GATES, "false", "first"))
    again = with_promotion(first, promotion_section(GATES[:1], "true", "second"))
    assert again.startswith("register's text\n\n" + PROMOTION_HEADING)
    assert again.count(PROMOTION_HEADING) == 1 and "second" in again and "first" not in again
    assert promotion_of(again) == again.removeprefix("register's text\n\n") and promotion_of("no gates") == ""
    assert with_promotion(None, "### Promotion gates\n\nx") == "### Promotion gates\n\nx"


def test_a_full_description_is_cut_to_make_room_and_a_huge_section_is_cut_itself():
    full = fit_description("r" * MAX_DESCRIPTION * 2)  # register's text at the limit already
    section = promotion_section(GATES, "false", "compared with champion v3")
    text = with_promotion(full, section)
    assert len(text) <= MAX_DESCRIPTION and text.endswith(section), "the gates are kept whole"
    assert "the evaluation's files hold the rest)\n\n" + PROMOTION_HEADING in text
    note = [{"name": "human_approval", "passed": True, "detail": "approved by sam: " + "long note " * 1000}]
    text = with_promotion(full, promotion_section(note, "true", "compared with champion v3"))
    assert len(text) <= MAX_DESCRIPTION and text.startswith("rrr") and PROMOTION_HEADING in text
    assert text.endswith("the promote flow's `promotion` artifact has every gate)")


def test_a_version_says_what_judged_each_objective_and_flags_the_unjudged():
    from components.registry.descriptions import Evaluation, version_description

    objectives = ["empathy", "harmlessness", "concision"]
    row = {"policy": "policy-0", "weights": dict.fromkeys(objectives, 1 / 3), "hv_contribution": 0.01, "utility": 0.6}
    row |= {"empathy": 0.61, "empathy_ci_low": 0.55, "empathy_ci_high": 0.66, "empathy_training": 0.7}
    row |= {"harmlessness": None, "harmlessness_ci_low": None, "harmlessness_ci_high": None}
    row |= {"harmlessness_training": 0.52, "concision": 0.9, "concision_ci_low": 0.8, "concision_ci_high": 1.0}
    row |= {"concision_training": 0.9, "empathy_scorer_gap": 0.08, "concision_scorer_gap": 0.0}
    checks = {
        "empathy": {"evaluator": "rm:artifacts/evaluators/empathy abc (sigmoid)", "kind": "model", "judged": True}
        | {"agreement": {"agreement": 0.71, "ci95": [0.6, 0.8], "n": 40}, "why": "above 0.5"},
        "harmlessness": {"evaluator": "rm:artifacts/evaluators/harmlessness d (sigmoid)", "kind": "model"}
        | {"judged": False, "agreement": {"agreement": 0.55, "ci95": [0.41, 0.69], "n": 30}, "why": "not above"},
        "concision": {"evaluator": "concision (target 12 words) (rule)", "kind": "rule", "judged": True}
        | {"agreement": None, "why": "rule"},
    }
    ev = Evaluation(
        objectives=objectives,
        evaluators={"empathy": "reward_model", "harmlessness": "reward_model", "concision": "concision"},
        checks=checks,
        metrics={"pareto/hypervolume": 0.01, "pareto/eum": 0.5, "pareto/front_size": 1, "pareto/candidates": 2},
        heldout={"md5": "set-a", "prompts": 12},
        judge_attack=None,
        coherence=None,
        champion=None,
        pipeline_run="run",
        lineage_uri="runs:/run/lineage.json",
        data_md5="d",
        rubrics="none",
        git_commit="c",
        decoding={"max_new_tokens": 64, "do_sample": False, "no_repeat_ngram_size": 3},
    )
    text = version_description(row, ev)
    served = "ends at the end-of-turn token or after 64 tokens; defaults as evaluated: greedy, no_repeat_ngram_size 3"
    assert served in text
    evaluator = "rm:artifacts/evaluators/empathy abc (sigmoid), 0.71 [0.60, 0.80] on 40 held-out pairs"
    assert f"| empathy | 0.610 | [0.550, 0.660] | {evaluator} |" in text
    assert "| reward_model: 0.700 |" in text
    assert "| harmlessness | **unjudged**, not scored | – |" in text and "unjudged, interval not above 0.5" in text
    rule = "concision (target 12 words) (rule): a deterministic rule, no agreement check needed"
    assert f"| concision | 0.900 | [0.800, 1.000] | {rule} |" in text
    assert "empathy +0.080" in text and "left out of the hypervolume, EUM and gates" in text
