"""recipes/support-cpu.yaml: it loads on every profile, and its Hub sources resolve through the same adapters as the
local copies in ../shared/data, here read from `save_to_disk` copies laid out as the Hub ids name them."""

import gzip
import json

import pandas as pd
import pytest

from components.data.canonical import read_table
from components.data.ingest import ingest
from paretoflow.config import load_params
from tests.conftest import REPO, SHARED_DATA

RECIPE = REPO / "recipes" / "support-cpu.yaml"
ISSUE_WEIGHTS = [  # issue 19, order empathy, helpfulness, harmlessness, concision
    (0.6, 0.2, 0.1, 0.1),
    (0.2, 0.6, 0.1, 0.1),
    (0.1, 0.2, 0.6, 0.1),
    (1.0, 0.0, 0.0, 0.0),
    (0.0, 1.0, 0.0, 0.0),
    (0.0, 0.0, 1.0, 0.0),
]
needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the project")


@pytest.mark.parametrize("profile", ["tiny", "cpu", "gpu"])
def test_the_recipe_loads_with_the_issue_weights_on_every_profile(profile):
    params = load_params(RECIPE, [f"profile={profile}"])
    assert params.objective_names == ["empathy", "helpfulness", "harmlessness", "concision"]
    assert [tuple(w[o] for o in params.objective_names) for w in params.grpo.weights] == ISSUE_WEIGHTS
    assert {s.name: s.uri.split("@")[0] for s in params.data.sources} == {
        "hh-helpful": "hf://Anthropic/hh-rlhf/helpful-base",
        "hh-harmless": "hf://Anthropic/hh-rlhf/harmless-base",
        "esconv": "hf://thu-coai/esconv",
        "counselchat": "hf://nbertagnolli/counsel-chat",
    }
    assert params.grpo.prompt_sources == ["esconv"] and params.sft.sources == {"esconv": 1.0}
    assert params.evaluate.stratify_sources
    if profile != "tiny":
        assert params.reward_model.max_train_pairs == 1000 and params.evaluate.max_prompts == 200
    if profile != "gpu":  # GRPO fine-tunes fully on CPUs: its fast path (bf16 rollout copy, compact head) needs it
        assert params.sft.lora is not None and params.grpo.lora is None


def _jsonl(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


@pytest.fixture(scope="module")
def hub_copies(tmp_path_factory):
    """The local files as `datasets` gives them from the Hub, saved to disk under the recipe's ids: HH-RLHF's
    subsets as {chosen, rejected} rows, ESConv's text files as {text} rows (train and validation), CounselChat's CSV
    with pandas' types. ESConv's FailedESConv.json is not on the Hub, so it is not here either."""
    import datasets

    root = tmp_path_factory.mktemp("hub")
    hh = SHARED_DATA / "hh-rlhf"
    for subset in ("helpful-base", "harmless-base"):
        rows = [json.loads(line) for line in _jsonl(hh / f"{subset}.dev.jsonl.gz")]
        datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(
            root / "Anthropic" / "hh-rlhf" / subset
        )
    esconv = SHARED_DATA / "esconv"
    splits = {
        name: datasets.Dataset.from_list([{"text": line.rstrip("\n")} for line in _jsonl(esconv / file)])
        for name, file in (("train", "train.jsonl.gz"), ("validation", "valid.jsonl"))
    }
    datasets.DatasetDict(splits).save_to_disk(root / "thu-coai" / "esconv")
    counsel = pd.read_csv(SHARED_DATA / "counsel-chat" / "counsel_chat.dev.csv")
    datasets.DatasetDict({"train": datasets.Dataset.from_pandas(counsel, preserve_index=False)}).save_to_disk(
        root / "nbertagnolli" / "counsel-chat"
    )
    return root


def _sources(*rows):
    return f"data.sources=[{', '.join(rows)}]"


@needs_data
def test_the_recipe_sources_resolve_on_hub_copies_like_the_local_files(hub_copies, model_cache, monkeypatch):
    monkeypatch.chdir(hub_copies)  # the recipe's uris, unchanged, name these folders
    common = ["profile=tiny", f"cache_dir={model_cache}", f"tracking.uri=sqlite:///{hub_copies}/mlflow.db"]
    hub = ingest(load_params(RECIPE, common), hub_copies / "hub-out")
    hh, data = SHARED_DATA / "hh-rlhf", SHARED_DATA
    local = _sources(
        f"{{name: hh-helpful, uri: '{hh}/helpful-base.dev.jsonl.gz', format: hh-rlhf, objective: helpfulness}}",
        f"{{name: hh-harmless, uri: '{hh}/harmless-base.dev.jsonl.gz', format: hh-rlhf, objective: harmlessness}}",
        f"{{name: esconv, uri: '{data}/esconv/train.jsonl.gz', format: esconv}}",
        f"{{name: esconv-valid, uri: '{data}/esconv/valid.jsonl', format: esconv}}",
        f"{{name: counselchat, uri: '{data}/counsel-chat/counsel_chat.dev.csv', format: counselchat}}",
    )
    files = ingest(load_params(RECIPE, [*common, local]), hub_copies / "out")
    assert (
        hub["sources"]["hh-helpful"]
        == files["sources"]["hh-helpful"]
        == {"read": 1907, "accepted": 1889, "quarantined": 18, "duplicates": 0}
    )
    assert hub["sources"]["hh-harmless"] == files["sources"]["hh-harmless"]
    assert hub["sources"]["counselchat"] == files["sources"]["counselchat"]
    assert hub["input_rows"]["esconv"] == 910 + 195
    tables = {}
    for name in ("hub-out", "out"):
        pairs, prompts = (read_table(hub_copies / name / f"{t}.parquet") for t in ("pairs", "prompts"))
        tables[name] = pairs, prompts
    (hub_pairs, hub_prompts), (file_pairs, file_prompts) = tables["hub-out"], tables["out"]
    for source in ("hh-helpful", "hh-harmless", "counselchat"):  # the same rows, ids and splits
        a, b = (p[p["source"] == source][["id", "split"]].sort_values("id") for p in (hub_pairs, file_pairs))
        assert a.reset_index(drop=True).equals(b.reset_index(drop=True)) and len(a)
    hub_es = hub_prompts[hub_prompts["source"] == "esconv"][["id", "split"]]
    file_es = file_prompts[file_prompts["source"].isin(["esconv", "esconv-valid"])][["id", "split"]]
    assert set(map(tuple, hub_es.to_numpy())) == set(map(tuple, file_es.to_numpy())) and len(hub_es) > 10_000
    assert (hub_pairs["source"] == "esconv").sum() > 0  # seeker-rated low-empathy conversations give the contrasts
