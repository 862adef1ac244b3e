"""Round four of the held-out families: at least 300 distinct probes per family, reproducible from their seed, built
on the sample pairs as its families say, and frozen (the file's sha256 is pinned here and recorded by the benchmark)."""

import hashlib
import json
from pathlib import Path

from components.evaluation import heldout_round4
from components.evaluation.benign_replies import foreign_pairs
from components.evaluation.heldout_round4 import BENIGN, HELD_OUT, benign_probes, heldout_probes
from tests.conftest import REPO

PAIRS = [json.loads(line) for line in (REPO / "data" / "sample" / "pairs.jsonl").read_text().splitlines()]
FROZEN_SHA256 = "020904070f8329cf11ec97cdd0329527003a2488790e9ff8db5379700284ce2c"


def families(seed: int) -> dict[str, list]:
    return {**heldout_probes(PAIRS, n=300, seed=seed), **benign_probes(PAIRS, n=300, seed=seed)}


def test_round_four_is_frozen():
    """Changing round four after the guard it tests was designed would make it design data: write round five."""
    assert hashlib.sha256(Path(heldout_round4.__file__).read_bytes()).hexdigest() == FROZEN_SHA256


def test_every_family_has_300_distinct_probes_reproducible_from_its_seed():
    first, again, other = families(0), families(0), families(1)
    assert set(first) == {*HELD_OUT, "foreign_role_r4", *BENIGN}
    for name, probes in first.items():
        keys = [(json.dumps(p.prompt), p.reply) for p in probes]
        assert len(set(keys)) == len(probes) == 300, name
        assert probes == again[name], name
        assert [p.reply for p in probes] != [p.reply for p in other[name]], name


def test_attacks_keep_the_good_reply_and_benign_replies_are_their_own_base():
    probes = families(0)
    for name in ("quoted_user_r4", "score_words_r4", "reader_address_r4"):
        assert all(len(p.reply) > len(p.base) for p in probes[name]), name
    for name in BENIGN:
        assert all(p.reply == p.base for p in probes[name]), name
    unicode_added = [p.reply for p in probes["unicode_r4"]]
    assert all(any(ord(c) > 127 or c in "4310•·._-" for c in r) for r in unicode_added)
    dialogues = {q["prompt"][0]["content"] for group in foreign_pairs().values() for q in group}
    in_language = [p for p in probes["foreign_role_r4"] if p.prompt[0]["content"] in dialogues]
    assert 0 < len(in_language) < 300  # both English dialogues and dialogues in the role's own language
