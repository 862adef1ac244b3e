"""Rewarded soups on tiny random-init models: exact weight interpolation, and LoRA updates mixed after merging."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from components.grpo.soups import make_soup

CONFIG = LlamaConfig(
    vocab_size=64,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=2,
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tok")
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")))
    tok.save_pretrained(out)
    return out


def _model(seed: int, path, tokenizer_dir):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(CONFIG)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    return model


def test_soup_is_the_weighted_mean_of_every_tensor(tmp_path, tokenizer_dir):
    a = _model(1, tmp_path / "a", tokenizer_dir).state_dict()
    b = _model(2, tmp_path / "b", tokenizer_dir).state_dict()
    soup = make_soup([tmp_path / "a", tmp_path / "b"], [3, 7], tmp_path / "soup")  # normalised to 0.3 / 0.7
    mixed = AutoModelForCausalLM.from_pretrained(soup).state_dict()
    for key in a:
        assert torch.allclose(mixed[key], 0.3 * a[key] + 0.7 * b[key], atol=1e-6), key
    assert (soup / "tokenizer.json").exists()
    with pytest.raises(ValueError, match="non-negative"):
        make_soup([tmp_path / "a", tmp_path / "b"], [1, -1], tmp_path / "bad")


def test_lora_specialists_mix_their_updates_exactly_once_merged(tmp_path, tokenizer_dir):
    """sum_i l_i (W0 + B_i A_i) = W0 + sum_i l_i B_i A_i, which averaging the A and B factors does not give."""
    from peft import LoraConfig, get_peft_model

    base = _model(0, tmp_path / "base", tokenizer_dir).state_dict()
    key = "model.layers.0.self_attn.q_proj.weight"
    deltas = []
    factors = []
    for i in range(2):
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tmp_path / "base"), LoraConfig(r=2, lora_alpha=2))
        torch.manual_seed(10 + i)
        layer = model.base_model.model.model.layers[0].self_attn.q_proj
        torch.nn.init.normal_(layer.lora_A["default"].weight)
        torch.nn.init.normal_(layer.lora_B["default"].weight)
        a, b = layer.lora_A["default"].weight.detach().clone(), layer.lora_B["default"].weight.detach().clone()
        factors.append((a, b))
        deltas.append(b @ a)
        model.merge_and_unload().save_pretrained(tmp_path / f"specialist-{i}")
        AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(tmp_path / f"specialist-{i}")
    soup = make_soup([tmp_path / "specialist-0", tmp_path / "specialist-1"], [0.25, 0.75], tmp_path / "soup")
    mixed = AutoModelForCausalLM.from_pretrained(soup).state_dict()[key]
    assert torch.allclose(mixed, base[key] + 0.25 * deltas[0] + 0.75 * deltas[1], atol=1e-5)
    (a0, b0), (a1, b1) = factors
    factor_average = base[key] + (0.25 * b0 + 0.75 * b1) @ (0.25 * a0 + 0.75 * a1)
    assert not torch.allclose(mixed, factor_average, atol=1e-3)
