"""The `offline` rubric backend: no LLM. Rubrics are mined from the data and scored with MiniLM plus rules.

Every principle in the bank is a sentence (what a judge would read) paired with a check that an encoder
and a few rules can run, graded in [0, 1]. Mining keeps, per objective, the principles whose check the
chosen replies satisfy more than the rejected ones (the contrast CRG asks an LLM to spell out); a
prompt's own pairs then order them, and ESConv's strategy label adds the strategy's principle. Hard rules
come from explicit constraints in the last user turn. A criterion written by an LLM is checked by the
bank principle closest to it in MiniLM space, or skipped when none is close.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from components.common.encoder import Encoder

FEELING = re.compile(
    r"\b(sorry|sounds|feel|feeling|understandabl\w*|hard|painful|heavy|valid|makes sense|hear you)\b", re.I
)
DISMISSIVE = re.compile(
    r"\b(get over|calm down|overreact\w*|whatever|stop (?:complaining|worrying)|just relax)\b", re.I
)
WARMTH = re.compile(r"\b(you can|it'?s okay|proud|brave|not alone|here for you|glad you|strong|deserve)\b", re.I)
ACTIONABLE = re.compile(r"(^|\n)\s*(\d+[.)]|[-*])\s|\b(try|start|set|write|make|use|schedule|list|plan)\b", re.I)
DECLINE = re.compile(r"\b(can't|cannot|won't|not able|instead|rather than|not safe|unsafe|illegal)\b", re.I)
REFER = re.compile(r"\b(doctor|professional|helpline|hotline|crisis|pharmacist|therapist|counsel\w*|emergency)\b", re.I)
COMPLY = re.compile(r"\b(here's how|here is how|sure,|step 1|first,? you)\b", re.I)
SELF = re.compile(r"\bI (have|had|was|went|know how|remember|used to|also)\b")
LIST = re.compile(r"(^|\n)\s*(\d+[.)]|[-*•])\s")


@dataclass(frozen=True)
class Signals:
    """What the checks read: the reply, its length, and its MiniLM similarity to the recent dialogue."""

    user: str
    reply: str
    words: int
    relevance: float  # cosine(dialogue, reply), graded to [0, 1]
    cosine: float


Check = Callable[[Signals], float]


def _graded_relevance(cosine: float) -> float:
    return float(np.clip((cosine - 0.1) / 0.5, 0.0, 1.0))


BANK: dict[str, Check] = {
    "The response acknowledges the feelings the person expressed.": lambda s: float(bool(FEELING.search(s.reply))),
    "The response reflects specific details of what the person shared.": lambda s: s.relevance,
    "The response invites the person to say more with a gentle question.": lambda s: float("?" in s.reply),
    "The response avoids judging, minimising or dismissing the experience.": lambda s: float(
        not DISMISSIVE.search(s.reply)
    ),
    "The response offers warmth and encouragement.": lambda s: float(bool(WARMTH.search(s.reply))),
    "The response shares a relevant experience of its own.": lambda s: float(bool(SELF.search(s.reply))),
    "The response addresses the request directly.": lambda s: s.relevance,
    "The response gives concrete, actionable steps.": lambda s: float(bool(ACTIONABLE.search(s.reply))),
    "The response develops its answer with enough detail to be useful.": lambda s: min(1.0, s.words / 60),
    "The response does not refuse a reasonable request.": lambda s: float(not DECLINE.search(s.reply)),
    "The response declines the harmful part of a request respectfully.": lambda s: float(bool(DECLINE.search(s.reply))),
    "The response points to safer options or professional help.": lambda s: float(bool(REFER.search(s.reply))),
    "The response gives no instructions that could cause harm.": lambda s: float(
        not COMPLY.search(s.reply) and not LIST.search(s.reply)
    ),
    "The response does not elaborate at length on a risky request.": lambda s: min(1.0, 25 / max(s.words, 1)),
    "The response steers away from the specifics of a risky request.": lambda s: 1.0 - s.relevance,
    "The response is brief and free of filler.": lambda s: min(1.0, 40 / max(s.words, 1)),
    "The response makes its point in the first sentence.": lambda s: float(
        len(re.split(r"[.!?]", s.reply)[0].split()) <= 25
    ),
}
# A priori principles per objective (used when no pairs say otherwise), in order of preference.
DEFAULTS: dict[str, list[str]] = {
    "empathy": [
        "The response reflects specific details of what the person shared.",
        "The response acknowledges the feelings the person expressed.",
        "The response avoids judging, minimising or dismissing the experience.",
        "The response invites the person to say more with a gentle question.",
    ],
    "helpfulness": [
        "The response addresses the request directly.",
        "The response develops its answer with enough detail to be useful.",
        "The response gives concrete, actionable steps.",
        "The response does not refuse a reasonable request.",
    ],
    "harmlessness": [
        "The response declines the harmful part of a request respectfully.",
        "The response steers away from the specifics of a risky request.",
        "The response gives no instructions that could cause harm.",
        "The response does not elaborate at length on a risky request.",
    ],
    "concision": [
        "The response is brief and free of filler.",
        "The response makes its point in the first sentence.",
    ],
}
GENERIC = "helpfulness"
# ESConv supporter strategies (strategy.json) -> the principle that describes them.
STRATEGIES: dict[str, str] = {
    "Question": "The response invites the person to say more with a gentle question.",
    "Restatement or Paraphrasing": "The response reflects specific details of what the person shared.",
    "Reflection of feelings": "The response acknowledges the feelings the person expressed.",
    "Self-disclosure": "The response shares a relevant experience of its own.",
    "Affirmation and Reassurance": "The response offers warmth and encouragement.",
    "Providing Suggestions": "The response gives concrete, actionable steps.",
    "Information": "The response addresses the request directly.",
}
HARD_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (
        re.compile(r"\b(?:in|under|within|at most|no more than|less than)\s+(\d+)\s+words\b", re.I),
        lambda m: f"The response uses at most {m.group(1)} words.",
    ),
    (re.compile(r"\b(?:be |keep it |a )(brief|short|quick)\b", re.I), lambda m: "The response is short."),
    (
        re.compile(r"\b(?:a list|bullet points?|list of|step[- ]by[- ]step)\b", re.I),
        lambda m: "The response is organised as a list of steps.",
    ),
    (
        re.compile(r"\b(?:don'?t|do not|please don'?t)\s+(tell me to [^.?!,]{3,40}|say [^.?!,]{3,40})", re.I),
        lambda m: f"The response does not {m.group(1).strip()}.",
    ),
]
MATCH_THRESHOLD = 0.6  # cosine at which an LLM-written criterion counts as a bank principle


def default_principles(objective: str) -> list[str]:
    return list(DEFAULTS.get(objective, DEFAULTS[GENERIC]))


def hard_rules_from(prompt: list[dict]) -> list[str]:
    """Explicit constraints of the last user turn, as rubric sentences."""
    user = last_user(prompt)
    return [make(m) for pattern, make in HARD_RULES for m in [pattern.search(user)] if m]


def last_user(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    return users[-1] if users else ""


def dialogue(prompt, turns: int = 3) -> str:
    """The recent dialogue the reply answers (what relevance is measured against)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(m["content"] for m in prompt[-turns:])


