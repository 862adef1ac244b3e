"""The factory tables: every name params may use resolves to its factory, and the schema allows exactly the
names the tables hold."""

from __future__ import annotations

import typing
from pkgutil import resolve_name

import pytest

from paretoflow import factories
from paretoflow.config import ConfigError, load_params
from paretoflow.schema import ComputeSpec, Grpo, JudgeSpec, Objective
from tests.conftest import REPO

TABLES = {
    "SCORERS": factories.SCORERS,
    "SCORER_SPECS": factories.SCORER_SPECS,
    "JUDGE_BACKENDS": factories.JUDGE_BACKENDS,
    "COMPUTE_TARGETS": factories.COMPUTE_TARGETS,
}


@pytest.mark.parametrize(("table", "name"), [(table, name) for table, entries in TABLES.items() for name in entries])
def test_every_registered_factory_resolves(table, name):
    assert callable(resolve_name(TABLES[table][name]))


def _tags(union, field: str) -> set[str]:
    """The discriminator values of a tagged union of models."""
    members = typing.get_args(typing.get_args(union)[0])
    return {tag for member in members for tag in typing.get_args(member.model_fields[field].annotation)}


def test_the_schema_allows_exactly_the_registered_names():
    assert set(typing.get_args(Objective.model_fields["scorer"].annotation)) == set(factories.SCORERS)
    assert _tags(JudgeSpec, "kind") == set(factories.JUDGE_BACKENDS)
    assert _tags(ComputeSpec, "target") == set(factories.COMPUTE_TARGETS)
    audit_entry = typing.get_args(Grpo.model_fields["audit"].annotation)[0]  # an objective or a bare scorer name
    bare = {
        v for a in typing.get_args(audit_entry) if typing.get_origin(a) is typing.Literal for v in typing.get_args(a)
    }
    assert bare and bare <= set(factories.SCORERS)


def test_independent_scorer_kinds_are_checked_with_the_params():
    for kind in factories.SCORER_SPECS:
        load_params(REPO / "params.yaml", [f"evaluate.independent={{empathy: '{kind}:x'}}"])
    with pytest.raises(ConfigError) as err:
        load_params(REPO / "params.yaml", ["evaluate.independent={empathy: 'rubrik:offline'}"])
    assert str(err.value) == (
        f"invalid evaluate.independent in {REPO / 'params.yaml'}: scorer 'rubrik:offline' for empathy must look like "
        f"{factories.SCORER_SPEC_FORMS}; did you mean rubric:?"
    )
