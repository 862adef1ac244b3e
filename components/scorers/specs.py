"""Scorers named by a spec `kind:argument` (`rm:PATH#objective`, `rubric:offline#empathy`,
`brevity:sentences=2`): the independent scorers of `evaluate.independent` and `paretoflow score --scorer`.
Each kind's factory is listed in `paretoflow.factories.SCORER_SPECS`.
"""

from __future__ import annotations

from pkgutil import resolve_name
from typing import Protocol

from paretoflow.factories import SCORER_SPEC_FORMS, SCORER_SPECS
from paretoflow.schema import Params


class Scorer(Protocol):
    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        """Scores in [0, 1] (TRL's reward signature), comparable across scorers."""
        ...

    def raw(self, prompts: list, replies: list[str]) -> list[float]:
        """Scores on the scorer's own scale, for ranking replies (a reward model's logits)."""
        ...


def scorer_from_spec(spec: str, params: Params) -> Scorer:
    """The scorer a spec names, built with the run's params (a rubric judge takes `rubrics.judge`)."""
    kind, _, argument = spec.partition(":")
    if kind not in SCORER_SPECS:
        raise ValueError(f"scorer {spec!r} must look like {SCORER_SPEC_FORMS}")
    return resolve_name(SCORER_SPECS[kind])(argument, params)
