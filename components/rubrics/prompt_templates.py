"""The LLM prompts of rubric generation and judging, read from `components/rubrics/templates/*.txt`.

A template's version is the hash of its text; it is recorded on every rubric and joins every cache key
(the chat cache keys on the rendered prompt, so an edited template never reuses old answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from paretoflow.hashing import text_sha

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def version(self) -> str:
        return text_sha(self.text, length=12)

    def render(self, **slots) -> str:
        return self.text.format(**slots)


def load_template(folder: Path, name: str, kind: str) -> Template:
    """`folder/name.txt` as a template; `kind` names whose templates they are in the error."""
    path = folder / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{kind} template {path} is missing; restore it from git")
    return Template(name, path.read_text())


@lru_cache
def template(name: str) -> Template:
    return load_template(TEMPLATES, name, "rubric")


def templates_version() -> str:
    """One version for the templates an LLM backend writes and filters rubrics with (recorded on its rubrics)."""
    return text_sha(*(template(n).version for n in ("rubric_generation", "rubric_judge_pairwise")), length=12)
