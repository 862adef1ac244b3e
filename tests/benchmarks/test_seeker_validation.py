"""seeker_validation says which weights played the seeker: the packaged base model, or a start policy the sft step
wrote (with that run's summary), so a fairness figure is never read as another model's."""

import json

from benchmarks.seeker_validation import _model_note
from paretoflow.config import load_params


def test_the_packaged_model_is_named_as_the_base_model():
    note = _model_note(load_params("params.yaml"), None)
    assert note["weights"] == "Gemma 3 270M base (the packaged GGUF)"


def test_a_start_policy_carries_its_sft_summary(tmp_path):
    policy = tmp_path / "sft" / "policy"
    policy.mkdir(parents=True)
    summary = {"enabled": True, "examples": {"train": 512, "heldout": 32}, "steps": 64, "samples": ["long"]}
    (policy.parent / "sft.json").write_text(json.dumps(summary))
    params = load_params("params.yaml", [f"seeker.judge.model={{kind: pretrained, name_or_path: '{policy}'}}"])
    note = _model_note(params, policy)
    assert note["weights"] == "a start policy written by the sft step"
    assert note["sft"] == {"examples": {"train": 512, "heldout": 32}, "steps": 64}  # samples are left out
    assert note["judge"]["model"]["name_or_path"] == str(policy)


def test_other_weights_are_named_by_their_folder(tmp_path):
    note = _model_note(load_params("params.yaml"), tmp_path)
    assert note["weights"] == f"the model in {tmp_path}" and note["sft"] is None


def test_an_endpoint_is_named_by_the_model_it_serves():
    params = load_params("params.yaml", ["seeker.judge={kind: openai, model: /models/gemma}"])
    assert _model_note(params, None)["weights"] == "the model the endpoint serves: /models/gemma"


def test_the_seeker_weights_become_the_hf_backends_model(tmp_path):
    from argparse import Namespace
    from contextlib import ExitStack

    from benchmarks.seeker_validation import seeker_judge

    given = load_params("params.yaml", ["seed=1"])
    with ExitStack() as stack:
        plain = seeker_judge(Namespace(seeker_weights=None, serve=False), given, stack)
        chosen = seeker_judge(Namespace(seeker_weights=tmp_path, serve=False), given, stack)
    assert plain == []
    params = load_params("params.yaml", chosen)
    assert params.seeker.judge.kind == "hf" and params.seeker.judge.model.name_or_path == str(tmp_path.resolve())


def test_a_run_where_no_turn_was_scored_reports_it():
    from benchmarks.seeker_validation import _spread

    assert _spread([]) == {"n": 0}
    spread = _spread([0.2, 0.4])
    assert spread["n"] == 2 and spread["min"] == 0.2 and spread["max"] == 0.4
