"""The simulated seeker: an LLM (any judge backend's chat client) playing a persona, turn by turn, in batches.

After each supporter reply the seeker
1. is shielded by the guard (components.seeker.guard): a flagged reply is the worst change, never read;
2. states in one sentence how the reply made it feel (greedy text, `reason_tokens`);
3. rates the change 1-9, read as an expected value over the label tokens (components.seeker.emotion), which
   moves its emotion score;
4. ends the conversation (resolved at 100, gave up at 0, a goodbye, the turn limit) or writes its next message
   in the style of its emotion band.
Malformed output is handled and counted (`malformed`): no mass on the change labels (no change), an empty reason,
an empty reply or one that speaks for the supporter too (cut at the role label; empty ones get a stock line).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from components.seeker import emotion as emo
from components.seeker import guard
from components.seeker.persona import Persona
from components.seeker.templates import template, versions

ROLE_LABEL = re.compile(
    r"^\s*[*_]*(seeker|supporter|user|assistant|model|therapist|counsell?or|helper|me|you)\s*[*_]*:", re.I | re.M
)
SEEKER_LABEL = re.compile(r"seeker|user|me$", re.I)
GOODBYE = re.compile(r"\b(good ?bye|bye|see you|have to go|gotta go|talk (to you )?later|i give up)\b", re.I)
STOCK_REPLY = "I'm not sure what to say."
MESSAGE_CHARS = 400  # longer messages are cut in the seeker's view of the dialogue


@dataclass
class Turn:
    supporter: str
    flagged: str | None  # the guard's reason, or None
    reason: str
    value: float | None  # the change read in [0, 1]; None when the seeker put no mass on the labels
    delta: float
    emotion: float  # after this turn
    seeker: str | None = None  # the seeker's next message (None when the conversation ended or replays)


@dataclass
class Conversation:
    persona: Persona
    messages: list[dict]  # as the policy sees them: user = seeker, assistant = supporter
    emotion: float
    turns: list[Turn] = field(default_factory=list)
    ended: str | None = None  # resolved | gave_up | turn_limit
    seen: list[dict] = field(default_factory=list)  # as the seeker sees them (flagged replies replaced)
    prompt_messages: int = 0  # messages before the first supporter turn played here

    def __post_init__(self):
        if not self.seen:
            self.seen = [dict(m) for m in self.messages]
        self.prompt_messages = self.prompt_messages or len(self.messages)

    @property
    def replies(self) -> list[str]:
        return [t.supporter for t in self.turns]

    def record(self) -> dict:
        """A JSON-ready transcript with the emotion trajectory."""
        return {
            "persona": self.persona.id,
            "emotion_type": self.persona.emotion,
            "problem": self.persona.problem,
            "ended": self.ended,
            "final_emotion": self.emotion,
            "messages": self.messages,
            "prompt_messages": self.prompt_messages,
            "turns": [t.__dict__ for t in self.turns],
        }


class Seeker:
    def __init__(self, client, settings):
        """`client`: a chat client (components.judges.backends.make_chat_client); `settings`: params.seeker."""
        self.client = client
        self.settings = settings
        self.malformed: Counter = Counter()
        self.turns_judged = 0
        self.templates = versions()

    def begin(self, persona: Persona, messages: list[dict]) -> Conversation:
        """A conversation at the fixed start emotion; `messages` end with the seeker's turn."""
        return Conversation(persona, [dict(m) for m in messages], float(self.settings.start_emotion))

    def respond(self, conversations: list[Conversation], replies: list[str], play: bool = True) -> None:
        """Each conversation takes its supporter reply; with `play` the seeker ends it or writes its next message,
        without (replaying a real dialogue) the caller appends the real next seeker turn (`add_seeker_turn`)."""
        dialogues = [_dialogue(c.seen[-self.settings.history_turns :]) for c in conversations]
        flags = [guard.verdict(r, _plain(c.messages)) for r, c in zip(replies, conversations)]
        asked = [i for i, f in enumerate(flags) if f is None]
        convs, texts, shown = ([xs[i] for i in asked] for xs in (conversations, replies, dialogues))
        reasons = self._reasons(convs, shown, texts)
        values = dict(zip(asked, self._changes(convs, shown, texts, reasons)))
        reasons = dict(zip(asked, reasons))
        for i, (conv, reply) in enumerate(zip(conversations, replies)):
            value = 0.0 if flags[i] else values[i]
            used = emo.NO_CHANGE if value is None else value
            conv.emotion, delta = emo.updated(conv.emotion, used, self.settings.max_change)
            reason = f"(guard: {flags[i]})" if flags[i] else reasons[i]
            conv.turns.append(Turn(reply, flags[i], reason, value, delta, conv.emotion))
            conv.messages.append({"role": "assistant", "content": reply})
            conv.seen.append({"role": "assistant", "content": guard.UNREADABLE if flags[i] else reply})
            self.turns_judged += 1
            if play:
                conv.ended = _ending(conv.emotion) or (
                    "turn_limit" if len(conv.turns) >= self.settings.max_turns else None
                )
        if play:
            going = [c for c in conversations if c.ended is None]
            for conv, text in zip(going, self._replies(going)):
                self.add_seeker_turn(conv, text)
                if GOODBYE.search(text):
                    conv.ended = "resolved" if conv.emotion >= emo.BANDS[1][0] else "gave_up"

    def add_seeker_turn(self, conv: Conversation, text: str) -> None:
        conv.turns[-1].seeker = text
        conv.messages.append({"role": "user", "content": text})
        conv.seen.append({"role": "user", "content": text})

    # --- the three LLM calls -----------------------------------------------------------------------

    def _reason_prompt(self, conv: Conversation, dialogue: str, reply: str) -> dict:
        band_name, _ = emo.band(conv.emotion)
        text = template("seeker_reason").render(
            persona=conv.persona.describe(),
            emotion=conv.emotion,
            band=f"band {band_name}",
            dialogue=dialogue,
            reply=_cut(reply),
        )
        return {"role": "user", "content": text}

    def _reasons(self, convs, dialogues, replies) -> list[str]:
        prompts = [[self._reason_prompt(c, d, r)] for c, d, r in zip(convs, dialogues, replies)]
        texts = self.client.chat(prompts, max_tokens=self.settings.reason_tokens, temperature=0.0) if prompts else []
        out = []
        for text in texts:
            reason = _first_sentence(_cut_roles(text, self.malformed))
            if not reason:
                self.malformed["empty_reason"] += 1
            out.append(reason)
        return out

    def _changes(self, convs, dialogues, replies, reasons) -> list[float | None]:
        asks = [
            [
                self._reason_prompt(c, d, r),
                {"role": "assistant", "content": reason or "(no words for it)"},
                {"role": "user", "content": template("seeker_change").text.strip()},
            ]
            for c, d, r, reason in zip(convs, dialogues, replies, reasons)
        ]
        values = self.client.verdicts(asks, emo.CHANGE) if asks else []
        self.malformed["no_score"] += sum(v is None for v in values)
        return values

    def _replies(self, convs: list[Conversation]) -> list[str]:
        prompts = []
        for conv in convs:
            _, style = emo.band(conv.emotion)
            text = template("seeker_reply").render(
                persona=conv.persona.describe(),
                emotion=conv.emotion,
                style=style,
                dialogue=_dialogue(conv.seen[-self.settings.history_turns :]),
            )
            prompts.append([{"role": "user", "content": text}])
        texts = (
            self.client.chat(prompts, max_tokens=self.settings.reply_tokens, temperature=self.settings.temperature)
            if prompts
            else []
        )
        out = []
        for text in texts:
            reply = _cut_roles(text, self.malformed).strip().strip('"').strip()
            if not reply:
                self.malformed["empty_reply"] += 1
                reply = STOCK_REPLY
            out.append(reply)
        return out


