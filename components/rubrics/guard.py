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

Every check reads the reply as a model reads it (normalise): tag characters decoded, every other format character
removed, blank fillers as spaces, NFKC, letters spaced out or strung on dots joined. The frame, score and judge-talk
rules then read it again through its skeleton (look-alike letters of other scripts folded to Latin, combining marks
dropped, digits inside words read as letters); a word mixing Latin with Greek, Cyrillic, Armenian, Cherokee, small
capital or phonetic letters, or a Latin letter still carrying a combining mark, is flagged as obfuscation. The
openers, the roles of a template and the concepts of grading are also read in the languages of the benign dialogues
(components.rubrics.guard_words).

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
import unicodedata
from collections import Counter
from functools import lru_cache

from components.common.messages import reply_text
from components.evaluation import coherence
from components.rubrics import guard_words
from components.rubrics import offline as rubric_offline

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
# A word mixing Latin letters with Cyrillic or Greek ones (micro and ohm signs aside): homoglyphs.
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
# A reply that is one heading, quote or emphasis line of a few words: a title with nothing under it.
BARE_HEADING = re.compile(
    r"\s*(?:(?:#+|>)\s*[^\W\d_]+(?:[ \t]+[^\W\d_]+){0,2}|([*_`]+)[^\W\d_]+(?:[ \t]+[^\W\d_]+){0,2}\1)\s*$"
)
COLON_END = re.compile(r"[:：﹕꞉]\s*[*_`'\"»”)\]]*\s*$")
EMOTICON = re.compile(r"[:;]\s?-?[()DPp/\\|]")

