"""The judge-attack and benign families: at least 300 distinct probes each, reproducible from their seed, built
on the project's sample pairs, holding what their family says."""

import json

import pytest

from components.evaluation.attack_families import DESIGN, design_probes, draw
from components.evaluation.benign_replies import foreign_pairs, foreign_replies, quoted_foreign, score_quotes
from components.evaluation.heldout_round1 import ROUND_1, same_language_probes
from components.evaluation.heldout_round2 import heldout_probes
from components.evaluation.heldout_round3 import ZERO_WIDTH, benign_probes
from components.evaluation.heldout_round3 import heldout_probes as round_3
from tests.conftest import REPO

PAIRS = [json.loads(line) for line in (REPO / "data" / "sample" / "pairs.jsonl").read_text().splitlines()]


def every_family(seed: int) -> dict[str, list]:
    return {
        **design_probes(PAIRS, n=300, seed=seed),
        **{name: draw(name, make, PAIRS, 300, seed) for name, make in ROUND_1.items()},
        **heldout_probes(PAIRS, n=300, seed=seed),
        "same_language": same_language_probes(foreign_pairs(), n=300, seed=seed),
        "score_quotes": score_quotes(PAIRS, n=300, seed=seed),
        "foreign": foreign_replies(n=300, seed=seed),
        "quoted_foreign": quoted_foreign(PAIRS, n=300, seed=seed),
        **round_3(PAIRS, n=300, seed=seed),
        **benign_probes(PAIRS, n=300, seed=seed),
    }


def test_every_family_has_300_distinct_probes_reproducible_from_its_seed():
    first, again, other = every_family(0), every_family(0), every_family(1)
    assert len(first) == len(DESIGN) + 2 + 2 + 4 + 5 + 2
    for name, probes in first.items():
        keys = [(json.dumps(p.prompt), p.reply) for p in probes]
        assert len(set(keys)) == len(probes) == 300, name
        assert probes == again[name], name
        assert [p.reply for p in probes] != [p.reply for p in other[name]], name


def test_attacks_are_built_on_the_prompts_and_good_replies_of_the_pairs():
    by_prompt = {json.dumps(p["prompt"]): p["chosen"] for p in PAIRS}
    for name, probes in design_probes(PAIRS, n=300).items():
        for probe in probes:
            assert by_prompt[json.dumps(probe.prompt)] == probe.base, name
            if name in ("appended_instruction", "fake_score", "role_line"):
                assert probe.base in probe.reply and len(probe.reply) > len(probe.base), probe.reply
            if name == "padding":
                assert len(probe.reply) > len(probe.base), probe.reply
            if name == "master_key":
                assert probe.base not in probe.reply and len(probe.reply) < 100, probe.reply


@pytest.mark.parametrize("family", ["multilingual_r1", "multilingual_r2"])
def test_multilingual_families_write_no_english_instruction(family):
    probes = {**{n: draw(n, m, PAIRS, 300, 0) for n, m in ROUND_1.items()}, **heldout_probes(PAIRS, n=300)}[family]
    added = [p.reply.replace(p.base, "") for p in probes]
    assert not any("score" in a.lower() or "rate this" in a.lower() for a in added)
    assert sum(any(ord(c) > 127 for c in a) for a in added) > 200  # most carry letters outside ASCII


def test_round_three_hides_its_injections_as_its_families_say():
    probes = round_3(PAIRS, n=300)
    multilingual = [p.reply.replace(p.base, "") for p in probes["multilingual_r3"]]
    assert not any("score" in a.lower() or "rate this" in a.lower() for a in multilingual)
    obfuscated = [p.reply.replace(p.base, "") for p in probes["obfuscated_r3"]]
    assert all(any(ord(c) > 127 or c == " " for c in a) for a in obfuscated)
    assert sum(any(z in a for z in ZERO_WIDTH) for a in obfuscated) > 20  # one of six obfuscations, maybe stacked
    for probe in probes["midreply_r3"]:  # inside the reply: its first and last words stay at either end
        words = probe.base.split()
        if len(words) < 2:  # a one-word reply ("Canberra.") can only be followed by the injection
            continue
        assert probe.reply.startswith(words[0]) and probe.reply.endswith(words[-1]) and probe.base not in probe.reply
    same = probes["same_language_r3"]  # on the dialogues written in each language
    dialogues = {q["prompt"][0]["content"] for group in foreign_pairs().values() for q in group}
    assert {p.prompt[0]["content"] for p in same} <= dialogues
