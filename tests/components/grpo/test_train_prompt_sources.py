"""grpo.prompt_sources: GRPO optimises on the train prompts of the named sources only."""

import pandas as pd
import pytest

from components.data.canonical import write_table
from components.grpo.train import train_prompts


def test_train_prompts_of_the_named_sources_only(tmp_path):
    rows = [
        {"id": f"{s}{i}", "prompt": [{"role": "user", "content": f"{s} {i}"}], "source": s, "split": split, "meta": {}}
        for s in ("esconv", "counselchat")
        for i, split in enumerate(("train", "train", "test"))
    ]
    write_table(pd.DataFrame(rows), tmp_path / "prompts.parquet")
    assert list(train_prompts(tmp_path)["id"]) == ["counselchat0", "counselchat1", "esconv0", "esconv1"]
    assert list(train_prompts(tmp_path, ["esconv"])["id"]) == ["esconv0", "esconv1"]
    with pytest.raises(ValueError, match=r"no train prompts of grpo.prompt_sources \['hh'\].*counselchat"):
        train_prompts(tmp_path, ["hh"])


class _WordTokenizer:
    """One token per word, one per turn marker and one for the generation prompt."""

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True, return_dict=False):
        words = [w for m in messages for w in ["<turn>", *m["content"].split()]]
        ids = words + (["<model>"] if add_generation_prompt else [])
        return {"input_ids": ids} if return_dict else ids


def test_long_dialogues_keep_their_latest_turns_and_those_that_cannot_fit_are_left_out(monkeypatch, capsys):
    import transformers

    from components.grpo.train import latest_context

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path: _WordTokenizer())
    turn = lambda role, words: {"role": role, "content": " ".join(["w"] * words)}  # noqa: E731
    long = [turn("user", 5), turn("assistant", 5), turn("user", 3)]
    train = pd.DataFrame({"id": ["long", "short", "huge"], "prompt": [long, [turn("user", 2)], [turn("user", 50)]]})
    kept = latest_context(train, "policy", max_tokens=8)
    assert list(kept["id"]) == ["long", "short"]
    assert kept.set_index("id")["prompt"]["long"] == long[2:]  # 1 + 3 + 1 tokens fit; the whole dialogue does not
    assert "3 train prompts; 1 cut to their latest turns" in capsys.readouterr().out
    with pytest.raises(ValueError, match="every train prompt is longer than grpo.max_prompt_tokens=2"):
        latest_context(train, "policy", max_tokens=2)
