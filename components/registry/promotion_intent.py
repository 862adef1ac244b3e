"""The intent of an alias move, written to the registry before the first alias moves and removed after the last,
so that a promote or rollback that dies half-way (killed, its machine lost, the server gone) is repaired by the next
one, and reported by a dry run.

The intent is a registered model of its own, `<model>.alias-move`, whose tag `intent` holds the aliases before and
after the move and who moves them. MLflow creates a registered model only when none of that name exists, the one
atomic step its API offers, so the intent is also a lock: two commands never move the aliases of one model at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.registry.aliases import (
    MISSING,
    REGISTRY_ERRORS,
    PromotionError,
    describe,
    describe_error,
    point,
    read_aliases,
    registry_call,
)

log = logging.getLogger(__name__)
WAIT_SECONDS = 60  # how long a command waits for another's move to finish (a move takes seconds)
POLL_SECONDS = 0.5
STALE_SECONDS = 30 * 60  # an intent from another machine older than this was abandoned (client retries take minutes)
TAKEN = "RESOURCE_ALREADY_EXISTS"
_HELD: set[str] = set()  # tokens of the intents this process is carrying out right now


@dataclass(frozen=True)
class Intent:
    token: str
    model: str
    command: str  # "promote v5", "rollback"
    before: dict[str, str | None]
    after: dict[str, str | None]
    host: str
    pid: int
    started: float

    @property
    def holder(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"{self.command} (host {self.host}, pid {self.pid}, started {when})"


def intent_name(model: str) -> str:
    return f"{model}.alias-move"


def begin(client: MlflowClient, model: str, command: str, before: dict, after: dict) -> Intent:
    """Record the intent, waiting while another command's move is under way and repairing one that was abandoned."""
    intent = Intent(uuid.uuid4().hex, model, command, before, after, socket.gethostname(), os.getpid(), time.time())
    deadline = time.monotonic() + WAIT_SECONDS
    _HELD.add(intent.token)  # before it exists: another thread of this process must never take it for abandoned
    try:
        while True:
            other = _create(client, intent)
            if other is None or other.token == intent.token:  # ours (a retried create whose first answer was lost)
                return intent
            if abandoned(other):
                repair(client, other)
            elif time.monotonic() > deadline:
                raise PromotionError(
                    f"{other.holder} is moving the aliases of {model} and did not finish within {WAIT_SECONDS}s; "
                    "nothing was moved. Run the command again once it has; if that process is gone, the first "
                    f"promote or rollback {STALE_SECONDS // 60} minutes after it started repairs what it left"
                )
            else:
                time.sleep(POLL_SECONDS)
    except BaseException:
        release(intent)
        raise


def finish(client: MlflowClient, intent: Intent) -> None:
    """The move is over (done, or every alias put back): remove the intent."""
    with registry_call(client, f"remove the intent {intent_name(intent.model)}"):
        client.delete_registered_model(intent_name(intent.model))


def release(intent: Intent) -> None:
    """This process no longer carries the intent out; one still in the registry is now the next command's to repair."""
    _HELD.discard(intent.token)


def recover(client: MlflowClient, model: str, repair_it: bool = True) -> str | None:
    """Repair the move a command abandoned half-way and say what was done (None: nothing was abandoned). With
    `repair_it` false (a dry run) an abandoned move is reported instead."""
    intent = read(client, model)
    if intent is None or not abandoned(intent):
        return None
    if not repair_it:
        raise PromotionError(
            f"{intent.holder} stopped half-way through moving the aliases of {model} (meant: {describe(intent.after)}; "
            f"before: {describe(intent.before)}). Run promote without --dry-run, or rollback, to repair it first"
        )
    return repair(client, intent)


def repair(client: MlflowClient, intent: Intent) -> str:
    """A finished move is kept, any other is put back as it was before; then the intent is removed."""
    current = read_aliases(client, intent.model)
    now = {alias: current.get(alias) for alias in intent.after}
    if now == intent.after:
        done = f"its move had completed ({describe(now)}); kept"
    elif now == intent.before:
        done = f"nothing had moved ({describe(now)})"
    else:
        try:
            for alias, version in intent.before.items():
                point(client, intent.model, alias, version)
        except REGISTRY_ERRORS as exc:
            raise PromotionError(
                f"{intent.holder} stopped half-way through moving the aliases of {intent.model} ({describe(now)}), "
                f"and putting them back to {describe(intent.before)} failed ({describe_error(exc)}). The intent "
                "stays: run promote or rollback again once the registry answers"
            ) from exc
        done = f"found {describe(now)} and put back {describe(intent.before)}"
    finish(client, intent)
    note = f"{intent.holder} stopped before it finished moving the aliases of {intent.model}: {done}"
    log.warning(note)
    return note


def read(client: MlflowClient, model: str) -> Intent | None:
    with registry_call(client, f"read the intent {intent_name(model)}"):
        try:
            found = client.get_registered_model(intent_name(model))
        except MlflowException as exc:
            if exc.error_code != MISSING:
                raise
            return None
    if "intent" not in found.tags:
        raise PromotionError(
            f"registered model {intent_name(model)} has no tag intent: it was not written by paretoflow, whose "
            "promote and rollback use that name. Rename or delete it, then run the command again"
        )
    return Intent(**json.loads(found.tags["intent"]))


def abandoned(intent: Intent) -> bool:
    """Whether no live process carries the intent out: it is older than STALE_SECONDS, or on this machine its
    process is gone (in this process: its command returned). From another machine only its age tells."""
    if time.time() - intent.started > STALE_SECONDS:
        return True
    if intent.host != socket.gethostname():
        return False
    if intent.pid == os.getpid():
        return intent.token not in _HELD
    try:
        os.kill(intent.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, run by another user
        return False
    return False


def _create(client: MlflowClient, intent: Intent) -> Intent | None:
    """Create the intent; None when created, else the intent already there (None again if it went meanwhile)."""
    with registry_call(client, f"record the intent to move the aliases of {intent.model}"):
        try:
            client.create_registered_model(
                intent_name(intent.model),
                tags={"intent": json.dumps(asdict(intent))},
                description=f"{intent.command} is moving the aliases of {intent.model}. If this model stays, the "
                "command stopped half-way: the next promote or rollback repairs it.",
            )
            return None
        except MlflowException as exc:
            if exc.error_code != TAKEN and not _held_by_another(client, intent):
                raise
    return read(client, intent.model) or _create(client, intent)


def _held_by_another(client: MlflowClient, intent: Intent) -> bool:
    """Whether another command's intent is there: a create that raced another may fail with an error other than
    TAKEN (a SQL store's unique-key violation), and then the other command holds the aliases."""
    try:
        there = read(client, intent.model)
    except PromotionError:
        return False
    return there is not None and there.token != intent.token
