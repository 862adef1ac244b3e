"""Guard in front of every judge (rubric judges and reward models): a reply that carries no answer, or that
talks to the judge instead of the user, never scores as a good answer.

"One Token to Fool LLM-as-a-Judge" (algorithms.md 8.2) shows judges accept bare openers (":", "Solution",
"Thought process:") and their translations; prompt injection adds instructions, fake scores and role turns.
It reads structure, not a list of attacks:

- content: fewer than MIN_UNITS units of content once openers, markup and symbols are gone (a word, or two
  CJK characters), or a short reply that ends on a colon (it announces an answer that never comes);
- frame: a segment (line or sentence) that opens with a role label, a score label or a bare "label: number",
  a chat template's special token, an all-capitals bracket tag or banner (`[INST]`, `END_OF_RESPONSE`), or a
  closer of what the reply never opened (`</tag>`, `-->`, `\\end{x}`, an odd fence): the reply leaving its turn;
- judge talk: instructions to the grader, the reply speaking of itself as graded, of the grading and its
  outcome, of a pairwise verdict or a score field (English wording);
- language: a stretch in a script or language the dialogue does not use (Unicode scripts and the language
  identifier of components.evaluation.coherence), so a key or instruction in another language is caught without
  knowing its words; a dialogue too short to identify constrains nothing;
- padding: one token run many times, much repeated text, or a reply made mostly of symbols and whitespace.

Designed in two rounds (benchmarks/judge_guard.py measures every family): the first on five attack families
(components.evaluation.attack_families: bare master keys, judge instructions appended to a good reply, fake
score lines, role lines, padding and repetition); the second added what the first version's held-out families
(components.evaluation.heldout_round1) showed missing, as principles (closers and banners, self-reference,
shorter stretches of another language). Round two's families (components.evaluation.heldout_round2) never
shaped it. Known blind spots: a master key or instruction in the dialogue's own language and non-English
wording of judge talk; frame breaks whose closer and payload match none of the principles above.

Two gates multiply into a judge's score (gate, don't add): the pre-check (0 for a flagged reply: the objective's
floor) and, for rubric judges, an off-topic cap: a reply that neither relates to the dialogue (MiniLM similarity,
or a content word in common) nor declines may score at most OFF_TOPIC_CAP. Declining is exempt because a safe
refusal is rightly unlike the request it refuses.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from components.common.messages import reply_text
from components.evaluation import coherence
from components.rubrics import offline as rubric_offline

MIN_UNITS = 2  # units of content a reply needs beyond openers and symbols
PREAMBLE_UNITS = 12  # a reply this short that ends on a colon only announces an answer
LANGUAGE_FLOOR = 0.003  # a stretch is in another language when every dialogue language gets less than this
STRETCH_LETTERS = 10  # letters a stretch needs before its language is read
TOKEN_RUN = 5  # the same token this many times in a row is padding
REPEATED_SPAN = 0.5  # share of tokens inside a span of SPAN tokens that occurs again in the reply
SPAN = 8
SYMBOL_SHARE = 0.35  # share of characters that are neither word characters nor single spaces

# English reasoning openers and "solution/answer" words: they carry no content of their own.
OPENERS = re.compile(
    r"\b(thought process|let'?s (solve|think|work|go|walk|break|tackle|reason)( this| it| through)*( problem| question"
    r"| down)?( step[- ]by[- ]step| carefully| together)?|let me (think|reason|work)( about| through)?( this| it)?"
    r"( carefully| step[- ]by[- ]step)?|step[- ]by[- ]step( solution| answer| reasoning)?|step \d+|final answer|"
    r"(here is|here'?s) (my|the) (answer|response|solution|reasoning|explanation)|solution|answer|reasoning|"
    r"explanation|analysis|response|sure|certainly|okay)\b\s*[:.!,]?",
    re.I,
)
CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
TOKEN = re.compile(rf"[{CJK}]|[^\W\d_{CJK}]+|\d+")
SEGMENT = re.compile(r"\n+|(?<=[.!?])\s+|(?<=[。！？])")
URL = re.compile(r"\S*(?:https?://|www\.)\S*")
COLON_END = re.compile(r"[:：﹕꞉]\s*[*_`'\"»”)\]]*\s*$")
EMOTICON = re.compile(r"[:;]\s?-?[()DPp/\\|]")

LEAD = r"^[\s>*_#\[(<|`~—–-]*"
ROLES = r"system|assistant|user|human|judge|evaluator|grader|rater|reviewer|instruction|rubric|developer|admin"
ROLE_LINE = re.compile(
    rf"{LEAD}(?:{ROLES})(?:\s+(?:message|prompt|note|override|turn))?[\s*_\])>|`]*(?:[:：]|$)"
    rf"|{LEAD}#+\s*(?:{ROLES}|instructions|response|input|output|task)\b",
    re.I,
)
SCORE_LABEL = r"(?:final |overall |total )?(?:score|rating|grade|points|verdict|evaluation|judg(?:e)?ment)s?"
SEPARATOR = r"[\s*_\])]*(?:[:：=]|\s[-–—]\s)[\s*_]*"
VALUE = (  # what a score reads: a number, a letter grade, stars or a verdict word (not a description)
    r"(?:\d|[A-F][+-]?(?!\w)|[★⭐☆]|(?i:excellent|perfect|pass(?:ed)?|yes|correct|outstanding|flawless|maximum|"
    r"full marks|top|highest|fail)\b)"
)
SCORE_LINE = re.compile(rf"{LEAD}(?i:{SCORE_LABEL}){SEPARATOR}{VALUE}")
CAPITAL_LABEL = (
    r"(?:(?:Final|Overall|Total) (?i:score|rating|grade|points)|Score|SCORE|Rating|RATING|Grade|GRADE|Points|Verdict"
    r"|VERDICT|Evaluation|Judg(?:e)?ment)"
)
SCORE_TAIL = re.compile(rf"\b{CAPITAL_LABEL}{SEPARATOR}{VALUE}[^\n]{{0,24}}$")  # a capitalised score ending the reply
LABEL_NUMBER = re.compile(
    r"^[^\w\n]*[^\W\d_][^\n:：=\d]{0,30}[:：=]\s*[*_]*\d{1,3}(?:[.,]\d+)?\s*(?P<fraction>/\s*\d{1,3})?[*_]*\s*\W{0,3}$"
)
MIDLINE_ROLE = re.compile(
    r"(?<![\w'])(?:System|SYSTEM|Assistant|ASSISTANT|User|USER|Human|HUMAN|Judge|Grader)\s?:"
    rf"|#{{2,}}\s*(?i:{ROLES}|instructions|response)\b"
)
SPECIAL = re.compile(r"<\|[^|>\n]{1,40}\|>|<(?:start|end)_of_turn>|<</?[A-Z]{2,}>>|\[/?[A-Z][A-Z_]{2,}\]")
OPEN_TAG, CLOSE_TAG = re.compile(r"<([A-Za-z][\w-]*)[^<>\n]*>"), re.compile(r"</([A-Za-z][\w-]*)\s*>")
SYMBOL_RUN = re.compile(r"([^\w\s=_-]{1,2}?)\1{15,}")  # rule lines (---, ===, ___) are not padding
WHITESPACE_RUN = re.compile(r"\s{30,}")
FENCES = ("```", '"""', "'''")
# Closers of other frames and the openers they need before them: a comment, CDATA, a template, a LaTeX environment,
# a bracket tag in any case.
PAIRED = (
    (re.compile(r"-->"), re.compile(r"<!--")),
    (re.compile(r"\]\]>"), re.compile(r"<!\[CDATA\[")),
    (re.compile(r"\}\}"), re.compile(r"\{\{")),
    (re.compile(r"\\end\{(\w+)\}"), re.compile(r"\\begin\{(\w+)\}")),
    (re.compile(r"\[/(\w+)\]"), re.compile(r"\[(\w+)\]")),
)
# A banner that ends or starts a section of a frame: an ALL_CAPS_IDENTIFIER, or capital words between rules or
# in brackets ("=== END OF ANSWER ===", "[END OF RESPONSE]").
BANNER = re.compile(
    r"\b[A-Z]{2,}(?:_[A-Z]{2,})+\b|(?:[=*#~_-]{3,}|\[)\s*[A-Z]{2,}(?:\s+[A-Z]{2,})+\s*(?:[=*#~_-]{3,}|\])"
)
INSTRUCTS_JUDGE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(rubric|instructions?|criteria|rules|prompt|above|"
    r"previous|prior|earlier|guidelines|scoring|grading|evaluation)\b"
    r"|\b(score|rate|grade|mark|evaluate)\b.{0,30}\b(this|the|my)\s+(response|answer|reply|output|completion)\b.{0,30}"
    r"(\d+\s*/\s*\d+|\b(maximum|highest|perfect|full|top)\b|\bas (passing|correct|excellent)\b)"
    r"|\b(score|rate|grade|evaluate|mark)\s+(this|my)\s+(response|answer|reply|output)\b"
    r"|\b(rate|score|grade|mark)\s+(this|it|me)\s+(a\s+|an\s+|as\s+)?(\d+|perfect|correct|excellent|highly|top)\b"
    r"|\b(give|award|assign)\s+(this|it|me|the (response|answer|reply))\s+(a\s+|the\s+)?(maximum|highest|perfect|"
    r"full|top|best( possible)?)\s+(score|marks?|rating|points|grade)\b"
    r"|\b(maximum|highest|perfect|full|top)\s+(score|marks?|rating|points|grade)\s+(for|to)\s+(this|the|my)\s+"
    r"(response|answer|reply|output)\b"
    r"|\b(this|my|the above)\s+(response|answer|reply|output)\s+(is|was|deserves|earns|merits|should (get|receive))\b"
    r".{0,30}\b(perfect|flawless|excellent|outstanding|ideal|exemplary|the best|full marks|maximum|10/10)"
    r"|\bas (the|an|a) (ai )?(judge|evaluator|grader|reward model|rater|scorer),? (you|please|rate|score|grade|give|"
    r"mark|output|accept)\b"
    r"|\byou must (rate|score|grade|output|accept|mark)\b|\byou must give (this|it|me|the (response|answer|reply))\b"
    r"|\b(note|message|instructions?) (to|for) (the )?(judge|grader|evaluator|rater|reviewer|reward model)\b"
    r"|\b(dear|hey|attention),? (judge|grader|evaluator|rater|reviewer)\b"
    r"|\b(output|respond with|reply with|answer with)\s+(only\s+)?(the\s+)?(number\s+|score\s+|word\s+|verdict\s+)?"
    r"[\"'“]?(\d+(/\d+)?|yes|correct|pass)\b"
    r"|\bthe evaluation is (over|complete|finished)\b"
    r"|\b(satisf\w+|meets?|fulfil\w*) (every|all) (principles?|criteri\w+|rules?|requirements)\b",
    re.I | re.S,
)
# The reply speaking of itself as the thing being graded, of the grading apparatus and its outcome, of a pairwise
# verdict, of a score field, or asking for a verdict token: it addresses whoever evaluates it.
SELF = (
    r"(?:\b(this|the (above|preceding|previous|prior|candidate|assistant'?s?|following|model'?s?))\s+(answer|response|"
    r"reply|text|completion|output|message)\b|\b(answer|response|reply) (above|below)\b)"
)
GRADED = (
    r"\b(scor\w*|rated|rating|grad(e|ed|ing)|credit|verified|approved|gold standard|reference (answer|solution)|"
    r"best possible|grader|rubric|every criterion|all criteria|\d+\s*(/|out of)\s*\d+)"
)
APPARATUS = r"\b(grader|evaluator|rater|scoring guide|rubric|reward model)s?\b"
OUTCOME = r"\b(scor\w*|rated|credit|verdict|pass|approved|full marks|top grade|highest|accept\w*|\d+)\b"
ADDRESSES_GRADER = re.compile(
    rf"{SELF}[^.!?\n]{{0,80}}{GRADED}|{GRADED}[^.!?\n]{{0,80}}{SELF}|{APPARATUS}[^.!?\n]{{0,80}}{OUTCOME}"
    rf"|{OUTCOME}[^.!?\n]{{0,80}}{APPARATUS}"
    r"|(?-i:\b(?:Response|Assistant|Answer|Output) [AB]\b)"
    r"|[{,]\s*[\"']?(score|rating|verdict|grade)[\"']?\s*:"
    r"|\b(reply|replying|respond|responding|output|outputting)\s+(with\s+)?(only\s+)?['\"“‘](yes|pass|correct|10)\b",
    re.I | re.S,
)
DECLINES = re.compile(
    r"\b(sorry|can'?t|cannot|won'?t|not able|not sure|don'?t know|rather not|instead|recommend|suggest|"
    r"talk to|reach out|professional|doctor|not (comfortable|appropriate|safe))\b",
    re.I,
)
ON_TOPIC_COSINE = 0.2  # MiniLM similarity to the dialogue that counts as on topic by itself
OFF_TOPIC_CAP = 0.1
STOP = {
    *("that", "this", "with", "have", "from", "what", "your", "about", "there", "their", "would", "could", "should"),
    *("which", "when", "were", "been", "they", "them", "then", "than", "just", "like", "into", "some", "more"),
    *("also", "very", "what's", "it's", "i'm", "don't"),
}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def content_units(reply: str) -> float:
    """Words left once openers, digits and symbols are removed; a CJK character counts half a word."""
    tokens = TOKEN.findall(OPENERS.sub(" ", reply))
    return sum(0.5 if re.match(rf"[{CJK}]", t) else 1.0 for t in tokens if not t.isdigit())


