"""Held-out audit: no test-split preference label reaches a training artefact.

Two copies of the project run the steps up to GRPO's inputs (ingest, validate, sft, rubrics, reward_model) on the
tiny profile, each with its own cache; in the second, every test-split pair of the source data has chosen and
rejected swapped. Every training artefact (rubrics, reward models, SFT examples and start policy, GRPO's prompts
and rewards) must be byte-identical, while the held-out measurements, which read the test labels, must change:
that shows the flip reached the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from components.data.canonical import assign_split, check_messages, read_table
from paretoflow.config import load_params
from tests.conftest import copy_project, tiny

STEPS = ("ingest", "validate", "sft", "rubrics", "reward_model")
SOURCE = Path("data/sample/pairs.jsonl")


def flip_test_labels(root: Path, params) -> int:
    """Swap chosen and rejected of every source pair that ingest puts in the test split; how many were swapped."""
    splits, flipped, lines = params.data.splits, 0, []
    for line in (root / SOURCE).read_text().splitlines():
        record = json.loads(line)
        messages = check_messages(record["prompt"])
        key = record.get("split_key")
        split = record.get("split") or assign_split(messages, splits.salt, splits.test_fraction, key)
        if split == "test":
            record["chosen"], record["rejected"] = record["rejected"], record["chosen"]
            flipped += 1
        lines.append(json.dumps(record, ensure_ascii=False))
    (root / SOURCE).write_text("\n".join(lines) + "\n")
    return flipped


def run_until_grpo(root: Path, cache: Path, flip: bool) -> dict:
    """The steps up to GRPO's inputs in `root`; what GRPO would read, as bytes or plain values."""
    from transformers import AutoTokenizer

    from components.common.model_store import policy_dir
    from components.grpo.rewards import training_rewards
    from components.grpo.train import train_prompts
    from components.sft.examples import reference_examples
    from components.sft.start import start_policy_dir
    from paretoflow.steps import execute

    old = Path.cwd()
    os.chdir(root)
    try:
        params = load_params("params.yaml", tiny(root, cache, "rubrics.build=always"))  # rubrics are audited too
        flipped = flip_test_labels(root, params) if flip else 0
        results = {name: execute(name, params) for name in STEPS}
        artifacts = root / "artifacts"
        objectives = results["reward_model"]["summary"]
        pairs = read_table(artifacts / "data" / "pairs.parquet")
        prompts = train_prompts(artifacts / "data")
        rewards, names = training_rewards(params, artifacts / "reward_models")
        fixed = ["I'm here with you; that sounds really hard.", "Try a short walk and call a friend tonight."]
        batch = [p for p in prompts["prompt"] for _ in fixed]
        replies = fixed * len(prompts)
        tokenizer = AutoTokenizer.from_pretrained(policy_dir(params.policy, params.cache_dir))  # as sft reads it
        start_policy = start_policy_dir(params, artifacts / "sft")
        sft = params.sft
        return {
            "flipped": flipped,
            "pairs": pairs,
            "rubrics": tree_digest(artifacts / "rubrics"),
            "reward_models": {o: tree_digest(artifacts / "reward_models" / o) for o in objectives},
            "start_policy": tree_digest(start_policy),
            "sft_examples": reference_examples(pairs, "train", sft, tokenizer, sft.max_examples, params.seed).rows,
            "grpo_prompts": prompts.to_dict("records"),
            "grpo_rewards": {name: reward(batch, replies) for name, reward in zip(names, rewards)},
            "heldout_accuracy": {o: m["heldout_accuracy"] for o, m in results["reward_model"]["summary"].items()},
            "sft_heldout_loss": json.loads((artifacts / "sft" / "sft.json").read_text())["heldout"]["sft"]["loss"],
        }
    finally:
        os.chdir(old)


def label_free_order(pairs):
    """The test-split pairs in an order no label changes: by prompt, objective and the lesser of the two replies."""
    test = pairs[pairs["split"] == "test"]
    key = [
        json.dumps(p) + o + min(c, r)
        for p, o, c, r in zip(*(test[k] for k in ("prompt", "objective", "chosen", "rejected")))
    ]
    return test.assign(order=key).sort_values("order")


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_flipping_every_test_label_leaves_every_training_artefact_byte_identical(tmp_path_factory):
    runs = {
        flip: run_until_grpo(
            copy_project(tmp_path_factory.mktemp("flipped" if flip else "original")),
            tmp_path_factory.mktemp("cache"),
            flip,
        )
        for flip in (False, True)
    }
    original, flipped = runs[False], runs[True]
    # the flip reached the pipeline: the same pairs, test ones swapped, train ones untouched
    a, b = original["pairs"], flipped["pairs"]
    test_a, test_b = label_free_order(a), label_free_order(b)
    assert flipped["flipped"] == len(test_b) > 0
    assert list(test_a["chosen"]) == list(test_b["rejected"]) and list(test_a["rejected"]) == list(test_b["chosen"])
    assert a[a["split"] == "train"].equals(b[b["split"] == "train"])
    # ... and the measurements that read test labels changed
    assert original["heldout_accuracy"] != flipped["heldout_accuracy"]
    assert original["sft_heldout_loss"] != flipped["sft_heldout_loss"]
    # every training artefact is byte-identical
    for artefact in ("rubrics", "reward_models", "start_policy", "sft_examples", "grpo_prompts", "grpo_rewards"):
        assert original[artefact] == flipped[artefact], artefact
    assert original["rubrics"] and all(original["reward_models"].values()) and original["start_policy"]