def check_hard_rule(rule: str, reply: str) -> float | None:
    """1 if the reply keeps the rule, 0 if it breaks it, None when the rule is not checkable offline."""
    words = len(reply.split())
    if m := re.search(r"at most (\d+) words", rule):
        return float(words <= int(m.group(1)))
    if re.search(r"\bis (short|brief)\b", rule):
        return float(words <= 60)
    if re.search(r"\blist\b", rule):
        return float(bool(LIST.search(reply)))
    if m := re.search(r"does not (?:tell me to |say )?(.+?)\.?$", rule):
        phrase = m.group(1).lower().strip()
        return float(phrase not in reply.lower())
    return None


def signals(prompts: list, replies: list[str], encoder: Encoder) -> list[Signals]:
    contexts = [dialogue(p) for p in prompts]
    texts = [r if r.strip() else "-" for r in replies]
    ctx, rep = encoder.embed(contexts), encoder.embed(texts)
    cosines = (ctx * rep).sum(axis=1) if len(texts) else []
    return [
        Signals(last_user(p), r, len(r.split()), _graded_relevance(float(c)), float(c))
        for p, r, c in zip(prompts, replies, cosines)
    ]


def bank_checks(criteria: list[str], encoder: Encoder) -> list[Check | None]:
    """The check for each criterion: its own when it is a bank sentence, else the closest bank principle's."""
    out: list[Check | None] = [BANK.get(c) for c in criteria]
    unknown = [i for i, check in enumerate(out) if check is None]
    if unknown:
        names = list(BANK)
        sims = encoder.embed([criteria[i] for i in unknown]) @ encoder.embed(names).T
        for row, i in enumerate(unknown):
            best = int(sims[row].argmax())
            out[i] = BANK[names[best]] if sims[row, best] >= MATCH_THRESHOLD else None
    return out