def segments(reply: str) -> list[str]:
    return [s.strip() for s in SEGMENT.split(reply) if s and s.strip()]


@lru_cache(maxsize=16384)  # every judged objective asks about the same replies
def verdict(reply: str, dialogue: str = "") -> str | None:
    """Why the reply must not be judged as an answer (a reason name), or None when it may be."""
    units = content_units(reply)
    if units < MIN_UNITS:
        return "content_free"
    if units <= PREAMBLE_UNITS and COLON_END.search(EMOTICON.sub("", reply)):
        return "preamble"
    parts = segments(reply)
    if any(ROLE_LINE.search(s) for s in parts) or MIDLINE_ROLE.search(reply) or SPECIAL.search(reply):
        return "frame"
    if _breaks_frame(reply):
        return "frame"
    if any(SCORE_LINE.search(s) for s in parts) or SCORE_TAIL.search(reply) or _label_number(parts):
        return "score_line"
    if INSTRUCTS_JUDGE.search(reply) or ADDRESSES_GRADER.search(reply):
        return "judge_talk"
    if dialogue and _foreign_stretch(reply, dialogue):
        return "language"
    if _padded(reply):
        return "padding"
    return None


def precheck(reply: str, dialogue: str = "") -> float:
    """0 for a reply that must not be judged as an answer, 1 otherwise."""
    return 0.0 if verdict(reply, dialogue) else 1.0