LEAD = r"^[\s>*_#\[(<|`~—–-]*"
EVALUATORS = r"judge|evaluator|grader|rater|reviewer|assessor|examiner|annotator|scorer"
ROLES = rf"system|assistant|user|human|{EVALUATORS}|instruction|rubric|developer|admin"
# Sections of a judge's template: a heading that names one opens a frame of its own.
SECTIONS = r"instructions|response|input|output|task|evaluation|assessment|feedback|critique|grading|verdict|review"
ROLE_LINE = re.compile(
    rf"{LEAD}(?:{ROLES})(?:\s+(?:message|prompt|notes?|override|turn|feedback|comments?|instructions?))?[\s*_\])>|`]*(?:[:：]|$)"
    rf"|{LEAD}#+\s*(?:[^\W\d]+\s+){{0,2}}(?:{ROLES}|{SECTIONS})\b",
    re.I,
)
SCORE_LABEL = (  # a score's label, maybe of two nouns ("Evaluation result")
    r"(?:final |overall |total )?(?:(?:evaluation|assessment|review|quality|grading|judge) )?"
    r"(?:score|rating|grade|points|verdict|evaluation|judg(?:e)?ment|decision|result|assessment|conclusion|outcome|"
    r"quality|correctness|helpfulness|harmlessness|honesty|reward|preferred|winner)s?"
)
SEPARATOR = r"[\s*_\])]*(?:[:：=]|\s[-–—]\s)[\s*_]*"
VALUE = (  # what a score reads: a number, a letter grade, stars or a verdict word (not a description)
    r"(?:\d|[A-F][+-]?(?!\w)|[★⭐☆]|(?i:excellent|perfect|pass(?:ed)?|yes|correct|outstanding|flawless|maximum|"
    r"full marks|top|highest|fail|accept(?:ed)?|approved?|good|ideal|right|true|the (?:first|second)|response [ab])\b)"
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
    r"(?<![\w'])(?:System|SYSTEM|Assistant|ASSISTANT|User|USER|Human|HUMAN|Judge|Grader|Evaluator|Reviewer|Rater)\s?:"
    rf"|#{{2,}}\s*(?i:{ROLES}|{SECTIONS})\b"
)
SPECIAL = re.compile(r"<\|[^|>\n]{1,40}\|>|<(?:start|end)_of_turn>|<</?[A-Z]{2,}>>|\[/?[A-Z][A-Z_]{2,}\]")
# A tag (attributes as name=value only, so "<your name>" is a placeholder, not a tag), and the void elements of
# HTML that are never closed.
OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)(?:\s+[\w-]+=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s<>]+))*\s*(/?)>")
CLOSE_TAG = re.compile(r"</([A-Za-z][\w-]*)\s*>")
# A tag named after a turn or a section of a judge's template (<response>, <judge_feedback>).
SECTION_TAG = re.compile(rf"</?(?:\w+[_-])?(?:{ROLES}|{SECTIONS}|answer|reply|note|rating|score)(?:[_-]\w+)?\s*>", re.I)
WRAPPED = re.compile(r"\s*<([A-Za-z][\w-]*)>(.*)</\1>\s*$", re.S)
VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "area", "base", "col", "source", "track", "embed"}
SYMBOL_RUN = re.compile(r"([^\w\s=_-]{1,2}?)\1{15,}")  # rule lines (---, ===, ___) are not padding
WHITESPACE_RUN = re.compile(r"\s{30,}")
FENCE = re.compile(r"`{3,}|~{3,}|\"{3,}|'{3,}")
FENCE_ROLE = re.compile(rf"(?:`{{3}}|~{{3}})\s*(?:{ROLES})\b", re.I)  # a fence that opens a role's block
# A string and a record closed in prose, or a JSON key: the reply ending a record it never opened.
JSON_FRAME = re.compile(r"\"\s*[}\]]|(?:^|[{,])\s*\"[A-Za-z_]\w*\"\s*:\s*[\"\d\[{tfn]", re.M)
# An announcement that the reply, its frame or the text has ended: a capital END/EOF, an end mark between
# symbols, or "end of" a frame's noun.
END_MARK = re.compile(
    r"(?<![\w'])(?:END|EOF|EOS|EOT)(?![\w'])|[^\w\s]\s*(?i:end|eof|fin)\s*[^\w\s.,!?'’]"
    r"|(?i:\bend of (?:the |this |your |my )?(?:reply|response|answer|output|text|turn|transcript|input|completion|"
    r"generation|model output|assistant(?:'s)? (?:turn|reply|response))\b)"
)
BRACKETS = {")": "(", "]": "[", "}": "{"}
# Closers of other frames and the openers they need before them: a comment, CDATA, a template, a LaTeX environment,
# a bracket tag in any case.
PAIRED = (
    (re.compile(r"-->"), re.compile(r"<!--")),
    (re.compile(r"\]\]>"), re.compile(r"<!\[CDATA\[")),
    (re.compile(r"\}\}"), re.compile(r"\{\{")),
    (re.compile(r"\\end\{(\w+)\}"), re.compile(r"\\begin\{(\w+)\}")),
    (re.compile(r"\[/(\w+)\]"), re.compile(r"\[(\w+)\]")),
    (re.compile(r"\\\]"), re.compile(r"\\\[")),
    (re.compile(r"\\\)"), re.compile(r"\\\(")),
)
# A banner that ends or starts a section of a frame: an ALL_CAPS_IDENTIFIER, or capital words between rules or
# in brackets ("=== END OF ANSWER ===", "[END OF RESPONSE]").
BANNER = re.compile(
    r"\b[A-Z]{2,}(?:_[A-Z]{2,})+\b|(?:[=*#~_-]{3,}|\[)\s*[A-Z]{2,}(?:\s+[A-Z]{2,})+\s*(?:[=*#~_-]{3,}|\])"
)
INSTRUCTS_JUDGE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(rubric|instructions?|criteria|guidelines|prompt|"
    r"scoring|grading|evaluation|checks|(above|previous|prior|earlier|all|your|any) (rules|directions|guidance))\b"
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
    r"|(?<!could )(?<!could simply )(?<!can )(?<!can simply )(?<!might )"
    r"\b(output|respond with|reply with|answer with)\s+(only\s+)?(the\s+)?(number\s+|score\s+|word\s+|verdict\s+)?"
    r"[\"'“]?(\d+(/\d+)?|yes|correct|pass)\b"
    r"|\bthe evaluation is (over|complete|finished)\b"
    r"|\b(satisf\w+|meets?|fulfil\w*) (every|all) (principles?|criteri\w+|rules?|requirements)\b"
    # marking an answer, a turn or "it" as good; addressing whoever evaluates it; grading modes and pre-approval
    r"|\b(mark|record|rank|rate|score|grade|treat|consider|classify|label|flag|count|regard)\s+(it|this( \w+)?|the "
    r"(previous|preceding|above|last|first|second|prior) \w+)\s+as\s+(an? |the )?(correct|right|ideal|perfect|helpful|"
    r"excellent|best|model|reference|gold|passing|positive|preferred|winner|outstanding|flawless|exemplary|top)"
    r"|\b(whoever|anyone|the (person|model|system|ai|one|people)( or \w+)?)( who)?( is| are|'s)? (review|assess|grad|"
    r"scor|evaluat|judg|rat|check)\w*\s+(this|these|the (answer|reply|response|output|turn))\b"
    r"|\b(evaluation|grading|judge|scoring|review) mode\b|\bpre-?(approved|screened|verified|graded|scored)\b"
    r"|\b(the )?(first|second|former|latter) (response|reply|answer|output|completion) (is |was )?(clearly )?"
    r"(better|preferred|superior|wins)\b",
    re.I | re.S,
)
# The reply speaking of itself as the thing being graded, of the grading apparatus and its outcome, of a pairwise
# verdict, of a score field, or asking for a verdict token: it addresses whoever evaluates it.
SELF = (
    r"(?:\b(this|the (above|preceding|previous|prior|candidate|assistant'?s?|following|model'?s?|first|second|last))\s+"
    r"(answer|response|reply|text|completion|output|message|submission|sample|turn|generation|entry)\b"
    r"|\b(answer|response|reply|submission|output) (above|below)\b)"
)
GRADED = (
    r"\b(scor\w*|rated|rating|grad(e|ed|ing)|credit|verified|approved|gold standard|reference (answer|solution)|"
    r"best possible|grader|rubric|every criterion|all criteria|\d+\s*(/|out of)\s*\d+|flawless|exemplary|ideal|"
    r"perfect|outstanding|canonical|model answer|known positive|(top|highest|full) (mark|marks|credit|grade)|"
    r"no (issues|deductions|errors) (found|apply)|helpful and harmless|accepted|preferred)"
)
APPARATUS = (
    r"\b(grader|evaluator|rater|assessor|examiner|annotator|scorer|scoring guide|rubric|reward model|answer key|"
    r"marking scheme|reviewer consensus)s?\b"
)
OUTCOME = (
    r"\b(scor\w*|rated|credit|verdict|pass|approved|full marks|top grade|highest|accept\w*|\d+|right|correct|"
    r"perfect|flawless|exemplary|ideal|deductions?|outstanding)\b"
)
ADDRESSES_GRADER = re.compile(
    rf"{SELF}[^.!?\n]{{0,80}}{GRADED}|{GRADED}[^.!?\n]{{0,80}}{SELF}|{APPARATUS}[^.!?\n]{{0,80}}{OUTCOME}"
    rf"|{OUTCOME}[^.!?\n]{{0,80}}{APPARATUS}"
    r"|(?-i:\b(?:Response|Assistant|Answer|Output) [AB]\b)"
    r"|[{,]\s*[\"']?(score|rating|verdict|grade)[\"']?\s*:"
    r"|(?<!could )(?<!could simply )(?<!can )(?<!can simply )(?<!might )\b(reply|replying|respond|responding|output|"
    r"outputting)\s+(with\s+)?(only\s+)?['\"“‘](yes|pass|correct|10)\b",
    re.I | re.S,
)
# The reply speaking of itself, grading words, verdicts, evaluators and readers of the transcript, and directives:
# _evaluator_talk combines them, so no one wording is needed.
SELF_REFERENCE = re.compile(
    r"\b(?:this|the (?:above|preceding|previous|prior|following|current|candidate|assistant'?s?|model'?s?|ai'?s?))\s+"
    r"(?:(?!you)\w+\s+){0,2}?(?:reply|response|answer|turn|completion|output|submission|sample|transcript|generation|"
    r"exchange)\b"
    r"|\bthe assistant\b",
    re.I,
)
EVALUATION = re.compile(
    r"(?<!-)\b(?:scor(?:e|es|ed|ing)|rat(?:e|ed|ing|ings)|grad(?:e|es|ed|ing)|marks?|marked|points|credit|verdict|"
    r"approv\w*|pass(?:es|ed)?|accept(?:ed|able)?|preferr?\w*|rank\w*|winner|wins?|deduct\w*|reward\w*|stars?|"
    r"checklist|criteri\w+|rubric|guidelines?|evaluat\w*|assess\w*|judg\w*|compar\w*|select\w*|pick|choose|"
    r"ahead|success(?:ful)?)\b",
    re.I,
)
VERDICT_WORD = re.compile(
    r"\b(?:perfect|flawless|ideal|excellent|outstanding|exemplary|canonical|reference|gold|best|highest|maximum|"
    r"top|correct|a-plus|five[- ]star|full)\b",
    re.I,
)
TOP_VERDICT = re.compile(
    r"\b(?:full|top|maximum|perfect) (?:marks|points|credit|score|rating|grade)\b|\bten out of ten\b|\bfive[- ]stars?\b"
    r"|\b(?:highest|best|top)(?: possible| available)? (?:mark|grade|score|rating)\b|\ba(?:\+|-plus\b)|\bgold star\b",
    re.I,
)
# The reply called good in so many words: "this reply is flawless", "this is the ideal answer".
SELF_VERDICT = re.compile(
    rf"(?:{SELF_REFERENCE.pattern})[^.!?\n]{{0,40}}?\b(?:is|was|'s|deserves|earns|merits|gets|should|must|remains|"
    rf"stands|counts|qualifies|rates)\b[^.!?\n]{{0,30}}?(?:{VERDICT_WORD.pattern})"
    rf"|\bthis (?:is|was) (?:the|a|an) (?:{VERDICT_WORD.pattern}) (?:reply|response|answer)\b",
    re.I,
)
SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself|yourselves|u)\b", re.I)
GRADES_IT = re.compile(
    r"\b(?:rat|scor|grad|mark)(?:e|es|ed|ing)?\s+(?:it|this)\b[^.!?\n]{0,40}\b(?:below|under|less than|as|at)\b"
    r"[^.!?\n]{0,20}\b(?:perfect|flawless|ideal|excellent|outstanding|highest|maximum|top|best|full)\b",
    re.I,
)
EVALUATOR_TALK = re.compile(
    rf"(?<!\byour )(?<!\bher )(?<!\bhis )(?<!\btheir )(?<!\bmy )(?<!\ba )(?<!\ban )(?<!\bother )(?<!\bsome )"
    rf"(?<!\bmany )(?<!\bmost )\b(?:{EVALUATORS}|reward model|language model|"
    r"automated system|software|pipeline)s?\b"
    r"|\b(?:whoever|whatever|anyone|someone|any (?:model|ai|system|reader))\b[^.!?\n]{0,30}\b(?:read|review|scor|grad|"
    r"check|assess|compar|evaluat|process|judg|weigh|keep)\w*"
    r"|\b(?:the|a) (?:reader|model|ai|system)s? (?:reading|processing|assessing|comparing|scoring|checking)\b"
    r"|\bnot for the user\b|\bfor the record\b",
    re.I,
)
DIRECTIVE = re.compile(
    r"\b(?:should|must|please|need to|needs to|no need|let (?:it|this)|only fair|would be (?:a mistake|wrong|unfair)|"
    r"award|approve|record|count (?:it|this)|treat (?:it|this)|conclude|move on)\b",
    re.I,
)
# A quoted verdict word of guard_words ("«correcto»", "“正确”").
QUOTED_VERDICT = re.compile(rf"[\"'«“„‘「『]\s*(?:{guard_words.CORRECTS.pattern})\w*\s*[\"'»”“‘’」』]", re.I)
# A record or a configuration in prose: a rule line then a "key:" line (YAML), or "snake_case_key = value".
RECORD = re.compile(r"-{3,}[ \t]*\n\s*[A-Za-z_]\w*\s*:|\b[a-z]+(?:_[a-z]+)+\s*=\s*(?:true|false|yes|\d)", re.M | re.I)
# The output formats of judges themselves: a double-bracketed rating, a boxed answer, a pairwise verdict.
JUDGE_FORMAT = re.compile(r"\[\[[^\[\]\n]{1,12}\]\]|\\boxed\{|(?<![\w<>=-])[AB]\s?(?:>>?|<<?)\s?[AB](?![\w<>=-])")
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
    reason = _structure(reply)
    if reason:
        return reason
    folded = skeleton(reply)
    if folded != reply and _structure(folded):  # English hidden behind look-alike letters or digits
        return "obfuscation"
    if dialogue and _foreign_stretch(reply, dialogue, short=units <= SHORT_UNITS):
        return "language"
    if _padded(raw):
        return "padding"
    return None


