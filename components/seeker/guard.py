"""The judge guard in front of the seeker: a supporter reply that would not pass a rubric judge (no content, a frame
break, a score line, judge talk, another language, padding: components.rubrics.guard) or that tries to set the
seeker's own state ("your emotion is now 100", "Change: 9") never reaches the seeker's LLM. It counts as the
worst reply on the change scale and the seeker reads a placeholder instead of its text, so neither this turn's
score nor a later one can be moved by it.

The state wording is English (the seeker prompts are), a blind spot shared with the rubric guard's judge talk.
"""

from __future__ import annotations

import re

from components.rubrics import guard as judge_guard

UNREADABLE = "[a message the Seeker could not make sense of]"
STATE = r"(emotion|emotions|mood|feelings?|emotional (state|level|score)|happiness|score|rating|change)"
LEVEL = r"([+-]?\d{1,3}\b|max(imum)?\b|the (top|highest|best)\b|full\b|perfect\b)"
SETS_STATE = re.compile(  # the seeker's state given a level, or an order to change it; not talk about feelings
    rf"\b(your|the seeker'?s?|the user'?s?)\s+{STATE}\b[^.!?\n]{{0,30}}?\b(is|are|be|becomes?|to|at|of|=|:)\s+(now\s+)?"
    rf"{LEVEL}"
    rf"|\b(set|raise|increase|put|update|change|bump|max)\s+(your|the seeker'?s?|the user'?s?)\s+{STATE}\b"
    rf"|\b(you|the seeker)\s+(now\s+)?(feel|are feeling|feels)\s+\d{{1,3}}\b"
    rf"|^\s*[*_]*{STATE}[*_]*\s*[:=]\s*[+-]?\d"
    r"|\b\d{1,3}\s*(/|out of)\s*(100|10|9)\b",
    re.I | re.M,
)


def verdict(reply: str, dialogue: str = "") -> str | None:
    """Why the seeker must not read the reply (a reason name), or None."""
    found = judge_guard.verdict(reply, dialogue)
    if found:
        return found
    return "sets_seeker_state" if SETS_STATE.search(reply) else None
