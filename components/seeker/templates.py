"""The seeker's prompts, read from `components/seeker/templates/*.txt`; a template's version is the hash of its text,
recorded with every conversation (the chat cache keys on the rendered prompt, so an edit never reuses old answers)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from components.rubrics.prompt_templates import Template, load_template
from paretoflow.hashing import text_sha

TEMPLATES = Path(__file__).parent / "templates"
NAMES = ("seeker_reason", "seeker_change", "seeker_reply")


@lru_cache
def template(name: str) -> Template:
    return load_template(TEMPLATES, name, "seeker")


def versions() -> dict[str, str]:
    """Each template's hash, and one over all of them."""
    each = {name: template(name).version for name in NAMES}
    return each | {"all": text_sha(*each.values(), length=12)}