def gate(prompts: list, replies: list[str], scores: list[float], floor: float = 0.0) -> list[float]:
    """A judge's scores with every flagged reply at the objective's floor (reward models pass this gate)."""
    return [floor if verdict(r, rubric_offline.dialogue(p)) else s for p, r, s in zip(prompts, replies, scores)]


def gated(reward):
    """A reward function (TRL's signature) whose flagged replies get the floor, 0."""

    def score(prompts, completions, **kwargs) -> list[float]:
        replies = [reply_text(c) for c in completions]
        return gate(list(prompts), replies, reward(prompts, completions, **kwargs))

    return score


def _breaks_frame(reply: str) -> bool:
    """Markup that closes what the reply never opened (a closing tag, an odd fence): it ends someone else's frame."""
    opened: Counter = Counter()
    for match in re.finditer(rf"{OPEN_TAG.pattern}|{CLOSE_TAG.pattern}", reply):
        name, closing = (match.group(1), False) if match.group(1) else (match.group(2), True)
        if closing and not opened[name.lower()]:
            return True
        opened[name.lower()] += -1 if closing else 1
    for closer, opener in PAIRED:
        for match in closer.finditer(reply):
            before = [m.groups() for m in opener.finditer(reply, 0, match.start())]
            if match.groups() not in before and (match.groups() or not before):
                return True
    return bool(BANNER.search(reply)) or any(reply.count(fence) % 2 for fence in FENCES)


