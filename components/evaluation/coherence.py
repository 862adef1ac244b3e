"""Coherence of a policy's held-out replies: does it answer in the seeker's language, as the supporter, in a
turn that ends, and how likely does it find the replies a person wrote?

Per reply (columns of scores.parquet):
- `in_script`: every letter of the reply belongs to a script of the prompt. The prompt's scripts are those
  holding at least 10% of the letters of its seeker turns (all turns when the seeker's have no letters); Japanese
  kana bring Han with them and Hangul brings Han, as those writing systems mix them. Digits, punctuation, emoji
  and modifier letters are neutral. No tolerance: one stray token in another script ("...ibley真的") fails it. A
  reply without a letter is not written in any language and fails.
- `in_language`: in the prompt's script, and in the prompt's language as far as it can be told. The prompt's
  language is the identifier's top language for the seeker turns; the reply is in it when the identifier gives
  it at least 5% for the reply, not only when it comes first: on short plain sentences the identifier confuses
  languages that share words ("Yes, just my immediate family." is Nigerian Pidgin 0.71, English 0.24), while a
  reply in another language gets under 1% for the prompt's ("Es tut mir leid, das zu hören." 0.0 English). A
  text of fewer than 20 letters is too short to identify ("Thanks"); the script alone decides then. Language
  identification is py3langid (langid.py's naive Bayes model, 140 language labels, shipped in its 4.6 MB wheel,
  no download; 0.6 s to load once): about 0.5 ms a reply, 1 to 2 ms with its dialogue, on one core.
- `role_marker`: the reply carries a speaker label or a chat template's turn marker: it writes a transcript, not
  a turn. A label is a role name (seeker side: user, human, seeker, help-seeker, patient, client, customer, caller;
  supporter side: assistant, supporter, therapist, counselor, helper, listener, model, bot, AI, system), maybe
  numbered or bracketed or in bold, then a colon, at the start of the reply, of a line or of a sentence; or a line
  holding only a role name (a template header whose special tokens were dropped in decoding). Turn markers are
  the common templates' (`<start_of_turn>`, `<|im_start|>`, `<|user|>`, `[INST]`, `<|start_header_id|>`, ...).
- `as_seeker`: the reply speaks as the seeker: a seeker-side label or user turn marker anywhere; a supporter-side
  label after the start (what came before it was someone else's turn); or, without any marker, a turn in the
  seeker's voice: at least two first-person singular words (I, me, my, I'm, ...), no second-person word (you,
  your, ...; "thank you", "you know" and the like do not count) and no supporter's stance ("I'm sorry", "I
  understand", "I can imagine", "I'm glad", "I hope", "I'd suggest", ...). The voice rule reads English words
  only; other languages rely on the markers. It is a cautious rule, not a classifier (its word lists drawn from
  ESConv's train split): on ESConv's validation dialogues it flags 43% of seeker turns and 4% of supporter
  turns (supporters' self-disclosure, "I went through that too, it helped me to..."), on CounselChat 83% of the
  questions and 1% of the therapists' answers.

Per policy: the shares of those replies, end-of-turn rate, median reply length in words, repetition and
distinct-n (`stats.indicators`), and the held-out perplexity of reference replies: exp of the mean negative log
likelihood per token of the reply and the end-of-turn token that closes it, given the templated prompt, over
the chosen replies of the test split's pairs (`components.sft.examples.reference_examples`, the same mix and
caps as SFT's held-out loss; the same examples for every policy).
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import Counter
from functools import cache
from importlib import metadata

import pandas as pd

from components.common.messages import as_messages
from components.common.replies import stop_token_ids

LANGUAGE_ID = f"py3langid {metadata.version('py3langid')}"
MIN_LETTERS = 20  # fewer letters: too short to identify the language
PLAUSIBLE = 0.05  # a reply is in the prompt's language when the identifier gives that language this much
SCRIPT_SHARE = 0.1  # a script with this share of the prompt's letters is the prompt's
# Writing systems that mix scripts: the scripts a reply may use when the prompt uses one of them.
SCRIPT_FAMILIES = {"HIRAGANA": {"HAN", "KATAKANA"}, "KATAKANA": {"HAN", "HIRAGANA"}, "HANGUL": {"HAN"}}
SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "MODIFIER": None}
REPLY_FLAGS = ("in_script", "in_language", "role_marker", "as_seeker")
# Per policy, in the order shown (report, front.json, MLflow `coherence/<policy>/<indicator>`).
INDICATORS = (
    "in_language",
    "in_script",
    "as_seeker",
    "role_marker",
    "end_of_turn_rate",
    "median_words",
    "repetition",
    "distinct_1",
    "distinct_2",
    "perplexity",
)

SEEKER_ROLES = r"user|human|(?:help[- ]?)?seeker|patient|client|customer|caller|usr"
SUPPORTER_ROLES = r"assistant|supporter|therapist|counsell?or|helper|listener|model|bot|ai|system|sys"
_LABEL = r"(?:^|\n|(?<=[.!?])[ \t]+)[ \t]*[*#\[(>\-]*[ \t]*({roles})(?:[ \t]*(?:\d+|[ab]))?[ \t]*[*\])]*[ \t]*:"
_HEADER = r"(?:^|\n)[ \t]*({roles})[ \t]*(?:\n|$)"
SEEKER_LABEL = re.compile(_LABEL.format(roles=SEEKER_ROLES), re.IGNORECASE)
SUPPORTER_LABEL = re.compile(_LABEL.format(roles=SUPPORTER_ROLES), re.IGNORECASE)
SEEKER_HEADER = re.compile(_HEADER.format(roles=SEEKER_ROLES), re.IGNORECASE)
SUPPORTER_HEADER = re.compile(_HEADER.format(roles=SUPPORTER_ROLES), re.IGNORECASE)
USER_TURN = re.compile(
    r"<start_of_turn>\s*user|<\|im_start\|>\s*user|<\|user\|>|\[INST\]|<\|start_header_id\|>\s*user|<\|human\|>",
    re.IGNORECASE,
)
TURN_MARKER = re.compile(
    r"<start_of_turn>|<end_of_turn>|<\|im_start\|>|<\|im_end\|>|<\|(?:user|assistant|system|human)\|>|\[/?INST\]"
    r"|<\|start_header_id\|>|<\|end_header_id\|>|<\|eot_id\|>|<\|endoftext\|>",
    re.IGNORECASE,
)
FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll", "im", "ive"})
SECOND_PERSON = frozenset(
    {"you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd", "you'll", "youre", "u", "ur"}
)
FORMULAE = re.compile(r"\b(?:thank you|thanks|you know|you too|see you|bye|goodbye)\b")
STANCE = re.compile(
    r"\bi(?:'m| am)? ?(?:so |really |very |truly )?(?:sorry|glad|happy to|here for|understand|hear|see|"
    r"can (?:imagine|understand|see|tell)|know (?:how|what|that)|hope|wish you|would (?:suggest|recommend)|"
    r"'d (?:suggest|recommend)|suggest|recommend)\b"
)
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


# --- per reply --------------------------------------------------------------------------------------------------


def script_of(char: str) -> str | None:
    """The Unicode script of a letter from its character name (LATIN, CYRILLIC, HAN, ...); None for neutral ones."""
    name = unicodedata.name(char, "")
    for width in ("FULLWIDTH ", "HALFWIDTH "):
        name = name.removeprefix(width)
    word = name.split(" ", 1)[0]
    return SCRIPT_ALIASES.get(word, word) or None


def letter_scripts(text: str) -> Counter:
    """Letters per script (category L*; marks, digits, punctuation and symbols are not letters)."""
    found = (script_of(c) for c in text if unicodedata.category(c).startswith("L"))
    return Counter(s for s in found if s is not None)


def allowed_scripts(prompt_text: str) -> set[str] | None:
    """The scripts a reply to this text may use; None when the text has no letters (nothing to hold a reply to)."""
    counts = letter_scripts(prompt_text)
    total = sum(counts.values())
    if not total:
        return None
    scripts = {s for s, n in counts.items() if n >= SCRIPT_SHARE * total}
    return scripts.union(*(SCRIPT_FAMILIES.get(s, set()) for s in scripts))


def in_script(reply: str, allowed: set[str] | None) -> bool:
    letters = letter_scripts(reply)
    if not letters:
        return False
    return allowed is None or set(letters) <= allowed


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language(text: str) -> str | None:
    """The identifier's top language (ISO 639), or None for a text too short to tell."""
    if sum(letter_scripts(text).values()) < MIN_LETTERS:
        return None
    return _identifier().classify(text)[0]


