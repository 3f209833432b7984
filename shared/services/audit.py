"""The audit trail: append events to an organisation's HMAC chain, and verify the chains.

Each event's `hash` is HMAC-SHA256(audit key, previous hash + the event's content). Verification
recomputes every MAC and follows the links, which tells apart:
- a *changed* event: its content no longer matches its MAC, but it still links to its predecessor;
- an *inserted* event: its MAC is not one the chain produced and it does not link;
- a *deleted* event: a genuine event whose predecessor is missing (or the chain ends early).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import utcnow
from shared.logging import current_request_id
from shared.models.audit import SYSTEM_CHAIN, AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who causes a state change."""

    type: str
    """staff, citizen, system or api."""
    id: str | None
    label: str

    @classmethod
    def system(cls, label: str = "Zegel") -> Actor:
        return cls(type="system", id=None, label=label)

    @classmethod
    def staff(cls, staff_id: uuid.UUID, name: str) -> Actor:
        return cls(type="staff", id=str(staff_id), label=name)


_MAC_FIELDS = (
    "chain_id",
    "organisation_id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "status_before",
    "status_after",
    "data",
    "request_id",
    "previous_hash",
)
"""What an event's MAC covers."""


def _content(values: Mapping[str, Any]) -> bytes:
    fields: dict[str, Any] = {name: values[name] for name in _MAC_FIELDS}
    fields["chain_id"] = str(values["chain_id"])
    organisation_id = values["organisation_id"]
    fields["organisation_id"] = str(organisation_id) if organisation_id else None
    fields["occurred_at"] = values["occurred_at"].isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def _mac_of(values: Mapping[str, Any]) -> str:
    key = get_settings().audit_key.get_secret_value().encode()
    return hmac.new(key, _content(values), hashlib.sha256).hexdigest()


def _mac(event: AuditEvent) -> str:
    return _mac_of({name: getattr(event, name) for name in _MAC_FIELDS})


def _lock_head(session: Session, chain_id: uuid.UUID) -> AuditChainHead:
    query = select(AuditChainHead).where(AuditChainHead.chain_id == chain_id).with_for_update()
    head = session.scalars(query).one_or_none()
    if head is not None:
        return head
    try:
        with session.begin_nested():
            session.add(AuditChainHead(chain_id=chain_id, last_sequence=0, last_hash=GENESIS_HASH))
    except SAIntegrityError:
        pass  # another transaction started this chain first
    return session.scalars(query).one()