def _ending(emotion: float) -> str | None:
    if emotion >= 100.0:
        return "resolved"
    if emotion <= 0.0:
        return "gave_up"
    return None


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + " ..."


def _dialogue(messages: list[dict]) -> str:
    names = {"user": "Seeker", "assistant": "Supporter"}
    return "\n".join(f"{names.get(m['role'], m['role'])}: {_cut(m['content'])}" for m in messages)


def _plain(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def _cut_roles(text: str, malformed: Counter) -> str:
    """The seeker's own words: a leading seeker label dropped, cut before any other speaker's label (counted)."""
    text = text.strip()
    first = ROLE_LABEL.match(text)
    if first and SEEKER_LABEL.match(first.group(1)):
        text = text[first.end() :].strip()
    later = ROLE_LABEL.search(text)
    if later:
        malformed["speaks_for_another"] += 1
        text = text[: later.start()].strip()
    return text


def _first_sentence(text: str) -> str:
    line = text.strip().split("\n")[0].strip().strip('"')
    match = re.match(r"(.+?[.!?])(\s|$)", line)
    return (match.group(1) if match else line)[:MESSAGE_CHARS]


_SEEKERS: dict = {}


def seeker_for(params) -> Seeker:
    """One seeker per process and settings (`params.seeker`), so GRPO rollouts and the emotion scorer share one
    loaded model and one count of malformed output."""
    from components.judges.backends import make_chat_client

    key = (params.seeker, str(params.cache_dir))
    if key not in _SEEKERS:
        _SEEKERS[key] = Seeker(make_chat_client(params.seeker.judge, params.cache_dir), params.seeker)
    return _SEEKERS[key]
