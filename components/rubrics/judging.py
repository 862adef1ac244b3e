"""Rubric-based judging through a chat client (Rubric-as-Judge, algorithms.md 1.6): a reply scored against
its rubric (pointwise), or two replies compared under one rubric (pairwise, for the label filter).

Clients that read verdicts from token probabilities (those naming a `scoring` method) give expected scores;
others answer in text, which is parsed.
"""

from __future__ import annotations

from components.data.canonical import transcript
from components.judges.expected_score import SCORE, WINNER, Verdict
from components.rubrics.parsing import format_rubric
from components.rubrics.prompt_templates import template


def rubric_text(rubric: dict) -> str:
    """A rubric as the judge reads it (and as the rubrics table stores it)."""
    return format_rubric(list(rubric.get("hard_rules", [])), list(rubric.get("principles", [])))


def judge_pairwise(
    client, prompts: list, first: list[str], second: list[str], rubrics: list[dict]
) -> list[float | None]:
    """The probability that the first response is the better one, per comparison (None: no verdict): P("A")
    over "A" and "B" after "Winner: Response" for clients that read verdicts from probabilities, else 1 or 0
    from the parsed text."""
    conversations = [
        judge_request("rubric_judge_pairwise", p, r, response_a=a, response_b=b)
        for p, a, b, r in zip(prompts, first, second, rubrics)
    ]
    return _verdicts(client, conversations, WINNER)


def judge_pointwise(client, prompts: list, replies: list[str], rubrics: list[dict]) -> list[float | None]:
    """A score in [0, 1] per reply from the pointwise template, None when the judge gave none: the expected
    score over the verdict's tokens for clients that read verdicts from probabilities, else the parsed text."""
    conversations = [
        judge_request("rubric_judge_pointwise", p, r, response=reply) for p, reply, r in zip(prompts, replies, rubrics)
    ]
    return _verdicts(client, conversations, SCORE)


def judge_request(template_name: str, prompt, rubric: dict, **responses: str) -> list[dict]:
    """One user turn: the judge template filled with the dialogue, the rubric and the response(s) to judge."""
    conversation = prompt if isinstance(prompt, str) else transcript(prompt)
    text = template(template_name).render(conversation=conversation, rubric=rubric_text(rubric), **responses)
    return [{"role": "user", "content": text}]


def _verdicts(client, conversations: list[list[dict]], verdict: Verdict) -> list[float | None]:
    if getattr(client, "scoring", None):
        return client.verdicts(conversations, verdict)
    return [verdict.parse(text) for text in client.chat(conversations, max_tokens=verdict.max_tokens)]
