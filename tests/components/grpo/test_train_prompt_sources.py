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