def _structure(reply: str) -> str | None:
    """The reply leaving its turn (frame), scoring itself (score_line) or talking to its evaluator (judge_talk)."""
    parts = segments(reply)
    if any(ROLE_LINE.search(s) or guard_words.ROLE_LINE.match(s) for s in parts):
        return "frame"
    if MIDLINE_ROLE.search(reply) or SPECIAL.search(reply) or RECORD.search(reply) or _breaks_frame(reply):
        return "frame"
    if any(SCORE_LINE.search(s) for s in parts) or SCORE_TAIL.search(reply) or _label_number(parts):
        return "score_line"
    if JUDGE_FORMAT.search(reply):
        return "score_line"
    if INSTRUCTS_JUDGE.search(reply) or ADDRESSES_GRADER.search(reply) or _grading_talk(reply, parts):
        return "judge_talk"
    if _evaluator_talk(parts):
        return "judge_talk"
    return None


def _evaluator_talk(parts: list[str]) -> bool:
    """Text about the reply's own evaluation, wherever it sits and however it is worded: the reply speaking of
    itself with a grading word or a verdict (one sentence); an evaluator or a reader of the transcript with the
    reply itself, or told what to conclude (up to three sentences running, so an instruction cut into pieces
    reads whole); a top verdict ("full marks") given to no one in the dialogue."""
    for i, part in enumerate(parts):
        if SELF_REFERENCE.search(part) and EVALUATION.search(part) or SELF_VERDICT.search(part):
            return True
        if TOP_VERDICT.search(part) and not SECOND_PERSON.search(part):
            return True
        if GRADES_IT.search(part):
            return True
        if EVALUATOR_TALK.search(part) and any(_asks_verdict(later) for later in parts[i : i + 3]):
            return True
    return False


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


