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
