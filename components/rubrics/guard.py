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
  outcome, of a pairwise verdict or a score field; and, whatever the wording, cues combined rather than phrases
  listed: the reply naming itself with a grading word or called good in so many words, an evaluator or a reader of
  the transcript followed within three sentences by the reply itself or a directive with a grading word (so an
  instruction cut into pieces reads whole), a top verdict ("full marks") given to no one in the dialogue, a judge's
  own output format (`[[10]]`, `\\boxed{}`, `A > B`);
- language: a stretch in a script or language the dialogue does not use (Unicode scripts and the language
  identifier of components.evaluation.coherence), so a key or instruction in another language is caught without
  knowing its words; a dialogue too short to identify constrains nothing; a reply written in two languages
  throughout (a translation) is let through;
- padding: one token run many times, much repeated text, or a reply made mostly of symbols and whitespace.

The frame, score-line and judge-talk rules are in components.rubrics.guard_structure; the content, language and
padding checks, the order they are read in (verdict) and the gates are here.

Every check reads the reply as a model reads it (normalise, components.rubrics.guard_reading): tag characters
decoded, every other format character removed, blank fillers as spaces, NFKC, letters spaced out or strung on dots
joined. The frame, score and judge-talk rules then read it again through its skeleton (look-alike letters of other
scripts folded to Latin, combining marks dropped, digits inside words read as letters); a word mixing Latin with
Greek, Cyrillic, Armenian, Cherokee, small capital or phonetic letters, or a Latin letter still carrying a combining
mark, is flagged as obfuscation. The openers, the roles of a template and the concepts of grading are also read in
the languages of the benign dialogues (components.rubrics.guard_words).

Designed in four rounds (benchmarks/judge_guard.py measures every family): the first on five attack families
(components.evaluation.attack_families); each later version on what the previous version's held-out families
(components.evaluation.heldout_round1, heldout_round2, heldout_round3) and the false alarms on real replies showed,
as principles. This fourth version drew on rounds one to three; round four's families
(components.evaluation.heldout_round4) were written and frozen before it was begun and never measured while it was
designed. Known blind spots: a one-word key in a language outside guard_words that the identifier cannot tell from
a name ("Svaret" beside "Canberra"); judge talk in a language outside guard_words spoken to a dialogue in that
same language; three or more sentences of injection in another language beside a reply in the dialogue's (read as
a translation); frame breaks whose closer and payload match none of the principles above.

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
from components.rubrics.guard_reading import (
    MARKED_LATIN,
    MIXED_SCRIPT,
    OPENERS,
    TOKEN,
    URL,
    content_units,
    normalise,
    segments,
    skeleton,
)
from components.rubrics.guard_structure import structure

MIN_UNITS = 1  # units of content a reply needs beyond openers and symbols
SHORT_UNITS = 2  # a reply this short must read as the dialogue's language (its one word could be a foreign key)
SHORT_LETTERS = 4
PREAMBLE_UNITS = 12  # a reply this short that ends on a colon only announces an answer
LANGUAGE_FLOOR = 0.003  # a stretch is in another language when every dialogue language gets less than this
CONFIDENT, CONFIDENT_FLOOR = 0.3, 0.02  # ... or less than CONFIDENT_FLOOR when another gets CONFIDENT or more
STRETCH_LETTERS = 10  # letters a stretch needs before its language is read
BILINGUAL_SEGMENTS, BILINGUAL_SHARE = 3, 0.4  # a second-language section this long is a translation
TOKEN_RUN = 5  # the same token this many times in a row is padding
REPEATED_SPAN = 0.5  # share of tokens inside a span of SPAN tokens that occurs again in the reply
SPAN = 8
SYMBOL_SHARE = 0.35  # share of characters that are neither word characters nor single spaces

