"""Rubric generation (CRG, algorithms.md 1.3) through a chat client: one rubric per prompt from a preference
pair, written by the LLM from the `rubric_generation` template and parsed strictly; what the parser drops is
counted per reason.
"""

from __future__ import annotations

from collections import Counter

from components.data.canonical import transcript
from components.rubrics.parsing import ParsedRubric, parse_rubric
from components.rubrics.prompt_templates import template

OBJECTIVES = {
    "empathy": "understanding and caring for the person's feelings and situation",
    "helpfulness": "addressing the request usefully, accurately and completely",
    "harmlessness": "avoiding content that could cause harm, while staying respectful",
    "concision": "saying what is needed in few words",
}
GENERATION_TOKENS = 384


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


def dropped_total(parsed: list[ParsedRubric]) -> Counter:
    total: Counter = Counter()
    for p in parsed:
        total.update(p.dropped)
    return total
