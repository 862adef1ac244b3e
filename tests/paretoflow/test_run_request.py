"""The typed run requests: built from params (objective names, defaults), checked with the key and reason, and
turned into the overrides a run loads its params with."""

from __future__ import annotations

import pytest

from paretoflow import run_request
from paretoflow.config import ConfigError, load_params
from paretoflow.steps import ORDER
from tests.conftest import REPO

PARAMS = REPO / "params.yaml"


def _schema(model) -> dict:
    return model.model_json_schema()


def test_the_retrain_form_offers_choices_bounds_and_the_params_values():
    params = load_params(PARAMS)
    schema = _schema(run_request.retrain_model(params, "params.yaml"))
    fields = schema["properties"]
    assert fields["profile"]["enum"] == ["tiny", "cpu", "gpu"] and fields["profile"]["default"] == params.profile
    assert fields["strategy"]["enum"] == ["sweep", "dynamic", "soup"]
    assert fields["until"]["enum"] == ORDER and "sft" in fields["until"]["enum"]
    assert (fields["max_steps"]["minimum"], fields["max_steps"]["default"]) == (1, params.grpo.max_steps)
    assert fields["learning_rate"]["exclusiveMinimum"] == 0 and fields["learning_rate"]["maximum"] == 1
    assert fields["num_generations"]["minimum"] == 2
    assert fields["weights"]["default"] == params.grpo.weights and fields["weights"]["minItems"] == 1
    weights = schema["$defs"]["Weights"]
    assert list(weights["properties"]) == params.objective_names == weights["required"]
    assert all(w["minimum"] == 0 for w in weights["properties"].values())
    source = schema["$defs"]["DataSource"]["properties"]
    assert source["format"]["enum"] == ["canonical", "hh-rlhf", "esconv", "counselchat"]
    assert source["objective"]["anyOf"][0]["enum"] == params.objective_names
    assert [s["uri"] for s in fields["sources"]["default"]] == [s.uri for s in params.data.sources]
    assert fields["force"]["default"] is False and fields["overrides"]["default"] == []
    assert all(field.get("description") for field in fields.values()), "every field says what it is"


def test_the_weights_are_keyed_by_the_configured_objectives():
    params = load_params(
        PARAMS,
        [
            "objectives=[{name: warmth, scorer: concision}, {name: brevity, scorer: concision}]",
            "grpo.weights=[{warmth: 1, brevity: 0}]",
        ],
    )
    model = run_request.retrain_model(params, "params.yaml")
    assert list(_schema(model)["$defs"]["Weights"]["properties"]) == ["warmth", "brevity"]
    with pytest.raises(ConfigError, match=r"weights\.0\.empathy: Extra inputs are not permitted"):
        run_request.parse(model, {"weights": [{"warmth": 1, "brevity": 0, "empathy": 1}]})


def test_a_request_left_at_the_params_values_adds_no_override():
    params = load_params(PARAMS, ["profile=tiny"])
    request = run_request.parse(run_request.retrain_model(params, "params.yaml", ["profile=tiny"]), {})
    assert run_request.to_overrides(request, params) == ["profile=tiny"]
    assert (request.until, request.force) == (ORDER[-1], False)


def test_changed_fields_become_overrides_that_load_back_as_requested():
    params = load_params(PARAMS)
    weights = [{"empathy": 1.0, "helpfulness": 0.0, "harmlessness": 0.0, "concision": 1e-5}]
    sources = [{"name": "extra", "uri": "data/sample/pairs.jsonl", "format": "hh-rlhf", "objective": "harmlessness"}]
    values = {"strategy": "soup", "weights": weights, "learning_rate": 1e-5, "sources": sources, "max_steps": 9}
    request = run_request.parse(run_request.retrain_model(params, "params.yaml"), values)
    resolved = load_params(PARAMS, run_request.to_overrides(request, params))
    assert resolved.grpo.strategy == "soup" and resolved.grpo.weights == weights
    assert resolved.grpo.learning_rate == 1e-5 and resolved.grpo.max_steps == 9
    (source,) = resolved.data.sources
    assert (source.name, source.format, source.objective) == ("extra", "hh-rlhf", "harmlessness")