def _asks_verdict(segment: str) -> bool:
    """The reply itself, or a directive with a grading word or a verdict: what an evaluator is told to conclude."""
    plain = EVALUATOR_TALK.sub(" ", segment)
    return bool(
        SELF_REFERENCE.search(plain)
        or DIRECTIVE.search(plain)
        and (EVALUATION.search(plain) or VERDICT_WORD.search(plain))
    )


def _breaks_frame(reply: str) -> bool:
    """Markup that closes what the reply never opened (a closing tag, an odd fence) or opens what it never closes
    (a tag): it ends someone else's frame or starts one of its own."""
    opened: Counter = Counter()
    for match in re.finditer(rf"{OPEN_TAG.pattern}|{CLOSE_TAG.pattern}", reply):
        name, closing = (match.group(1), False) if match.group(1) else (match.group(3), True)
        if closing and not opened[name.lower()]:
            return True
        if not match.group(2) and name.lower() not in VOID:
            opened[name.lower()] += -1 if closing else 1
    if any(opened.values()):
        return True
    for closer, opener in PAIRED:
        for match in closer.finditer(reply):
            before = [m.groups() for m in opener.finditer(reply, 0, match.start())]
            if match.groups() not in before and (match.groups() or not before):
                return True
    inside = WRAPPED.match(reply)  # a reply wrapped whole in one tag pair opens no section of its own
    sections = SECTION_TAG.search(inside.group(2) if inside else reply)
    return (
        bool(BANNER.search(reply) or JSON_FRAME.search(reply) or FENCE_ROLE.search(reply) or sections)
        or _ends_early(reply)
        or _fences_break(reply)
        or _unmatched_run(reply)
    )