def language_share(text: str, code: str) -> float | None:
    """The identifier's probability that `text` is in language `code`; None for a text too short to tell."""
    if sum(letter_scripts(text).values()) < MIN_LETTERS:
        return None
    return dict(_identifier().rank(text)).get(code, 0.0)


def seeker_text(prompt) -> str:
    """What the seeker wrote (the user turns), or the whole dialogue when those have no letters."""
    messages = as_messages(prompt)
    seeker = "\n".join(m["content"] for m in messages if m["role"] == "user")
    return seeker if letter_scripts(seeker) else "\n".join(m["content"] for m in messages)


def role_marker(reply: str) -> bool:
    return any(p.search(reply) for p in (SEEKER_LABEL, SUPPORTER_LABEL, SEEKER_HEADER, SUPPORTER_HEADER, TURN_MARKER))


def seeker_voice(reply: str) -> bool:
    """Two or more first-person words, no second person and no supporter's stance (English words only)."""
    text = reply.lower().replace("\u2019", "'")
    if STANCE.search(text):
        return False
    words = WORD.findall(FORMULAE.sub(" ", text))
    first = sum(w in FIRST_PERSON for w in words)
    return first >= 2 and not any(w in SECOND_PERSON for w in words)


def as_seeker(reply: str) -> bool:
    if SEEKER_LABEL.search(reply) or SEEKER_HEADER.search(reply) or USER_TURN.search(reply):
        return True
    later = [m.start() for p in (SUPPORTER_LABEL, SUPPORTER_HEADER) for m in p.finditer(reply)]
    if any(reply[:start].strip() for start in later):  # a supporter turn starts after someone else's words
        return True
    return not later and seeker_voice(reply)


