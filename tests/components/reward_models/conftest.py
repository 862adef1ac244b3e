"""The tiny-profile params and ingested sample data the reward-model tests share."""

import pytest

from components.data.ingest import ingest
from paretoflow.config import load_params
from tests.conftest import REPO

ONE_RM = [
    "objectives=[{name: empathy, scorer: reward_model}, {name: concision, scorer: concision}]",
    "grpo.weights=[{empathy: 1, concision: 0}]",
]


def tiny_params(model_cache, *extra):
    return load_params(REPO / "params.yaml", ["profile=tiny", f"cache_dir={model_cache}", *extra])


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory, model_cache):
    data = tmp_path_factory.mktemp("data")
    ingest(tiny_params(model_cache), data)
    return data