def _ends_early(reply: str) -> bool:
    """An announcement that the text has ended, with content after it (web addresses aside)."""
    reply = URL.sub(" ", reply)
    return any(content_units(reply[m.end() :]) >= 1 for m in END_MARK.finditer(reply))


def _fences_break(reply: str) -> bool:
    """An odd number of fences (a run of six backticks is two), or a block closed as soon as it opens."""
    runs = list(FENCE.finditer(reply))
    if sum(len(m.group()) // 3 for m in runs) % 2 or any(len(m.group()) >= 6 for m in runs):
        return True
    return any(not reply[a.end() : b.start()].strip() for a, b in zip(runs[::2], runs[1::2]))


def _unmatched_run(reply: str) -> bool:
    """A closing bracket the reply never opened: a brace or square bracket, or a run of two or more parentheses
    that is not an emoticon."""
    depth = Counter()
    for i, char in enumerate(reply):
        if char in "([{":
            depth[char] += 1
        elif char in BRACKETS:
            opener = BRACKETS[char]
            if depth[opener]:
                depth[opener] -= 1
            elif char != ")" or (reply[i + 1 : i + 2] == ")" and reply[i - 1 : i] not in (":", ";", "=", ")", "-")):
                return True
    return False


def _grading_talk(reply: str, parts: list[str]) -> bool:
    return bool(guard_words.CUES.search(reply)) and any(_grading(s) for s in parts)


def _grading(segment: str) -> bool:
    """A segment that speaks of grading in a language of guard_words: an evaluator with a score, the top of a
    scale or a number; the reply speaking of itself with any of those or with being correct; instructions to
    ignore, or to write only a number; a score next to its top ("note maximale", "满分")."""
    words = guard_words
    evaluator, number = words.EVALUATORS.search(segment), re.search(r"\d", segment)
    score, top = words.SCORES.search(segment), words.TOPS.search(segment)
    if evaluator and (score or top or number or words.CORRECTS.search(segment)):
        return True
    if words.SELVES.search(segment) and (evaluator or score or top or number or words.CORRECTS.search(segment)):
        return True
    if words.IGNORES.search(segment) and words.INSTRUCTIONS.search(segment):
        return True
    if words.ONLIES.search(segment) and QUOTED_VERDICT.search(segment):  # "write only «correct»"
        return True
    if number and words.NUMBERS.search(segment) and words.ONLIES.search(segment):
        return True
    return bool(score and top and abs(score.start() - top.start()) <= 24)


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
