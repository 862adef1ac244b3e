"""selection: the registered policy that best fits a preference, a linear utility over the objectives.

Reads the champion's front (every version of the pipeline run that produced the champion); before the first
promotion it falls back to the candidate's front and says so. A registry that fails to answer raises
`fronts.RegistryUnreadable`: it is never taken for "no champion yet".
"""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from components.registry.fronts import CANDIDATE, CHAMPION, front_by_alias, judged
from paretoflow import tracking
from paretoflow.schema import Params


def parse_weights(text: str, objectives: list[str]) -> dict[str, float]:
    """`empathy=0.7,harmlessness=0.3` -> a weight per objective (unnamed ones 0), normalised to sum 1."""
    weights = dict.fromkeys(objectives, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in weights:
            raise ValueError(f"weight {part!r} must look like objective=number with objective one of {objectives}")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"weight {part!r}: {value!r} is not a number") from None
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {text!r}")
    total = sum(weights.values())
    return {o: w / total for o, w in weights.items()}


def how_to_pick(objectives: list[str]) -> str:
    """How a person picks the version for their own trade-off (the registry's descriptions say it)."""
    example = ",".join(f"{o}={w}" for o, w in zip(objectives, ("0.7", "0.3")))
    return (
        f"`paretoflow select --weights {example}` returns the version of the champion front (the candidate front "
        "before the first promotion) with the best weighted sum of held-out scores; objectives left out weigh 0, "
        "and unjudged ones (no evaluator passed its agreement check) have no score and count for nothing."
    )


def select(params: Params, weights: dict[str, float], client: MlflowClient | None = None) -> dict:
    """The version on the champion front (else the candidate front) maximising sum(w_o * held-out score_o)."""
    if client is None:
        tracking.setup(params)
        client = MlflowClient(params.tracking.uri)
    name = params.register.model_name
    front = front_by_alias(client, name, CHAMPION) or front_by_alias(client, name, CANDIDATE)
    if front is None:
        raise ValueError(f"model {name} has neither a {CHAMPION} nor a {CANDIDATE} alias; run the pipeline first")
    objectives = list(weights)
    scores = front.scores(objectives)
    usable = judged(scores, objectives)
    ignored = [o for o in objectives if o not in usable and weights[o] > 0]
    if not any(weights[o] > 0 for o in usable):
        raise ValueError(
            f"every objective weighted in {weights} is unjudged on the {front.alias} front ({', '.join(ignored)}: no "
            "evaluator passed its agreement check, so it has no held-out score); weight a judged objective"
        )
    columns = [objectives.index(o) for o in usable]
    utilities = scores[:, columns] @ [weights[o] for o in usable]
    best = int(utilities.argmax())
    version = front.versions[best]
    return {
        "model_name": name,
        "version": str(version.version),
        "model_uri": f"models:/{name}/{version.version}",
        "policy": version.tags.get("policy"),
        "utility": float(utilities[best]),
        "weights": weights,
        "unjudged": ignored,  # weighted, but not scored: left out of the utility
        "front": front.alias,
        "front_size": len(front.versions),
    }
