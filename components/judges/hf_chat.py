"""Judge backend: an in-process transformers causal LM (Gemma 3 270M in the cpu profile), batched.

Conversations are rendered with the tokenizer's chat template, sorted by length so a batch pads little,
left-padded (a decoder continues from the last real token) and generated greedily unless a temperature
is given. Scores come from one forward pass per item instead (`expected_scores`): the next-token
probabilities of "1".."10" after the answer prefix. The model loads on the first call, so building a
client costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from components.judges import expected_score
from components.judges.base import Conversation, JudgeError, report_progress
from components.models import policy_dir
from paretoflow.config import HFJudge, PretrainedModel, TinyModel
from paretoflow.hashing import text_sha


class HFChatClient:
    backend = "hf"
    scoring = expected_score.METHOD

    def __init__(self, settings: HFJudge, cache_dir: str | Path):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.model = _model_name(settings.model)
        self._model = None
        self._tokenizer = None
        self._labels: tuple[list[int], dict[str, int], tuple[int, int] | None] | None = None

    def _directory(self) -> Path:
        return Path(policy_dir(self.settings.model, self.cache_dir))

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = self._directory()
        tokenizer = AutoTokenizer.from_pretrained(directory)
        if not tokenizer.chat_template:
            raise JudgeError(f"judge model {directory} has no chat template; set one on its tokenizer (see models.py)")
        tokenizer.padding_side = "left"
        tokenizer.truncation_side = "left"  # keep the end of a long prompt: the question and the reply slot
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
        model.eval()
        self._model, self._tokenizer = model, tokenizer

    def chat(
        self,
        conversations: list[Conversation],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_reply: Callable[[int, str], None] | None = None,
    ) -> list[str]:
        """One reply per conversation, in input order; `on_reply(index, text)` fires after each batch."""
        import torch

        if not conversations:
            return []
        if self._model is None:
            self._load()
        tok, model = self._tokenizer, self._model
        texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        replies: list[str] = [""] * len(texts)
        size = self.settings.batch_size
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            enc = tok(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.settings.max_input_tokens,
                add_special_tokens=False,  # the chat template already writes <bos>
            )
            with torch.inference_mode():
                out = model.generate(
                    **enc, max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id, top_p=None, top_k=None, **sampling
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(batch, tok.batch_decode(new, skip_special_tokens=True)):
                replies[i] = text.strip()
                if on_reply is not None:
                    on_reply(i, replies[i])
            report_progress(f"hf {self.model}", start, start + len(batch), len(order))
        return replies

    def expected_scores(
        self, conversations: list[Conversation], *, on_score: Callable[[int, float | None], None] | None = None
    ) -> list[float | None]:
        """The expected score in [0, 1] per conversation: one batched forward pass over the rendered prompt,
        the answer prefix and, for tokenizers that spell "10" as "1" "0", the token "1" (its logits give
        p("0" | "1"), the logits one step earlier give p(k) after the prefix). No sampling."""
        import torch

        if not conversations:
            return []
        if self._model is None:
            self._load()
        tok, model = self._tokenizer, self._model
        shared, first, ten = self._score_tokens()
        texts = [
            tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) + expected_score.ANSWER_PREFIX
            for c in conversations
        ]
        tail = shared + ([ten[0]] if ten else [])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        scores: list[float | None] = [None] * len(texts)
        size = self.settings.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            enc = tok(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.settings.max_input_tokens - len(tail),
                add_special_tokens=False,
            )
            extra = torch.tensor([tail] * len(batch), dtype=enc["input_ids"].dtype)
            ids = torch.cat([enc["input_ids"], extra], dim=1)
            mask = torch.cat([enc["attention_mask"], torch.ones_like(extra)], dim=1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: count real tokens only
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=2).logits
            probs = torch.softmax(logits.float(), dim=-1)
            at_label = probs[:, -2] if ten else probs[:, -1]
            for row, i in enumerate(batch):
                p = {label: float(at_label[row, tid]) for label, tid in first.items()}
                if ten:
                    p = expected_score.split_ten(p, float(probs[row, -1, ten[1]]))
                scores[i] = expected_score.normalised(p)
                if on_score is not None:
                    on_score(i, scores[i])
            report_progress(f"hf {self.model}", start, start + len(batch), len(order))
        return scores

    def _score_tokens(self) -> tuple[list[int], dict[str, int], tuple[int, int] | None]:
        """(tokens every label starts with, e.g. a space; each one-token label's id; ("1", "0") ids when "10"
        takes two tokens). Any other spelling of the labels is refused: its probabilities would be wrong."""
        if self._labels is not None:
            return self._labels
        tok = self._tokenizer
        before = tok(expected_score.ANSWER_PREFIX, add_special_tokens=False)["input_ids"]
        spelled = {}
        for label in expected_score.LABELS:
            ids = tok(f"{expected_score.ANSWER_PREFIX} {label}", add_special_tokens=False)["input_ids"]
            if ids[: len(before)] != before:
                raise JudgeError(
                    f"judge tokenizer of {self.model} merges {expected_score.ANSWER_PREFIX!r} with a score"
                )
            spelled[label] = ids[len(before) :]
        common = 0
        while all(len(s) > common + 1 and s[common] == spelled["1"][common] for s in spelled.values()):
            common += 1
        shared = spelled["1"][:common]
        rest = {label: ids[common:] for label, ids in spelled.items()}
        first = {label: ids[0] for label, ids in rest.items() if len(ids) == 1}
        ten = None
        if len(rest["10"]) == 2 and rest["10"][0] == first.get("1"):
            ten = (rest["10"][0], rest["10"][1])
        if len(first) + (ten is not None) != len(expected_score.LABELS):
            raise JudgeError(
                f"judge tokenizer of {self.model} spells the scores 1..10 as {rest}; expected scoring needs one token "
                "per score (or '1' '0' for 10); use an openai judge for this model"
            )
        self._labels = (shared, first, ten)
        return self._labels


def _model_name(spec) -> str:
    """What identifies the weights in cache keys, known before anything is built or loaded."""
    if isinstance(spec, PretrainedModel):
        return spec.name_or_path
    if isinstance(spec, TinyModel):
        return "tiny-causal-lm-" + text_sha(spec.model_dump_json(), length=10)
    return spec.package
