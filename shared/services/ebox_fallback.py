"""An eBox message still unread after N days goes on paper too (optional, per document type).

The periodic job `dispatch.ebox_paper_fallback` looks, per organisation and document type
whose policy sets a number of days (`document_types.fallbacks()`), for eBox dispatches that
were delivered at least that many days ago and are still not read, and have no paper copy.
It first asks MAGDA their status once more (a message read since the last poll is then
recorded as read and gets no letter; when MAGDA cannot answer, nothing goes on paper in this
run), then queues for each one still unread a paper copy of the same signed PDF, by normal or
registered post as the policy says (`dispatch.queue_paper_copy`), each in its own short
transaction that locks the eBox dispatch.

Once only, however often the job runs, and when two runs overlap or a run is replayed after a
crash: the eBox dispatch's row lock serialises them, the copy is looked for before it is
made, and `Dispatch.copy_of_id` is unique in the database. The copy's reason is kept as its
channel reason, audited, and shown in the document's timeline and (with its own register
number) in the register. The document keeps its status and legal sending date: the eBox
delivery stands; the letter is a copy.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from shared import jobs
from shared.db import session_scope, utcnow
from shared.integrations.magda import MagdaClient
from shared.models.dispatch import Channel, Dispatch, DispatchStatus
from shared.models.document_types import PaperDelivery
from shared.models.documents import Document
from shared.services import audit, document_types
from shared.services import dispatch as dispatching
from shared.timeutil import BRUSSELS

log = logging.getLogger("zegel.dispatch")

FALLBACK_JOB = "dispatch.ebox_paper_fallback"
FALLBACK_EVERY = timedelta(hours=1)
SYSTEM = audit.Actor.system("Zegel (papieren kopie)")

_PAPER_WORDS = {
    PaperDelivery.NORMAL: "met de gewone post",
    PaperDelivery.REGISTERED: "aangetekend",
    PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT: "aangetekend met ontvangstbewijs",
}


@dataclass(frozen=True)
class _Candidate:
    dispatch_id: uuid.UUID
    days: int
    paper: PaperDelivery
    cutoff: datetime


@dataclass
class FallbackResult:
    checked: int = 0
    queued: list[uuid.UUID] = field(default_factory=list)
    """The paper copies queued in this run."""
    read_meanwhile: int = 0
    errors: list[str] = field(default_factory=list)


def _candidates(session: Session, now: datetime) -> list[_Candidate]:
    copy = aliased(Dispatch)
    found: list[_Candidate] = []
    for rule in document_types.fallbacks(session):
        cutoff = now - timedelta(days=rule.days)
        ids = session.scalars(
            select(Dispatch.id)
            .join(Document, Document.id == Dispatch.document_id)
            .where(
                Dispatch.organisation_id == rule.organisation_id,
                Document.document_type == rule.document_type,
                Dispatch.channel == Channel.EBOX,
                Dispatch.status == DispatchStatus.DELIVERED,
                Dispatch.delivered_at <= cutoff,
                ~select(copy.id).where(copy.copy_of_id == Dispatch.id).exists(),
            )
            .order_by(Dispatch.delivered_at)
        )
        found.extend(_Candidate(i, rule.days, rule.paper, cutoff) for i in ids)
    return found


def reason(register_number: str | None, delivered_at: datetime, days: int, paper: str) -> str:
    """Why a letter goes on paper too (Dutch, kept with the copy and in the audit trail)."""
    return (
        f"Het eBox-bericht {register_number or ''} werd op"
        f" {delivered_at.astimezone(BRUSSELS):%d-%m-%Y} afgeleverd en was na {days} dagen"
        f" nog niet gelezen: dezelfde ondertekende brief gaat {paper} op papier."
    ).replace("  ", " ")


def send_unread_on_paper(
    *, now: datetime | None = None, client: MagdaClient | None = None
) -> FallbackResult:
    """Queue a paper copy of every eBox message unread for its type's number of days (the
    periodic job). Idempotent."""
    now = now or utcnow()
    result = FallbackResult()
    with session_scope() as session:
        candidates = _candidates(session, now)
    if not candidates:
        return result
    result.checked = len(candidates)
    refreshed = dispatching.refresh_ebox_statuses(
        [c.dispatch_id for c in candidates], client=client
    )
    if refreshed.errors:
        result.errors.extend(refreshed.errors)
        log.warning(
            "eBox status unknown: no paper copies in this run",
            extra={"errors": refreshed.errors[:5]},
        )
        return result
    for candidate in candidates:
        with session_scope() as session:
            original = session.get(Dispatch, candidate.dispatch_id, with_for_update=True)
            if (
                original is None
                or original.status is not DispatchStatus.DELIVERED
                or original.delivered_at is None
                or original.delivered_at > candidate.cutoff
            ):
                result.read_meanwhile += 1
                continue
            copy = dispatching.queue_paper_copy(
                session,
                original.id,
                paper=candidate.paper,
                reason=reason(
                    original.register_number,
                    original.delivered_at,
                    candidate.days,
                    _PAPER_WORDS[candidate.paper],
                ),
                actor=SYSTEM,
            )
            if copy is not None:
                result.queued.append(copy.id)
    return result


@jobs.handler(FALLBACK_JOB)
def _fallback_job(payload: dict[str, object], context: jobs.JobContext) -> None:
    result = send_unread_on_paper()
    if result.queued:
        log.info("unread eBox messages sent on paper too", extra={"count": len(result.queued)})


jobs.periodic(FALLBACK_JOB, FALLBACK_EVERY)