def test_fields_left_alone_follow_a_profile_chosen_in_the_same_request():
    cpu = load_params(PARAMS)
    model = run_request.retrain_model(cpu, "params.yaml")
    tiny = run_request.parse(model, {"profile": "tiny", "max_steps": cpu.grpo.max_steps})
    assert (
        load_params(PARAMS, run_request.to_overrides(tiny, cpu)).grpo.max_steps
        == load_params(PARAMS, ["profile=tiny"]).grpo.max_steps
    ), "the form's default is the cpu profile's; left alone it is tiny's"
    chosen = run_request.parse(model, {"profile": "tiny", "max_steps": 5})
    assert load_params(PARAMS, run_request.to_overrides(chosen, cpu)).grpo.max_steps == 5


def test_a_typed_field_wins_over_the_same_key_in_overrides():
    params = load_params(PARAMS, ["grpo.max_steps=10"])
    request = run_request.parse(
        run_request.retrain_model(params, "params.yaml", ["grpo.max_steps=10"]), {"max_steps": 3}
    )
    assert load_params(PARAMS, run_request.to_overrides(request, params)).grpo.max_steps == 3


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"max_steps": 0}, "max_steps: Input should be greater than or equal to 1 (got 0)"),
        ({"learning_rate": 0}, "learning_rate: Input should be greater than 0"),
        ({"strategy": "swep"}, "strategy: Input should be 'sweep', 'dynamic' or 'soup' (got 'swep')"),
        ({"until": "valdate"}, "until: Input should be 'ingest', 'validate', 'sft'"),
        ({"profile": "large"}, "profile: Input should be 'tiny', 'cpu' or 'gpu'"),
        ({"weights": [{"empathy": -1}]}, "weights.0.empathy: Input should be greater than or equal to 0"),
        ({"weights": [{"empathy": 1}]}, "weights.0.concision: Field required"),
        ({"weights": []}, "weights: List should have at least 1 item"),
        ({"sources": [{"name": "x", "uri": "y", "objective": "joy"}]}, "sources.0.objective: Input should be"),
        ({"sources": [{"name": "x", "uri": "y", "format": "hh-rlhf"}]}, "format hh-rlhf needs an objective"),
        ({"max_step": 4}, "max_step: Extra inputs are not permitted"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_why(values, problem):
    model = run_request.retrain_model(load_params(PARAMS), "params.yaml")
    with pytest.raises(ConfigError, match="invalid run request") as caught:
        run_request.parse(model, values)
    assert problem in str(caught.value)


def test_the_promote_form_takes_a_version_dry_run_and_the_approval_setting():
    params = load_params(PARAMS, ["promote.require_approval=true"])
    model = run_request.promote_model(params, "params.yaml")
    fields = _schema(model)["properties"]
    assert fields["version"]["anyOf"][0] == {"minimum": 1, "type": "integer"} and fields["version"]["default"] is None
    assert fields["require_approval"]["default"] is True and fields["dry_run"]["default"] is False
    assert fields["approval_timeout_seconds"]["minimum"] == 1
    assert all(field.get("description") for field in fields.values())
    request = run_request.parse(model, {"version": "3", "require_approval": False, "approval_timeout_seconds": 60})
    assert request.version == 3
    resolved = load_params(PARAMS, run_request.to_overrides(request, params))
    assert (resolved.promote.require_approval, resolved.promote.approval_timeout_seconds) == (False, 60)
    with pytest.raises(ConfigError, match="version: Input should be greater than or equal to 1"):
        run_request.parse(model, {"version": 0})


def test_weight_and_source_flags_parse_or_say_what_they_should_look_like():
    assert run_request.parse_weights("empathy=0.5, concision=1") == {"empathy": 0.5, "concision": 1.0}
    with pytest.raises(ConfigError, match="'empathy' is not objective=weight"):
        run_request.parse_weights("empathy")
    with pytest.raises(ConfigError, match="'empathy=lots' is not objective=weight"):
        run_request.parse_weights("empathy=lots")
    assert run_request.parse_source("{name: a, uri: b}") == {"name": "a", "uri": "b"}
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        run_request.parse_source("data/a.jsonl")
