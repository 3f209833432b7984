"""Apply a declared status transition and record it in the audit trail.

This is the only way a status column changes. An illegal move raises IllegalTransition
before anything is touched.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from shared.errors import IllegalTransition
from shared.models.states import StateMachine
from shared.services import audit

S = TypeVar("S", bound=StrEnum)


class Stateful(Protocol[S]):
    id: Any
    organisation_id: Any
    status: S

    @property
    def states(self) -> StateMachine[S]: ...


def check(obj: Stateful[S], target: S) -> None:
    """Raise IllegalTransition when `obj` may not move to `target`."""
    machine = obj.states
    if not machine.allowed(obj.status, target):
        raise IllegalTransition(
            f"{machine.noun} staat op ‘{machine.label(obj.status)}’ en kan niet naar"
            f" ‘{machine.label(target)}’."
        )


def transition(
    session: Session,
    obj: Stateful[S],
    target: S,
    *,
    actor: audit.Actor,
    action: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move `obj` to `target` and append an audit event, in the caller's transaction."""
    check(obj, target)
    if obj.id is None:
        session.flush()  # the id is assigned on insert; the audit event names it
    before = obj.status
    obj.status = target
    organisation_id: uuid.UUID | None = obj.organisation_id
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation_id,
        action=action or f"{obj.states.name}.{target.value}",
        object_type=obj.states.name,
        object_id=obj.id,
        status_before=before.value,
        status_after=target.value,
        data=data,
    )


def prepare(
    obj: Stateful[S],
    target: S,
    *,
    actor: audit.Actor,
    action: str | None = None,
    data: dict[str, Any] | None = None,
) -> audit.PendingEvent:
    """Move `obj` (which has an id) to `target` and return its audit event, to be appended
    with `audit.record_many` in the same transaction (for changes to many objects at once)."""
    check(obj, target)
    before = obj.status
    obj.status = target
    return audit.PendingEvent(
        actor=actor,
        organisation_id=obj.organisation_id,
        action=action or f"{obj.states.name}.{target.value}",
        object_type=obj.states.name,
        object_id=obj.id,
        status_before=before.value,
        status_after=target.value,
        data=data,
    )