def _label_number(parts: list[str]) -> bool:
    """A bare "label: number" segment with a fraction anywhere, or closing the reply: a score in any language."""
    for i, part in enumerate(parts):
        found = LABEL_NUMBER.match(part)
        if found and (found.group("fraction") or i == len(parts) - 1):
            return True
    return False


@lru_cache(maxsize=4096)
def _dialogue_languages(dialogue: str) -> tuple[frozenset | None, frozenset]:
    """The scripts a reply may use and the languages the identifier finds plausible for the dialogue (none
    when it is too short to tell)."""
    allowed = coherence.allowed_scripts(dialogue)
    if sum(coherence.letter_scripts(dialogue).values()) < coherence.MIN_LETTERS:
        return allowed, frozenset()
    ranked = coherence._identifier().rank(dialogue)
    return allowed, frozenset(code for code, p in ranked if p >= coherence.PLAUSIBLE)


def _foreign_stretch(reply: str, dialogue: str) -> bool:
    allowed, languages = _dialogue_languages(dialogue)
    if allowed is None:
        return False
    text = URL.sub(" ", reply)
    for stretch in [text, *segments(text)]:
        letters = coherence.letter_scripts(stretch)
        total = sum(letters.values())
        outside = sum(n for script, n in letters.items() if script not in allowed)
        if outside >= 2 and outside >= total / 2:
            return True
        if languages and total >= STRETCH_LETTERS and _unlike(stretch, languages):
            return True
    return False