def judge_replies(prompts: list, replies: list[str]) -> list[dict[str, bool]]:
    """The per-reply flags (REPLY_FLAGS) of each reply to its prompt."""
    judged, prompt_language = [], {}
    for prompt, reply in zip(prompts, replies):
        text = seeker_text(prompt)
        if text not in prompt_language:
            prompt_language[text] = (allowed_scripts(text), language(text))
        allowed, expected = prompt_language[text]
        scripted = in_script(reply, allowed)
        share = language_share(reply, expected) if scripted and expected else None
        judged.append(
            {
                "in_script": scripted,
                "in_language": scripted and (share is None or share >= PLAUSIBLE),
                "role_marker": role_marker(reply),
                "as_seeker": as_seeker(reply),
            }
        )
    return judged


# --- per policy -------------------------------------------------------------------------------------------------


def policy_indicators(replies: pd.DataFrame, perplexity: float | None = None) -> dict[str, float | None]:
    """Shares of the per-reply flags, end-of-turn rate and median length in words of one policy's replies
    (columns `completion`, `ended` and REPLY_FLAGS; a missing flag column gives None), and its perplexity."""
    words = [len(t.split()) for t in replies["completion"]]
    row = {f: (float(replies[f].mean()) if f in replies and len(replies) else None) for f in REPLY_FLAGS}
    return row | {
        "end_of_turn_rate": float(replies["ended"].mean()) if len(replies) else None,
        "median_words": float(statistics.median(words)) if words else 0.0,
        "perplexity": perplexity,
    }


# --- held-out perplexity of reference replies -------------------------------------------------------------------


def encode(tokenizer, prompt: list[dict], reply: str, stops: list[int]) -> tuple[list[int], int]:
    """(prompt and completion ids, completion length): the completion is what the chat template puts after the
    generation prompt, up to and including the first stop token (the end of turn; the template's trailing newline
    is not the policy's to predict)."""
    head = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    whole = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": reply}], tokenize=False)
    prefix = tokenizer(head, add_special_tokens=False)["input_ids"]
    if whole.startswith(head):
        completion = tokenizer(whole[len(head) :], add_special_tokens=False)["input_ids"]
    else:  # a template that rewrites earlier turns once a reply follows: the reply and an end of turn
        completion = tokenizer(reply, add_special_tokens=False)["input_ids"] + stops[:1]
    end = next((i for i, t in enumerate(completion) if t in stops), None)
    completion = completion if end is None else completion[: end + 1]
    return prefix + completion, len(completion)


def reference_nll(model, tokenizer, examples: list[dict], batch_size: int) -> dict | None:
    """Mean token negative log likelihood of the examples' completions (reply and end of turn) given their prompts,
    batched (left padding, positions from the attention mask), and its perplexity; None without examples."""
    import torch

    if not examples:
        return None
    stops = stop_token_ids(tokenizer, getattr(model, "generation_config", None))
    encoded = [encode(tokenizer, e["prompt"], e["completion"][0]["content"], stops) for e in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    for i in range(0, len(encoded), batch_size):
        batch = encoded[i : i + batch_size]
        width = max(len(ids) for ids, _ in batch)
        keep = max(n for _, n in batch) + 1  # the logits that predict the longest completion
        ids = torch.tensor([[pad] * (width - len(x)) + x for x, _ in batch], device=device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x, _ in batch], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            try:
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
            except TypeError:  # a model without logits_to_keep
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            logits = logits[:, -keep:-1].float()
            targets = ids[:, width - keep + 1 :]
            for row, (_, n) in enumerate(batch):
                logprobs = torch.log_softmax(logits[row, keep - 1 - n :], dim=-1)
                picked = logprobs.gather(-1, targets[row, keep - 1 - n :, None])
                total -= float(picked.sum())
                count += n
    nll = total / count
    return {"nll": nll, "perplexity": math.exp(min(nll, 50.0)), "tokens": count, "examples": len(examples)}


def reference_perplexity(path, examples: list[dict], batch_size: int) -> dict | None:
    """`reference_nll` of the policy saved at `path` (float32; on the GPU when there is one)."""
    if not examples:
        return None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if torch.cuda.is_available():
        model = model.to("cuda")
    try:
        return reference_nll(model, tokenizer, examples, batch_size)
    finally:
        del model
