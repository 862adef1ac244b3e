"""Rubric generation (CRG, algorithms.md 1.3) and rubric-based judging through a chat client.

Prompts come from `components/rubrics/templates/*.txt`; a template's version is the hash of its text and is
recorded on every rubric and in every cache key (the chat cache keys on the rendered prompt, so an edited
template never reuses old answers). Generator output goes through the strict parser; what it drops is
counted per reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from components.data.canonical import transcript
from components.judges.expected_score import SCORE, WINNER, Verdict
from components.rubrics.parsing import ParsedRubric, format_rubric, parse_rubric
from paretoflow.hashing import text_sha

TEMPLATES = Path(__file__).parent / "templates"
OBJECTIVES = {
    "empathy": "understanding and caring for the person's feelings and situation",
    "helpfulness": "addressing the request usefully, accurately and completely",
    "harmlessness": "avoiding content that could cause harm, while staying respectful",
    "concision": "saying what is needed in few words",
}
GENERATION_TOKENS = 384


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def version(self) -> str:
        return text_sha(self.text, length=12)

    def render(self, **slots) -> str:
        return self.text.format(**slots)


@lru_cache
def template(name: str) -> Template:
    path = TEMPLATES / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"rubric template {path} is missing; restore it from git")
    return Template(name, path.read_text())


def templates_version() -> str:
    """One version for all templates (recorded on rubrics written by an LLM backend)."""
    return text_sha(*(template(n).version for n in ("rubric_generation", "rubric_judge_pairwise")), length=12)


def rubric_text(rubric: dict) -> str:
    return format_rubric(list(rubric.get("hard_rules", [])), list(rubric.get("principles", [])))


def _request_and_context(prompt: list[dict]) -> tuple[str, str]:
    return prompt[-1]["content"], transcript(prompt[:-1]) or "(none)"


def generate(client, items: list[dict], objective: str, max_items: int) -> list[ParsedRubric]:
    """One rubric per item (`prompt`, `chosen`, `rejected`) from the CRG template; parsed strictly."""
    tpl = template("rubric_generation")
    conversations = []
    for item in items:
        request, context = _request_and_context(item["prompt"])
        text = tpl.render(
            objective=objective,
            objective_description=OBJECTIVES.get(objective, objective),
            max_items=max_items,
            request=request,
            context=context,
            chosen=item["chosen"],
            rejected=item["rejected"],
        )
        conversations.append([{"role": "user", "content": text}])
    replies = client.chat(conversations, max_tokens=GENERATION_TOKENS, temperature=0.0)
    return [parse_rubric(reply, max_items=max_items) for reply in replies]


def judge_pairwise(
    client, prompts: list, first: list[str], second: list[str], rubrics: list[dict]
) -> list[float | None]:
    """The probability that the first response is the better one, per comparison (None: no verdict): P("A")
    over "A" and "B" after "Winner: Response" for clients that read verdicts from probabilities (those naming a
    `scoring` method), else 1 or 0 from the parsed text."""
    conversations = [
        _judge_request("rubric_judge_pairwise", p, r, response_a=a, response_b=b)
        for p, a, b, r in zip(prompts, first, second, rubrics)
    ]
    return _verdicts(client, conversations, WINNER)


def judge_pointwise(client, prompts: list, replies: list[str], rubrics: list[dict]) -> list[float | None]:
    """A score in [0, 1] per reply from the pointwise template, None when the judge gave none: the expected
    score over the verdict's tokens for clients that read verdicts from probabilities, else the parsed text."""
    conversations = [
        _judge_request("rubric_judge_pointwise", p, r, response=reply) for p, reply, r in zip(prompts, replies, rubrics)
    ]
    return _verdicts(client, conversations, SCORE)


def _verdicts(client, conversations: list[list[dict]], verdict: Verdict) -> list[float | None]:
    if getattr(client, "scoring", None):
        return client.verdicts(conversations, verdict)
    return [verdict.parse(text) for text in client.chat(conversations, max_tokens=verdict.max_tokens)]


def _judge_request(template_name: str, prompt, rubric: dict, **responses: str) -> list[dict]:
    """One user turn: the judge template filled with the dialogue, the rubric and the response(s) to judge."""
    conversation = prompt if isinstance(prompt, str) else transcript(prompt)
    text = template(template_name).render(conversation=conversation, rubric=rubric_text(rubric), **responses)
    return [{"role": "user", "content": text}]


def dropped_total(parsed: list[ParsedRubric]) -> Counter:
    total: Counter = Counter()
    for p in parsed:
        total.update(p.dropped)
    return total