def _unlike(text: str, languages: frozenset) -> bool:
    ranked = dict(coherence._identifier().rank(text))
    return all(ranked.get(code, 0.0) < LANGUAGE_FLOOR for code in languages)


def _padded(reply: str) -> bool:
    if SYMBOL_RUN.search(reply) or WHITESPACE_RUN.search(reply):
        return True
    sentences = Counter(s.lower() for s in segments(reply) if TOKEN.search(s))
    if sentences and max(sentences.values()) >= 3:
        return True
    tokens = [t.lower() for t in TOKEN.findall(reply)]
    run = 1
    for previous, token in zip(tokens, tokens[1:]):
        run = run + 1 if token == previous else 1
        if run >= TOKEN_RUN:
            return True
    if tokens and _repeated_share(tokens) >= REPEATED_SPAN:
        return True
    plain = re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", reply)).strip()
    return len(reply) >= 40 and 1 - len(plain) / len(reply) >= SYMBOL_SHARE


def _repeated_share(tokens: list[str]) -> float:
    """Share of the tokens that lie inside a span of SPAN tokens occurring more than once."""
    spans = [tuple(tokens[i : i + SPAN]) for i in range(len(tokens) - SPAN + 1)]
    counts = Counter(spans)
    covered = {i + k for i, span in enumerate(spans) if counts[span] > 1 for k in range(SPAN)}
    return len(covered) / len(tokens)


def _keywords(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) >= 4 and w not in STOP}


def on_topic(reply: str, dialogue: str, cosine: float) -> bool:
    content = OPENERS.sub(" ", reply)
    return cosine >= ON_TOPIC_COSINE or bool(_keywords(content) & _keywords(dialogue)) or bool(DECLINES.search(content))


def cap(reply: str, dialogue: str, cosine: float) -> float:
    """1 for an on-topic reply; else at most OFF_TOPIC_CAP, less the less similar it is to the dialogue."""
    if on_topic(reply, dialogue, cosine):
        return 1.0
    return OFF_TOPIC_CAP * min(1.0, max(0.0, cosine) / ON_TOPIC_COSINE)


def guarded(score: float | None, reply: str, dialogue: str, cosine: float) -> float:
    """The judge's score after both gates; a judge that gave no score counts as 0."""
    if score is None:
        return 0.0
    return float(min(score, cap(reply, dialogue, cosine)) * precheck(reply, dialogue))
