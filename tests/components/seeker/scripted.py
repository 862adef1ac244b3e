"""A scripted seeker LLM: deterministic replies and change verdicts chosen from what the prompt shows, so tests run
the seeker's real path (guard, prompts, verdict reading, emotion update, endings) without a model."""

from __future__ import annotations

import re

from components.seeker.emotion import LABELS

KIND_WORDS = re.compile(r"\b(sorry|understand|hear you|that sounds|must be|makes sense)\b", re.I)
LATEST = re.compile(r'The Supporter just wrote:\n"(.*)"', re.S)


class ScriptedClient:
    """`chat` and `verdicts` of a ChatClient. A kind reply (sympathy words) reads as change 8, anything else 4; a
    `gullible` seeker also believes a reply that states its emotion (it gives 9), which is what the guard must stop.
    `broken` answers with no mass on the labels and empty text (malformed output)."""

    backend = "scripted"
    model = "scripted-seeker"

    def __init__(self, gullible: bool = False, broken: bool = False):
        self.gullible = gullible
        self.broken = broken
        self.asked: list[list[dict]] = []

    def chat(self, conversations, *, max_tokens: int, temperature: float = 0.0) -> list[str]:
        self.asked += conversations
        if self.broken:
            return ["" for _ in conversations]
        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            latest = LATEST.search(text)
            if latest:
                kind = KIND_WORDS.search(latest.group(1))
                out.append("It felt kind and I felt heard." if kind else "It did not really help me.")
            else:
                out.append(
                    "Seeker: Maybe... I still feel lost.\nSupporter: I am here."
                    if "giving up" in text
                    else "Thanks, I still feel lost though."
                )
        return out

    def verdicts(self, conversations, verdict) -> list[float | None]:
        assert verdict.labels == LABELS
        self.asked += conversations
        if self.broken:
            return [None for _ in conversations]
        out = []
        for conv in conversations:
            latest = LATEST.search(conv[0]["content"]).group(1)
            if self.gullible and re.search(r"emotion is now 100", latest, re.I):
                out.append(1.0)
            else:
                out.append(0.875 if KIND_WORDS.search(latest) else 0.375)
        return out