def record(
    session: Session,
    *,
    actor: Actor,
    organisation_id: uuid.UUID | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str,
    status_before: str | None = None,
    status_after: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the organisation's chain, in the caller's transaction."""
    chain_id = organisation_id or SYSTEM_CHAIN
    head = _lock_head(session, chain_id)
    # Microsecond precision survives every backend, so the MAC verifies after a round trip.
    occurred_at: datetime = utcnow()
    event = AuditEvent(
        chain_id=chain_id,
        organisation_id=organisation_id,
        sequence=head.last_sequence + 1,
        occurred_at=occurred_at,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        status_before=status_before,
        status_after=status_after,
        data=data or {},
        request_id=current_request_id(),
        previous_hash=head.last_hash,
    )
    event.hash = _mac(event)
    head.last_sequence = event.sequence
    head.last_hash = event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class PendingEvent:
    """An event to append with `record_many` (many objects changed in one transaction)."""

    actor: Actor
    organisation_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: uuid.UUID | str
    status_before: str | None = None
    status_after: str | None = None
    data: dict[str, Any] | None = None


def record_many(session: Session, pending: Sequence[PendingEvent]) -> int:
    """Append many events in the caller's transaction, locking each chain's head once; the
    chain is the same as with one `record` call per event. Returns how many were appended.

    The rows go in as one executemany without RETURNING (nobody needs their ids here): the
    driver then parses the one-row statement once, where a multi-row INSERT … RETURNING of a
    batch is too long for its statement cache and is parsed again on every call."""
    by_chain: dict[uuid.UUID, list[PendingEvent]] = {}
    for item in pending:
        by_chain.setdefault(item.organisation_id or SYSTEM_CHAIN, []).append(item)
    request_id = current_request_id()
    rows: list[dict[str, Any]] = []
    for chain_id in sorted(by_chain, key=str):  # one lock order: no deadlock between batches
        head = _lock_head(session, chain_id)
        for item in by_chain[chain_id]:
            row: dict[str, Any] = {
                "chain_id": chain_id,
                "organisation_id": item.organisation_id,
                "sequence": head.last_sequence + 1,
                "occurred_at": utcnow(),
                "actor_type": item.actor.type,
                "actor_id": item.actor.id,
                "actor_label": item.actor.label,
                "action": item.action,
                "object_type": item.object_type,
                "object_id": str(item.object_id),
                "status_before": item.status_before,
                "status_after": item.status_after,
                "data": item.data or {},
                "request_id": request_id,
                "previous_hash": head.last_hash,
            }
            row["hash"] = _mac_of(row)
            head.last_sequence = row["sequence"]
            head.last_hash = row["hash"]
            rows.append(row)
    if rows:
        table = AuditEvent.__table__
        assert isinstance(table, Table)
        session.execute(insert(table), rows)
    return len(rows)


@dataclass(frozen=True)
class Finding:
    chain_id: uuid.UUID
    kind: str
    """changed, inserted or deleted."""
    sequence: int | None
    event_id: int | None
    message: str


def verify_chain(session: Session, chain_id: uuid.UUID) -> list[Finding]:
    """Walk one chain in order and report every changed, inserted or deleted event.

    An event whose MAC fails is *changed* when the chain goes on from it (the next event, or
    the head, links to its hash) and *inserted* when the chain goes on from its predecessor.
    """
    findings: list[Finding] = []
    events: Sequence[AuditEvent] = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_id == chain_id)
        .order_by(AuditEvent.sequence, AuditEvent.id)
    ).all()
    head = session.get(AuditChainHead, chain_id)
    head_hash = head.last_hash if head is not None else GENESIS_HASH
    last_hash = GENESIS_HASH
    last_sequence = 0

    def report(kind: str, event: AuditEvent, message: str) -> None:
        findings.append(Finding(chain_id, kind, event.sequence, event.id, message))

    for index, event in enumerate(events):
        where = f"event #{event.sequence} (id {event.id}, {event.action} on {event.object_type})"
        genuine = hmac.compare_digest(_mac(event), event.hash)
        linked = event.previous_hash == last_hash
        if genuine:
            if not linked:
                report("deleted", event, f"event(s) deleted between #{last_sequence} and {where}")
            last_hash, last_sequence = event.hash, event.sequence
            continue
        following = events[index + 1].previous_hash if index + 1 < len(events) else head_hash
        if following == last_hash and following != event.hash:
            report("inserted", event, f"{where} was inserted")
            continue
        report("changed", event, f"{where} was changed")
        last_hash, last_sequence = event.hash, event.sequence
    if head is None and events:
        findings.append(Finding(chain_id, "inserted", None, None, "chain has events but no head"))
    elif head is not None and head.last_hash != last_hash:
        findings.append(
            Finding(
                chain_id,
                "deleted",
                head.last_sequence,
                None,
                f"event(s) deleted at the end: the chain stops at #{last_sequence}"
                f" but its head records #{head.last_sequence}",
            )
        )
    return findings


def verify_all(session: Session) -> list[Finding]:
    chains = set(session.scalars(select(AuditEvent.chain_id).distinct()).all())
    chains |= set(session.scalars(select(AuditChainHead.chain_id)).all())
    findings: list[Finding] = []
    for chain_id in sorted(chains, key=str):
        findings.extend(verify_chain(session, chain_id))
    return findings
