"""A step sees only the params sections it declares: an undeclared read fails loudly instead of escaping its key.

Every entry function runs on such a view in the tiny-profile step tests (tests/components/test_steps_tiny.py runs
them through `execute`), so a component reading an undeclared section fails there.
"""

from __future__ import annotations

import pytest
import yaml

from paretoflow.config import load_params, resolve
from paretoflow.schema import Params
from paretoflow.step_params import BOOKKEEPING, LOCATIONS, SECTIONS, StepParams, UndeclaredSection, result_settings
from paretoflow.steps import ORDER
from tests.conftest import REPO


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml", ["profile=tiny"])


def test_every_step_declares_real_sections():
    assert list(SECTIONS) == ORDER
    for step, sections in SECTIONS.items():
        assert set(sections) <= set(Params.model_fields), step
    assert LOCATIONS.isdisjoint({"data", "objectives", "grpo", "seed"})


def test_a_declared_section_reads_through_and_an_undeclared_one_raises(params):
    view = StepParams(params, "register")
    assert view.register == params.register and view.objective_names == params.objective_names
    assert view.cache_dir == params.cache_dir and view.tracking == params.tracking  # locations: every step
    with pytest.raises(
        UndeclaredSection, match=r"step register reads params section\(s\) data .*SECTIONS\['register'\]"
    ):
        _ = view.data
    validate = StepParams(params, "validate")
    with pytest.raises(UndeclaredSection, match="seed"):
        getattr(validate, "seed", None)  # not an AttributeError: a default does not hide the read


def test_properties_and_methods_of_params_run_against_the_view(params):
    ingest = StepParams(params, "ingest")
    assert ingest.section_hash("data", "objectives") == params.section_hash("data", "objectives")
    assert set(ingest.model_dump(mode="json")) == set(SECTIONS["ingest"]) | LOCATIONS
    with pytest.raises(UndeclaredSection, match="grpo"):
        ingest.section_hash("data", "grpo")
    with pytest.raises(UndeclaredSection, match="rubrics"):
        StepParams(params, "reward_model").model_dump(include={"rubrics"})
    with pytest.raises(UndeclaredSection, match="data"):
        StepParams(params, "grpo").model_copy(update={"data": params.data})
    with pytest.raises(AttributeError):
        _ = ingest.no_such_setting


def test_a_copy_stays_a_view_and_the_yaml_is_whole_for_a_launched_job(params):
    grpo = StepParams(params, "grpo")
    copy = grpo.model_copy(update={"grpo": params.grpo.model_copy(update={"max_steps": 3})})
    assert isinstance(copy, StepParams) and copy.grpo.max_steps == 3
    with pytest.raises(UndeclaredSection):
        _ = copy.data
    assert resolve(yaml.safe_load(grpo.to_yaml())).to_yaml() == params.to_yaml()


def test_bookkeeping_names_real_fields_and_leaves_them_out(params):
    for model, names in BOOKKEEPING.items():
        assert names <= set(model.model_fields), model.__name__
    shaping = result_settings(params.grpo)
    assert "save_steps" not in shaping and "compute" not in shaping and shaping["learning_rate"] > 0
    assert "max_steps" not in result_settings(params.grpo, exclude=frozenset({"max_steps"}))
