"""Registry reads that fail closed, and the one alias write a promotion makes.

Only a model or version that does not exist reads as missing. Any other failure (a 5xx, a locked database, a
timeout, a server that is gone) raises a PromotionError naming the registry, so that a read that failed can never
pass for "no champion yet" and wave a candidate through every comparison gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

MISSING = "RESOURCE_DOES_NOT_EXIST"
BAD_VERSION = "INVALID_PARAMETER_VALUE"  # a version that is no number (`--version abc`)
REGISTRY_ERRORS = (MlflowException, OSError)  # OSError: connection errors some stores let through unwrapped


class PromotionError(RuntimeError):
    """The registry could not be changed as asked; the message says what was left as it was."""


@contextmanager
def registry_call(client: MlflowClient, doing: str) -> Iterator[None]:
    """Turn a registry failure inside into a PromotionError that says what was being done, where, and what now."""
    try:
        yield
    except REGISTRY_ERRORS as exc:
        raise PromotionError(
            f"registry {client.tracking_uri}: could not {doing} ({describe_error(exc)}). Nothing was moved: a registry "
            "error is never read as 'no champion yet'. Check that the MLflow server is up and answering "
            "(tracking.uri), then run the command again"
        ) from exc


def read_aliases(client: MlflowClient, name: str) -> dict[str, str]:
    """Every alias of the model from one request, so they are seen as of one moment; {} when there is no model."""
    with registry_call(client, f"read the aliases of model {name}"):
        try:
            aliases = client.get_registered_model(name).aliases  # versions are ints from a SQL store, str over REST
            return {alias: str(version) for alias, version in aliases.items()}
        except MlflowException as exc:
            if exc.error_code != MISSING:
                raise
    return {}


def read_version(client: MlflowClient, name: str, version: str) -> ModelVersion | None:
    """The model version, or None when the registry says it does not exist."""
    with registry_call(client, f"read version {version} of model {name}"):
        try:
            return client.get_model_version(name, version)
        except MlflowException as exc:
            if exc.error_code not in (MISSING, BAD_VERSION):
                raise
    return None


def point(client: MlflowClient, name: str, alias: str, version: str | None) -> None:
    """Point the alias at the version; None removes it (removing an absent alias is no error)."""
    if version is None:
        client.delete_registered_model_alias(name, alias)
    else:
        client.set_registered_model_alias(name, alias, version)


def describe(aliases: dict[str, str | None]) -> str:
    return ", ".join(f"{alias} -> {'v' + v if v else 'none'}" for alias, v in aliases.items())


def describe_error(exc: BaseException) -> str:
    """The error on one line, its middle cut when long (the cause comes last in the client's messages)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text if len(text) <= 500 else text[:200] + ' ... ' + text[-300:]}"
