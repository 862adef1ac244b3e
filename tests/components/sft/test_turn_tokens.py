"""Untrained turn-marker rows: found in the real Gemma 3 270M, placed where the chats put them; trained ones kept."""

import json
from pathlib import Path

import pytest

from components.sft.turn_tokens import reinit_untrained_markers, template_marker_ids, untrained_rows

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "pairs.jsonl"
HELDOUT = 32  # chats whose end-of-turn probability is read before and after: each is a forward of the 270M model


def _chats(split_at: int):
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    chats = [r["prompt"] + [{"role": "assistant", "content": r["chosen"]}] for r in rows]
    return chats[:split_at], chats[split_at : split_at + HELDOUT]


def _end_of_turn_probability(model, tokenizer, chats, end: int) -> float:
    """Mean probability of `end` at the position where each chat's last reply ends."""
    import torch

    probabilities = []
    with torch.no_grad():
        for chat in chats:
            ids = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
            where = max(p for p, t in enumerate(ids) if t == end)
            logits = model(torch.tensor([ids[:where]]), logits_to_keep=1).logits[0, -1]
            probabilities.append(logits.softmax(-1)[end].item())
    return sum(probabilities) / len(probabilities)


@pytest.mark.slow
def test_gemma_end_of_turn_row_is_found_and_placed_where_turns_end(gemma_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gemma_dir)
    model = AutoModelForCausalLM.from_pretrained(gemma_dir, dtype=torch.float32)
    end, start = tokenizer.convert_tokens_to_ids(["<end_of_turn>", "<start_of_turn>"])
    weight = model.get_input_embeddings().weight
    assert {end, start} <= set(template_marker_ids(tokenizer))
    assert set(untrained_rows(weight, template_marker_ids(tokenizer))) == {end}  # <start_of_turn> was trained
    train, heldout = _chats(24)
    before = _end_of_turn_probability(model, tokenizer, heldout, end)
    kept = weight[start].detach().clone()

    report = reinit_untrained_markers(model, tokenizer, train)

    placed = sum(
        tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"].count(end) for c in train
    )
    assert report["untrained"] == {"<end_of_turn>": {"copies": pytest.approx(4665, abs=50), "placed_at": placed}}
    assert torch.equal(weight[start], kept)
    assert model.get_output_embeddings().weight is weight  # tied: the output row moved with it
    after = _end_of_turn_probability(model, tokenizer, heldout, end)
    assert before < 1e-4 and after > 100 * before and after > 0.05
    assert not untrained_rows(weight, [end])  # no longer a copy of the cluster


def test_a_model_with_trained_markers_is_left_alone(model_cache):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from components.common.model_store import policy_dir
    from paretoflow.schema import TinyModel

    path = policy_dir(TinyModel(kind="tiny", hidden_size=32, num_layers=1, num_heads=2), model_cache)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    weight = model.get_input_embeddings().weight.detach().clone()
    report = reinit_untrained_markers(model, tokenizer, _chats(4)[0])
    assert report["markers"] and report["untrained"] == {}
    assert torch.equal(model.get_input_embeddings().weight, weight)


def test_a_cluster_of_copies_marks_a_row_untrained():
    import torch

    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(100, 8, generator=generator)
    weight[50:80] = weight[50] + 1e-4 * torch.randn(30, 8, generator=generator)  # 30 near-copies: never trained
    assert untrained_rows(weight, [3, 50, 60]) == {50: 29, 60: 29}
    assert untrained_rows(weight[:60], [50]) == {}  # 9 copies: too few to call it a cluster