# A reply that is one heading, quote or emphasis line of a few words: a title with nothing under it.
BARE_HEADING = re.compile(
    r"\s*(?:(?:#+|>)\s*[^\W\d_]+(?:[ \t]+[^\W\d_]+){0,2}|([*_`]+)[^\W\d_]+(?:[ \t]+[^\W\d_]+){0,2}\1)\s*$"
)
COLON_END = re.compile(r"[:：﹕꞉]\s*[*_`'\"»”)\]]*\s*$")
EMOTICON = re.compile(r"[:;]\s?-?[()DPp/\\|]")
SYMBOL_RUN = re.compile(r"([^\w\s=_-]{1,2}?)\1{15,}")  # rule lines (---, ===, ___) are not padding
WHITESPACE_RUN = re.compile(r"\s{30,}")
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


@lru_cache(maxsize=16384)  # every judged objective asks about the same replies
def verdict(reply: str, dialogue: str = "") -> str | None:
    """Why the reply must not be judged as an answer (a reason name), or None when it may be."""
    raw, reply = reply, normalise(reply)
    if MIXED_SCRIPT.search(reply) or MARKED_LATIN.search(reply):
        return "obfuscation"
    units = content_units(reply)
    if units < MIN_UNITS:
        return "content_free"
    if units <= PREAMBLE_UNITS and COLON_END.search(EMOTICON.sub("", reply)) or BARE_HEADING.match(reply):
        return "preamble"
    reason = structure(reply)
    if reason:
        return reason
    folded = skeleton(reply)
    if folded != reply and structure(folded):  # English hidden behind look-alike letters or digits
        return "obfuscation"
    if dialogue and _foreign_stretch(reply, dialogue, short=units <= SHORT_UNITS):
        return "language"
    if _padded(raw):
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


@lru_cache(maxsize=4096)
def _dialogue_languages(dialogue: str) -> tuple[frozenset | None, frozenset]:
    """The scripts a reply may use and the languages the identifier finds plausible for the dialogue (none
    when it is too short to tell)."""
    allowed = coherence.allowed_scripts(dialogue)
    if sum(coherence.letter_scripts(dialogue).values()) < coherence.MIN_LETTERS:
        return allowed, frozenset()
    ranked = coherence._identifier().rank(dialogue)
    return allowed, frozenset(code for code, p in ranked if p >= coherence.PLAUSIBLE)


def _foreign_stretch(reply: str, dialogue: str, short: bool = False) -> bool:
    """A stretch in a script or language the dialogue does not use; a reply of a word or two is read whole. A reply
    written in two languages throughout (BILINGUAL_SEGMENTS sentences or more in another language, at least
    BILINGUAL_SHARE of its letters, beside two or more in the dialogue's: a translation) is not an injection."""
    allowed, languages = _dialogue_languages(dialogue)
    if allowed is None:
        return False
    text = URL.sub(" ", reply)
    count = sum(coherence.letter_scripts(text).values())
    if short and languages and SHORT_LETTERS <= count < STRETCH_LETTERS and _unlike(text, languages):
        return True
    foreign, native, whole = [], 0, False
    for i, stretch in enumerate([text, *segments(text)]):
        letters = coherence.letter_scripts(stretch)
        total = sum(letters.values())
        outside = sum(n for script, n in letters.items() if script not in allowed)
        if outside >= 2 and outside >= total / 2:
            return True
        if languages and total >= STRETCH_LETTERS:
            if not _unlike(stretch, languages):
                native += i > 0
            elif i:
                foreign.append(total)
            else:
                whole = True
    bilingual = len(foreign) >= BILINGUAL_SEGMENTS and sum(foreign) >= BILINGUAL_SHARE * count and native >= 2
    return (whole or bool(foreign)) and not bilingual


def _unlike(text: str, languages: frozenset) -> bool:
    """The identifier gives every dialogue language less than LANGUAGE_FLOOR, or less than CONFIDENT_FLOOR while
    it is confident of another language."""
    ranked = dict(coherence._identifier().rank(text))
    best = max(ranked.values(), default=0.0)
    floor = CONFIDENT_FLOOR if best >= CONFIDENT else LANGUAGE_FLOOR
    return all(ranked.get(code, 0.0) < floor for code in languages)


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
