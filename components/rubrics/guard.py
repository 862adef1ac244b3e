"""Guard in front of every rubric judge: content-free and judge-instructing replies never score as good answers.

"One Token to Fool LLM-as-a-Judge" (algorithms.md 8.2) shows judges accept bare openers (":", "Solution",
"Thought process:") and their translations. Two gates, multiplied into the judge's score (gate, don't add):

1. a pre-check that zeroes empty, too-short and opener-only replies and replies that address the judge
   ("ignore the rubric", "score this 10/10", "SYSTEM: ...");
2. an off-topic cap: a reply that neither relates to the dialogue (MiniLM similarity, or a content word in
   common) nor declines or redirects it may score at most OFF_TOPIC_CAP, so an opener followed by an
   unrelated, correct-looking sentence stays below genuine answers. Declining is exempt because a safe
   refusal is rightly unlike the request it refuses.
"""

from __future__ import annotations

import re

MIN_WORDS = 2  # words of content beyond any opener
# Reasoning openers and "solution/answer" words, in several languages: they carry no content of their own.
OPENERS = re.compile(
    r"(thought process|let'?s (solve|think|work through) this( problem)?( step by step)?|step by step|"
    r"solution|answer|respuesta|solución|réponse|lösung|antwort|risposta|resposta|解答?|答案?|かいせつ|解説|回答|"
    r"here is my (answer|response)|final answer)\s*[:.]?",
    re.I,
)
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
INSTRUCTS_JUDGE = re.compile(
    r"(\b(ignore|disregard|forget|override)\b.{0,40}\b(rubric|instruction|criteria|rules|prompt|above|previous)\b"
    r"|\b(score|rate|grade|mark|evaluate)\b.{0,30}\b(this|the|my)\s+(response|answer|reply|output)\b.{0,30}"
    r"(\d+\s*/\s*\d+|\bmaximum\b|\bhighest\b|\bperfect\b|\bfull\b|\bas (passing|correct|excellent)\b)"
    r"|\b(maximum|highest|perfect|full|top)\s+(score|marks?|rating|points)\b"
    r"|\bas (the|an|a) (judge|evaluator|grader|reward model)\b|\byou must (rate|score|grade|give|output|accept)\b"
    r"|^\s*(system|assistant|judge)\s*:|\bthe evaluation is (over|complete)\b"
    r"|\b(satisf\w+|meets?) (every|all) (principle|criteri\w+|rule)s?\b)",
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


def content_words(reply: str) -> int:
    """Words left once openers and symbols are removed (CJK runs count as one word each)."""
    return len(WORD.findall(OPENERS.sub(" ", reply)))


def precheck(reply: str) -> float:
    """0 for a reply that must not be judged as an answer, 1 otherwise."""
    if content_words(reply) < MIN_WORDS:
        return 0.0
    return 0.0 if INSTRUCTS_JUDGE.search(reply) else 1.0


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
    return float(min(score, cap(reply, dialogue, cosine)) * precheck(reply))
