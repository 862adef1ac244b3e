"""Whole-conversation evaluation: held-out personas played by the tiny policy against the scripted seeker."""

from __future__ import annotations

import pytest

from components.common.messages import reply_text
from components.scorers.emotion import EmotionScorer
from components.seeker.evaluation import heldout_starts, play, summary, transcripts_markdown
from components.seeker.persona import Persona
from components.seeker.simulator import Seeker
from paretoflow.schema import Seeker as SeekerSettings
from paretoflow.schema import TinyModel
from tests.components.grpo.project_inputs import ingested, project_params
from tests.components.seeker.scripted import ScriptedClient


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model_cache):
    return ingested(project_params(model_cache), tmp_path_factory.mktemp("data"))


def test_heldout_personas_are_test_split_openings_one_per_conversation(data_dir):
    starts = heldout_starts(data_dir, 50)
    assert starts and len({p.situation for p, _ in starts}) == len(starts)
    assert all(m[-1]["role"] == "user" and p.emotion for p, m in starts)
    assert heldout_starts(data_dir, 2) == starts[:2]


def test_policies_play_to_the_end_and_the_summary_has_intervals(data_dir, model_cache):
    from components.common.model_store import policy_dir

    path = policy_dir(TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2), model_cache)
    params = project_params(model_cache)
    seeker = Seeker(ScriptedClient(), SeekerSettings(max_turns=2))
    starts = heldout_starts(data_dir, 3)
    convs = play(path, starts, seeker, params)
    assert [c.ended for c in convs] == ["turn_limit"] * 3 and all(len(c.turns) == 2 for c in convs)
    again = play(path, starts, Seeker(ScriptedClient(), SeekerSettings(max_turns=2)), params)
    assert [c.replies for c in again] == [c.replies for c in convs]  # fixed seed: the same conversations

    def words(prompts, completions, **kwargs):
        return [len(reply_text(c).split()) for c in completions]

    out = summary(convs, {"emotion": EmotionScorer(seeker), "words": words}, 200, 0)
    assert out["final_emotion"]["mean"] == pytest.approx(sum(c.emotion for c in convs) / 3)
    assert out["objectives"]["emotion"]["mean"] == pytest.approx(out["final_emotion"]["mean"] / 100)
    expected = [sum(len(r.split()) for r in c.replies) / 2 for c in convs]
    assert out["objectives"]["words"]["mean"] == pytest.approx(sum(expected) / 3)
    low, high = out["final_emotion"]["ci95"]
    assert low <= out["final_emotion"]["mean"] <= high
    assert out["resolved_rate"] == 0.0 and out["turns_to_resolution"] is None and out["turns"] == 2.0
    text = transcripts_markdown({"transcripts": {"start": [c.record() for c in convs]}})
    assert "emotion" in text and convs[0].replies[0] in text


def test_a_resolved_conversation_counts_its_turns():
    seeker = Seeker(ScriptedClient(), SeekerSettings(start_emotion=80, max_turns=5))
    conv = seeker.begin(Persona("p", "s", "sadness", "job"), [{"role": "user", "content": "hi, I feel down"}])
    for _ in range(2):
        seeker.respond([conv], ["I'm so sorry, that sounds hard."])
    out = summary([conv], {}, 200, 0)
    assert conv.ended == "resolved" and out["turns_to_resolution"] == 2.0 and out["resolved_rate"] == 1.0
