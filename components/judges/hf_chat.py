"""Judge backend: an in-process transformers causal LM (Gemma 3 270M in the cpu profile), batched.

Conversations are rendered with the tokenizer's chat template, sorted by length so a batch pads little,
left-padded (a decoder continues from the last real token) and generated greedily unless a temperature
is given. Verdicts (a pointwise score, a pairwise winner) come from one forward pass per item instead
(`verdicts`): the next-token probabilities of the verdict's labels after its answer prefix. The model loads
on the first call, so building a client costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import components.judges.expected_score as expected_score
from components.common.model_store import policy_dir
from components.judges.base import Conversation, JudgeError, report_progress
from paretoflow.hashing import text_sha
from paretoflow.schema import HFJudge, PretrainedModel, TinyModel


class HFChatClient:
    backend = "hf"
    scoring = expected_score.METHOD

    def __init__(self, settings: HFJudge, cache_dir: str | Path):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.model = _model_name(settings.model)
        self._model = None
        self._tokenizer = None
        self._labels: dict[str, tuple[list[int], dict[str, int], tuple[int, int] | None]] = {}

    def _directory(self) -> Path:
        return Path(policy_dir(self.settings.model, self.cache_dir))

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = self._directory()
        tokenizer = AutoTokenizer.from_pretrained(directory)
        if not tokenizer.chat_template:
            raise JudgeError(
                f"judge model {directory} has no chat template; set one on its tokenizer "
                "(see components/common/model_store.py)"
            )
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

        texts = self._render(conversations)
        replies: list[str] = [""] * len(texts)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        for batch, enc in self._batches(texts, self.settings.max_input_tokens):
            with torch.inference_mode():
                out = self._model.generate(
                    **enc,
                    max_new_tokens=max_tokens,
                    pad_token_id=self._tokenizer.pad_token_id,
                    top_p=None,
                    top_k=None,
                    **sampling,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(batch, self._tokenizer.batch_decode(new, skip_special_tokens=True)):
                replies[i] = text.strip()
                if on_reply is not None:
                    on_reply(i, replies[i])
        return replies

    def verdicts(
        self,
        conversations: list[Conversation],
        verdict: expected_score.Verdict,
        *,
        on_value: Callable[[int, float | None], None] | None = None,
    ) -> list[float | None]:
        """The verdict's value in [0, 1] per conversation (None without mass on its labels): one batched forward
        pass over the rendered prompt, the verdict's answer prefix and, for tokenizers that spell "10" as "1" "0",
        the token "1" (its logits give p("0" | "1"), the logits one step earlier give p(label) after the
        prefix). No sampling."""
        import torch

        if not conversations:
            return []
        texts = [text + verdict.prefix for text in self._render(conversations)]
        shared, first, ten = self._label_tokens(verdict)
        tail = shared + ([ten[0]] if ten else [])
        values: list[float | None] = [None] * len(texts)
        for batch, enc in self._batches(texts, self.settings.max_input_tokens - len(tail)):
            extra = torch.tensor([tail] * len(batch), dtype=enc["input_ids"].dtype)
            ids = torch.cat([enc["input_ids"], extra], dim=1)
            mask = torch.cat([enc["attention_mask"], torch.ones_like(extra)], dim=1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: count real tokens only
            with torch.inference_mode():
                logits = self._model(
                    input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=2
                ).logits
            probs = torch.softmax(logits.float(), dim=-1)
            at_label = probs[:, -2] if ten else probs[:, -1]
            for row, i in enumerate(batch):
                p = {label: float(at_label[row, tid]) for label, tid in first.items()}
                if ten:
                    p = expected_score.split_ten(p, float(probs[row, -1, ten[1]]))
                values[i] = verdict.reduce(p)
                if on_value is not None:
                    on_value(i, values[i])
        return values

    def _render(self, conversations: list[Conversation]) -> list[str]:
        """Each conversation through the chat template, ending where the judge's reply starts."""
        if conversations and self._model is None:
            self._load()
        return [
            self._tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations
        ]

    def _batches(self, texts: list[str], max_length: int):
        """(input indices, left-padded encoding) per batch, shortest texts first so a batch pads little."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.settings.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            yield (
                batch,
                self._tokenizer(
                    [texts[i] for i in batch],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    add_special_tokens=False,  # the chat template already writes <bos>
                ),
            )
            report_progress(f"hf {self.model}", start, start + len(batch), len(order))

    def _label_tokens(
        self, verdict: expected_score.Verdict
    ) -> tuple[list[int], dict[str, int], tuple[int, int] | None]:
        """(tokens every label starts with, e.g. a space; each one-token label's id; ("1", "0") ids when "10"
        takes two tokens). Any other spelling of the labels is refused: its probabilities would be wrong."""
        if verdict.name in self._labels:
            return self._labels[verdict.name]
        tok = self._tokenizer
        before = tok(verdict.prefix, add_special_tokens=False)["input_ids"]
        spelled = {}
        for label in verdict.labels:
            ids = tok(f"{verdict.prefix} {label}", add_special_tokens=False)["input_ids"]
            if ids[: len(before)] != before:
                raise JudgeError(f"judge tokenizer of {self.model} merges {verdict.prefix!r} with a label")
            spelled[label] = ids[len(before) :]
        common, one = 0, spelled[verdict.labels[0]]
        while all(len(s) > common + 1 and s[common] == one[common] for s in spelled.values()):
            common += 1
        shared = one[:common]
        rest = {label: ids[common:] for label, ids in spelled.items()}
        first = {label: ids[0] for label, ids in rest.items() if len(ids) == 1}
        ten = None
        if len(rest.get("10", ())) == 2 and rest["10"][0] == first.get("1"):
            ten = (rest["10"][0], rest["10"][1])
        if len(first) + (ten is not None) != len(verdict.labels):
            raise JudgeError(
                f"judge tokenizer of {self.model} spells the labels {verdict.labels} as {rest}; probability verdicts "
                "need one token per label (or '1' '0' for 10); use an openai judge for this model"
            )
        self._labels[verdict.name] = (shared, first, ten)
        return self._labels[verdict.name]


def _model_name(spec) -> str:
    """What identifies the weights in cache keys, known before anything is built or loaded."""
    if isinstance(spec, PretrainedModel):
        return spec.name_or_path
    if isinstance(spec, TinyModel):
        return "tiny-causal-lm-" + text_sha(spec.model_dump_json(), length=10)
    return spec.package
