"""`hf://` uris: Hub ids with a data_dir (HH-RLHF's subsets), several splits, local folders first; ESConv's Hub rows."""

import json

import pytest

from components.data.adapters.esconv import conversation, hub_text_record
from components.data.canonical import RecordError
from components.data.sources import HfLocation, Row, SourceError, hf_location, read_rows
from components.data.versions import hf_version

CONVERSATION = {
    "emotion_type": "anxiety",
    "problem_type": "job crisis",
    "situation": "I may lose my job.",
    "survey_score": {"seeker": {"empathy": "5"}},
    "dialog": [
        {"speaker": "usr", "text": "I am worried about my job.", "strategy": None},
        {"speaker": "sys", "text": "That sounds stressful. What happened?", "strategy": "Question"},
    ],
}


def test_a_hub_id_keeps_its_first_two_parts_and_the_rest_is_its_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing here is a local folder of that name
    assert hf_location("hf://Anthropic/hh-rlhf/helpful-base@train") == HfLocation(
        "Anthropic/hh-rlhf", None, "helpful-base", ("train",), local=False
    )
    assert hf_location("hf://org/name/a/b:cfg@train+validation") == HfLocation(
        "org/name", "cfg", "a/b", ("train", "validation"), local=False
    )
    assert hf_location("hf://thu-coai/esconv@train") == HfLocation("thu-coai/esconv", None, None, ("train",), False)


def test_a_local_folder_of_that_path_wins_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Anthropic" / "hh-rlhf" / "helpful-base").mkdir(parents=True)
    where = hf_location("hf://Anthropic/hh-rlhf/helpful-base@train")
    assert where == HfLocation("Anthropic/hh-rlhf/helpful-base", None, None, ("train",), local=True)


@pytest.mark.parametrize("uri", ["hf://org/name", "hf://org/name@", "hf://org/name@train+", "hf://@train"])
def test_a_uri_without_a_split_or_a_name_is_refused_with_the_syntax(uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=r"hf://owner/name|name a dataset"):
        hf_location(uri)


def test_saved_splits_joined_by_plus_are_read_one_after_another(tmp_path):
    import datasets

    rows = [{"text": json.dumps(CONVERSATION)}, {"text": json.dumps({**CONVERSATION, "situation": "other"})}]
    splits = {"train": datasets.Dataset.from_list(rows[:1]), "validation": datasets.Dataset.from_list(rows[1:])}
    datasets.DatasetDict(splits).save_to_disk(tmp_path / "esconv")
    read = list(read_rows(f"hf://{tmp_path / 'esconv'}@train+validation"))
    assert [r.record for r in read] == rows and [r.number for r in read] == [1, 2]
    assert hf_version(f"hf://{tmp_path / 'esconv'}@train+validation").startswith("md5:")
    with pytest.raises(SourceError, match="cannot load this dataset split"):
        list(read_rows(f"hf://{tmp_path / 'esconv'}@test"))


def test_a_folder_of_data_files_in_the_hub_layout_loads_its_data_dir(tmp_path, monkeypatch):
    """A local copy of a Hub repository: `hf://<folder>/<data_dir>@split` reads that subset's files."""
    subset = tmp_path / "repo" / "helpful-base"
    subset.mkdir(parents=True)
    (subset / "train.jsonl").write_text(json.dumps({"chosen": "a", "rejected": "b"}) + "\n")
    (tmp_path / "repo" / "other").mkdir()
    (tmp_path / "repo" / "other" / "train.jsonl").write_text(json.dumps({"chosen": "x", "rejected": "y"}) + "\n")
    assert [r.record for r in read_rows(f"hf://{subset}@train")] == [{"chosen": "a", "rejected": "b"}]


def test_an_esconv_hub_row_is_the_conversation_its_text_holds():
    assert hub_text_record({"text": json.dumps(CONVERSATION)}) == CONVERSATION
    assert hub_text_record(CONVERSATION) is CONVERSATION  # the local files' rows pass as they are
    conv = conversation(Row("hf://thu-coai/esconv@train", "row", 1, {"text": json.dumps(CONVERSATION)}))
    assert conv["successful"] and not conv["failed"] and [t["role"] for t in conv["turns"]] == ["user", "assistant"]
    with pytest.raises(RecordError, match="not a JSON conversation"):
        hub_text_record({"text": "{not json"})