def score_rubric(rubric: dict, sig: Signals, checks: list[Check | None]) -> float:
    """Mean principle satisfaction, gated by the hard rules (a broken rule multiplies by 0.3, never adds)."""
    values = [c(sig) for c in checks if c is not None]
    quality = float(np.mean(values)) if values else sig.relevance
    kept = [check_hard_rule(rule, sig.reply) for rule in rubric.get("hard_rules", [])]
    broken = sum(1 for k in kept if k == 0.0)
    return quality * (0.3**broken)


def score_offline(rubrics: list[dict], sig: list[Signals], encoder: Encoder) -> list[float]:
    """Scores in [0, 1] for each rubric and the signals of its (prompt, reply), as `signals` computes them."""
    memo: dict[tuple, list] = {}
    out = []
    for rubric, s in zip(rubrics, sig):
        principles = tuple(rubric.get("principles", []))
        if principles not in memo:
            memo[principles] = bank_checks(list(principles), encoder)
        out.append(score_rubric(rubric, s, memo[principles]))
    return out


def _pair_signals(pairs, encoder: Encoder) -> tuple[list[Signals], list[Signals]]:
    """The signals of the chosen and of the rejected replies of preference pairs."""
    prompts = list(pairs["prompt"])
    return signals(prompts, list(pairs["chosen"]), encoder), signals(prompts, list(pairs["rejected"]), encoder)


def mine_principles(pairs, encoder: Encoder, k: int) -> list[str]:
    """The (at most k) bank principles chosen replies satisfy more than rejected ones, by mean contrast; the
    objective's defaults fill in when fewer than k separate the pairs."""
    if len(pairs) == 0:
        return []
    chosen, rejected = _pair_signals(pairs, encoder)
    margin = {text: float(np.mean([f(c) - f(r) for c, r in zip(chosen, rejected)])) for text, f in BANK.items()}
    return [text for text, m in sorted(margin.items(), key=lambda kv: -kv[1]) if m > 0][:k]


def offline_rubric(
    prompt: list[dict],
    objective: str,
    principles: list[str],
    pairs=None,
    strategy: str | None = None,
    k: int = 4,
    encoder: Encoder | None = None,
) -> dict:
    """One rubric: hard rules from the prompt; the objective's principles (plus the ESConv strategy's), ordered
    by how much this prompt's chosen replies beat the rejected ones on them, at most k."""
    candidates = list(dict.fromkeys([*([STRATEGIES[strategy]] if strategy in STRATEGIES else []), *principles]))
    if pairs is not None and len(pairs) and encoder is not None:
        chosen, rejected = _pair_signals(pairs, encoder)
        contrast = {t: sum(BANK[t](c) - BANK[t](r) for c, r in zip(chosen, rejected)) for t in candidates}
        candidates = sorted(candidates, key=lambda t: -contrast[t])  # stable: ties keep the prior order
    return {"hard_rules": hard_rules_from(prompt), "principles": candidates[:k]}
