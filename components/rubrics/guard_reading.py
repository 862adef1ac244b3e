"""How the judge guard (components.rubrics.guard) reads a reply: as a model reads it, so that no check can be
dodged by characters that change how the text looks but not how it is read.

normalise decodes tag characters, removes every other format character, reads blank fillers as spaces, applies NFKC
and joins letters spaced out or strung on dots; skeleton then folds look-alike letters of other scripts to Latin,
drops combining marks and reads digits inside words as letters, so English rules can read obfuscated English.
content_units counts what is left once openers, digits and symbols are gone, and segments cuts a reply into lines
and sentences, the units the guard's rules read.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from components.rubrics import guard_words

# English reasoning openers and "solution/answer" words: they carry no content of their own.
OPENERS = re.compile(
    r"\b(thought process|let'?s (solve|think|work|go|walk|break|tackle|reason)( this| it| through)*( problem| question"
    r"| down)?( step[- ]by[- ]step| carefully| together)?|let me (think|reason|work)( about| through)?( this| it)?"
    r"( carefully| step[- ]by[- ]step)?|step[- ]by[- ]step( solution| answer| reasoning)?|step \d+|final answer|"
    r"(here is|here'?s) (my|the) (answer|response|solution|reasoning|explanation)|solution|answer|reasoning|"
    r"explanation|analysis|response|sure|certainly|okay)\b\s*[:.!,]?",
    re.I,
)
# Invisible format characters (zero-width, joiners, soft hyphen, bidirectional marks, variation selectors, BOM): they
# change no reading, so they are removed before any check; a run of single letters between spaces is a spaced word.
INVISIBLE = re.compile(
    r"[\u00ad\u034f\u061c\u115f\u1160\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]"
)
SPACED = re.compile(r"(?<!\S)\S(?: {1,6}\S){3,}(?!\S)")
STRUNG = re.compile(r"(?<![^\W_])[^\W\d_](?:([.·•_*~+-])[^\W\d_]){3,}(?![^\W_])")  # s.c.o.r.e, A•s•s•i•s•t
TAG_CHARACTER = re.compile(r"[\U000E0020-\U000E007E]+")
BLANK = re.compile(r"[\u115f\u1160\u2800\u3164\uffa0]")  # letters that print as nothing: read as a space
LEET = str.maketrans("431057", "aeiost")
LEET_WORD = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*[431057])[A-Za-z431057]{3,}\b")
# A word mixing Latin letters with Greek (micro and ohm signs aside), Cyrillic, Armenian or Cherokee ones, or with
# small capitals and phonetic letters: homoglyphs. A Latin letter still carrying a combining mark after NFKC
# (strike-through, stacked accents) is no letter of any language either.
LOOKALIKE = (
    r"\u0250-\u02af\u0370-\u03a8\u03aa-\u03bb\u03bd-\u03c8\u03ca-\u03ff\u0400-\u04ff\u0530-\u058f\u13a0-\u13ff"
    r"\u1d00-\u1d2b\ua730-\ua7ff\uab30-\uab6f"
)
MIXED_SCRIPT = re.compile(rf"[A-Za-z][{LOOKALIKE}]|[{LOOKALIKE}][A-Za-z]")
MARKED_LATIN = re.compile(r"[A-Za-z][\u0300-\u036f\u20d0-\u20ff]")
CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
TOKEN = re.compile(rf"[{CJK}]|[^\W\d_{CJK}]+|\d+")
SEGMENT = re.compile(r"\n+|(?<=[.!?])\s+|(?<=[。！？])")
URL = re.compile(r"\S*(?:https?://|www\.)\S*")


@lru_cache(maxsize=16384)
def normalise(reply: str) -> str:
    """The reply as a model reads it: tag characters (invisible, yet read by models) spelled as the ASCII they
    encode, every other format character (zero-width, joiners, bidirectional marks, soft hyphens) removed, blank
    fillers as spaces, NFKC (full-width, circled and mathematical letters to plain ones), then letters spaced out
    or strung on dots joined into words."""
    text = TAG_CHARACTER.sub(lambda m: " " + "".join(chr(ord(c) - 0xE0000) for c in m.group()) + " ", reply)
    text = SPACED.sub(_join_spaced, BLANK.sub(" ", text))  # before format characters go: they hold letter places
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = SPACED.sub(_join_spaced, unicodedata.normalize("NFKC", INVISIBLE.sub("", text)))
    return STRUNG.sub(lambda m: m.group().replace(m.group(1), ""), text)


def _join_spaced(match: re.Match) -> str:
    """Letters one gap apart form a word; a wider gap separates words."""
    run = match.group()
    gap = min(len(g) for g in re.findall(r" +", run))
    return re.sub(r" +", lambda g: "" if len(g.group()) == gap else " ", run)


@lru_cache(maxsize=16384)
def skeleton(text: str) -> str:
    """The normalised text with look-alike letters of other scripts (guard_words.CONFUSABLES) read as the Latin
    letters they imitate, combining marks dropped and digits inside words read as letters ("r4te"): what an
    English reader sees, so English rules can read obfuscated English."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) not in ("Mn", "Me"))
    text = text.translate(guard_words.CONFUSABLE_TABLE)
    return LEET_WORD.sub(lambda m: m.group().translate(LEET), text)


def content_units(reply: str) -> float:
    """Words left once openers (English and guard_words'), digits and symbols are removed; a CJK character counts
    half a word."""
    tokens = TOKEN.findall(guard_words.OPENERS.sub(" ", OPENERS.sub(" ", reply)))
    return sum(0.5 if re.match(rf"[{CJK}]", t) else 1.0 for t in tokens if not t.isdigit())


def segments(reply: str) -> list[str]:
    return [s.strip() for s in SEGMENT.split(reply) if s and s.strip()]
