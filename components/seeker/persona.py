"""Who the simulated seeker is: an ESConv conversation's situation, emotion type, problem and initial intensity.

ESConv's survey (`survey_score.seeker`) gives, 1-5 as strings, the intensity of the seeker's negative emotion before
and after the conversation and the empathy they rated the supporter; validation reads those, the persona only the
initial intensity (the emotion score itself always starts at the same level, as in RLVER).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.data.canonical import prompt_id

INTENSITY = {1: "mildly", 2: "somewhat", 3: "quite", 4: "very", 5: "extremely"}


@dataclass(frozen=True)
class Persona:
    id: str
    situation: str
    emotion: str
    problem: str
    initial_intensity: int | None = None  # 1-5, ESConv's survey
    survey: dict = field(default_factory=dict)  # the conversation's whole seeker survey, for validation

    def describe(self) -> str:
        """The persona as the seeker's prompt states it."""
        feeling = self.emotion or "upset"
        if self.initial_intensity in INTENSITY:
            feeling = f"{INTENSITY[self.initial_intensity]} {feeling}"
        problem = f" about {self.problem}" if self.problem else ""
        situation = f" {self.situation.strip()}" if self.situation.strip() else ""
        return f"You feel {feeling}{problem}.{situation}"


def from_conversation(conv: dict) -> Persona:
    """A persona from `components.data.adapters.esconv.conversation(row)` plus that row's survey."""
    meta = conv["meta"]
    survey = conv.get("survey", {})
    return Persona(
        id=meta["conversation"],
        situation=meta["situation"],
        emotion=meta["emotion"],
        problem=meta["problem"],
        initial_intensity=_intensity(survey.get("initial_emotion_intensity")),
        survey=survey,
    )


def from_prompt(messages: list[dict], meta: dict | None) -> Persona:
    """A persona for a prompt of the prompts table (its meta's emotion, problem and situation; the first seeker
    message stands for the situation when meta has none)."""
    meta = meta or {}
    first = next((m["content"] for m in messages if m.get("role") == "user"), "")
    return Persona(
        id=prompt_id(messages),
        situation=str(meta.get("situation") or first),
        emotion=str(meta.get("emotion") or ""),
        problem=str(meta.get("problem") or ""),
        initial_intensity=_intensity(meta.get("initial_emotion_intensity")),
    )


def _intensity(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 5 else None
