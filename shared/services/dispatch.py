"""Dispatch: choose the channel, queue, submit through the Documentendienst, follow delivery.

**Queueing.** `send()` takes one document or thousands and, in the caller's transaction,
locks them, checks each (ready for sending, not already on its way, a reachable recipient),
chooses the channel and queues one `Dispatch` plus one durable job per document. The job
exists exactly when the dispatch does (transactional outbox, `shared.jobs`). A second click
finds the first dispatch and is refused with a clear message; should two clicks ever race past
that check, the unique `(document_id, attempt)` lets only one of them commit.

**Channel.** `choose_channel()` is a pure rule: the eBox when the citizen activated it (or for
an enterprise that has one), otherwise paper, normal or registered as the organisation's
policy for the document type requires (`shared.services.document_types`). When a
citizen's eBox status is not known yet, the submitting job asks MAGDA first (a logged
consultation) and applies the rule to the answer. Staff may override the channel with a
reason; the override is audited and never re-decided.

**Paper copies.** `queue_paper_copy()` sends an eBox message that stayed unread on paper
too (`shared.services.ebox_fallback`): a dispatch of its own (`copy_of_id`), the same signed
PDF, once only; it leaves the document's status and legal sending date as they are.

**Submitting** (job `dispatch.submit`, one per batch of up to `SUBMIT_BATCH` dispatches queued
together) runs in three short steps so that no database lock is held while MAGDA is called:
1. lock the batch's queued dispatches and give each its register number (below); commit;
2. POST each message with its dispatch's own `Idempotency-Key` (and a fresh
   `x-correlation-id`), `SUBMIT_CONCURRENCY` at a time;
3. record the outcomes: each dispatch submitted with its message id, its document dispatched,
   the legal sending date set, a `submitted` delivery event, the audit events appended under
   one lock of the chain; commit.
A crash anywhere is harmless. Before (1) commits, nothing happened. Between (1) and (3) the job
runs again once its lease expires, keeps the numbers already given, and posts again with the
same keys: the Documentendienst answers with the first message instead of sending a second
one. After (3), the job finds the dispatches submitted and does nothing. A permanent refusal
(problem JSON, `x-magda-exceptions`) marks that dispatch failed with MAGDA's reason, which
staff see; the document stays `ready` and can be sent again. Retryable errors (5xx, 429,
time-outs) leave the dispatch queued and make the job raise after recording the others, so it
backs off and tries again the ones still queued (up to `SUBMIT_MAX_ATTEMPTS`, about a day with
the default backoff; then they fail with the reason).

**Register numbers, gapless per organisation and year.** `assign_register_number()` increments
the organisation's `RegisterCounter` row for the year under a row lock (`SELECT … FOR UPDATE`;
SQLite has a single writer) and writes the number on the dispatch *in the same transaction*,
which commits before anything is sent. So a number exists exactly when a dispatch carries it:
a rollback returns the number to the counter, and a commit makes it the dispatch's for good.
It is handed out at submission (step 1), never at queueing, so the register follows the order
of sending. A dispatch that fails after it got its number keeps it and shows in the register as
failed with its reason: the sequence has no holes, and every number is accounted for. The lock
is held only for that short transaction, never during the call to MAGDA, so submissions of one
organisation proceed in parallel apart from this single-row update.

**Tracking** (periodic job `dispatch.poll_statuses`) asks the status of open dispatches: eBox
messages up to 500 per request, paper letters one by one, registered letters through
`bpost-status` (and stores bpost's attestation PDF as proof). New events become
`DeliveryEvent`s (unique per dispatch and source event, so asking twice adds nothing), the
dispatch follows its state machine, and the document becomes delivered or returned. The legal
sending date is the submission date for the eBox and the posting date for paper.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, joinedload

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.errors import DomainError, InvalidInput, NotFound
from shared.i18n import format_date, format_money, gettext
from shared.integrations.magda import (
    Address,
    Attachment,
    MagdaClient,
    MagdaError,
    MagdaRetryableError,
    MessageEvent,
    MessageRecipient,
    OutgoingMessage,
    SubmittedMessage,
)
from shared.integrations.magda import types as magda_types
from shared.models.dispatch import (
    CHANNEL_LABELS,
    Channel,
    DeliveryEvent,
    Dispatch,
    DispatchStatus,
    RegisterCounter,
)
from shared.models.document_types import PaperDelivery
from shared.models.documents import DisputeRight, Document, DocumentStatus
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.models.people import EboxStatus, Organisation, Recipient, RecipientKind
from shared.pdf.cover import CoverPage, CoverPayment, render_cover_page
from shared.protection import unseal
from shared.services import (
    access_codes,
    audit,
    counters,
    dispute_deadlines,
    dispute_office,
    document_types,
    payment_view,
    transitions,
)
from shared.services.payment_references import format_iban, format_ogm
from shared.services.recipients import Requester, magda_client, refresh_ebox_consent
from shared.storage import get_storage
from shared.timeutil import BRUSSELS, today

log = logging.getLogger("zegel.dispatch")

SUBMIT_JOB = "dispatch.submit"
POLL_JOB = "dispatch.poll_statuses"
SUBMIT_MAX_ATTEMPTS = 30
"""With the default backoff (10 s doubling, at most an hour) about a day of retries."""
POLL_BATCH = 500
SUBMIT_BATCH = 100
"""Dispatches per submission job: numbered together, posted concurrently, recorded together."""
SUBMIT_CONCURRENCY = 8
"""Messages one submission job posts at the same time."""

ACTIVE_STATUSES = (
    DispatchStatus.QUEUED,
    DispatchStatus.SUBMITTED,
    DispatchStatus.PRINTED,
    DispatchStatus.POSTED,
    DispatchStatus.DELIVERED,
    DispatchStatus.READ,
)
"""A dispatch in one of these blocks another one for the same document."""
OPEN_STATUSES = (
    DispatchStatus.SUBMITTED,
    DispatchStatus.PRINTED,
    DispatchStatus.POSTED,
    DispatchStatus.DELIVERED,
)
"""Statuses that may still change: the poller asks about these."""

SENDABLE = (DocumentStatus.READY, DocumentStatus.RETURNED, DocumentStatus.FAILED)


# -- the channel rule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    with_acknowledgement: bool
    reason: str
    overridden: bool = False
    provisional: bool = False
    """The citizen's eBox status is unknown: the submitting job asks it and decides again."""


@dataclass(frozen=True)
class ChannelOverride:
    channel: Channel
    reason: str
    with_acknowledgement: bool = False


def paper_choice(rule: document_types.Policy, prefix: str) -> ChannelChoice:
    """Paper as the document type's policy says: normal, or registered (± acknowledgement)."""
    if rule.registered:
        acknowledgement = " met ontvangstbewijs" if rule.acknowledgement else ""
        return ChannelChoice(
            Channel.REGISTERED,
            rule.acknowledgement,
            f"{prefix} Aangetekende zending{acknowledgement}: {rule.paper_why}.",
        )
    return ChannelChoice(Channel.PAPER, False, f"{prefix} Gewone post.")


def choose_channel(
    kind: RecipientKind,
    ebox: EboxStatus,
    document_type: str,
    *,
    ebox_checked_at: datetime | None = None,
    ebox_source: str | None = None,
    policy: document_types.Policy | None = None,
) -> ChannelChoice:
    """The channel for a recipient and document type, with the reason staff see (Dutch).
    `policy`: the organisation's for this type (default: the catalogue's)."""
    rule = policy or document_types.default_policy(document_type)

    learnt = ""
    if ebox_checked_at is not None:
        learnt = (
            f" (volgens {ebox_source or 'MAGDA'}, {ebox_checked_at.astimezone(BRUSSELS):%d-%m-%Y})"
        )
    if kind is RecipientKind.ENTERPRISE:
        if ebox is EboxStatus.NOT_ACTIVATED:
            return paper_choice(rule, f"De onderneming ontvangt geen berichten in de eBox{learnt}.")
        return ChannelChoice(
            Channel.EBOX, False, f"Ondernemingen ontvangen hun post in de eBox{learnt}."
        )
    if kind is RecipientKind.CITIZEN:
        if ebox is EboxStatus.ACTIVATED:
            return ChannelChoice(
                Channel.EBOX, False, f"De burger heeft de eBox geactiveerd{learnt}."
            )
        if ebox is EboxStatus.NOT_ACTIVATED:
            return paper_choice(rule, f"De burger heeft de eBox niet geactiveerd{learnt}.")
        choice = paper_choice(
            rule, "eBox-status nog niet gekend: Zegel vraagt ze op bij het verzenden."
        )
        return ChannelChoice(
            choice.channel, choice.with_acknowledgement, choice.reason, provisional=True
        )
    return paper_choice(rule, "Alleen een postadres is gekend.")


def format_register_number(year: int, sequence: int) -> str:
    """2026/000123."""
    return f"{year}/{sequence:06d}"


# -- checks -------------------------------------------------------------------------------------


def _has_address(recipient: Recipient) -> bool:
    return bool(recipient.street and recipient.postal_code and recipient.city)


def _refusal_for_document(document: Document) -> str | None:
    title = document.title
    status = document.status
    if status in SENDABLE:
        return None
    if status is DocumentStatus.AWAITING_SIGNATURE or (
        status is DocumentStatus.SCREENED and document.signature_required
    ):
        return gettext(
            "‘%(title)s’ is nog niet ondertekend; het kan pas verzonden worden na de laatste"
            " handtekening."
        ) % {"title": title}
    if status in (DocumentStatus.DISPATCHED, DocumentStatus.DELIVERED):
        return gettext("‘%(title)s’ is al verzonden.") % {"title": title}
    return gettext("‘%(title)s’ is nog niet klaar voor verzending (het staat op ‘%(status)s’).") % {
        "title": title,
        "status": document.states.label(status),
    }


def _refusal_for_channel(recipient: Recipient, channel: Channel, title: str) -> str | None:
    if channel is Channel.EBOX:
        if recipient.kind is RecipientKind.CITIZEN and recipient.ssin_sealed:
            return None
        if recipient.kind is RecipientKind.ENTERPRISE and recipient.enterprise_number:
            return None
        return gettext(
            "‘%(title)s’ kan niet naar de eBox: van %(name)s is geen rijksregister- of"
            " ondernemingsnummer gekend."
        ) % {"title": title, "name": recipient.name}
    if not _has_address(recipient):
        return gettext(
            "‘%(title)s’ kan niet op papier: voor %(name)s is geen volledig postadres gekend."
            " Zoek het adres op in het rijksregister."
        ) % {"title": title, "name": recipient.name}
    return None


# -- queueing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    document_id: uuid.UUID
    title: str
    reason: str


@dataclass
class SendResult:
    queued: list[Dispatch] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def send(
    session: Session,
    organisation_id: uuid.UUID,
    document_ids: Sequence[uuid.UUID],
    *,
    actor: audit.Actor,
    staff_user_id: uuid.UUID | None = None,
    override: ChannelOverride | None = None,
    run_id: uuid.UUID | None = None,
) -> SendResult:
    """Queue one dispatch per sendable document, in the caller's transaction.

    Documents that cannot go are listed in `refused` with a Dutch reason; the others are
    queued. Documents of another organisation count as not found. `run_id` names the click
    that sent them, for its progress view (`run_progress`).
    """
    if override is not None and not override.reason.strip():
        raise InvalidInput(gettext("Geef een reden op om het kanaal te wijzigen."))
    wanted = list(dict.fromkeys(document_ids))
    result = SendResult()
    documents = session.scalars(
        select(Document)
        .where(Document.id.in_(wanted), Document.organisation_id == organisation_id)
        .order_by(Document.id)
        .with_for_update()
    ).all()
    by_id = {d.id: d for d in documents}
    for missing in (i for i in wanted if i not in by_id):
        result.refused.append(Refused(missing, "", gettext("Dit document bestaat niet.")))
    if not documents:
        return result
    recipients = {
        r.id: r
        for r in session.scalars(
            select(Recipient).where(Recipient.id.in_({d.recipient_id for d in documents}))
        )
    }
    previous: dict[uuid.UUID, list[Dispatch]] = {}
    for existing in session.scalars(select(Dispatch).where(Dispatch.document_id.in_(list(by_id)))):
        previous.setdefault(existing.document_id, []).append(existing)

    queued_events: list[audit.PendingEvent] = []
    rules: dict[str, document_types.Policy] = {}
    for document in documents:
        title = document.title
        earlier = previous.get(document.id, [])
        active = next((d for d in earlier if d.status in ACTIVE_STATUSES), None)
        if active is not None:
            reason = gettext("‘%(title)s’ wordt al verzonden (%(status)s).") % {
                "title": title,
                "status": active.states.label(active.status),
            }
            result.refused.append(Refused(document.id, title, reason))
            continue
        problem = _refusal_for_document(document)
        if problem is not None:
            result.refused.append(Refused(document.id, title, problem))
            continue
        recipient = recipients[document.recipient_id]
        if override is not None:
            choice = ChannelChoice(
                override.channel,
                override.with_acknowledgement,
                f"Kanaal gekozen door {actor.label}: {override.reason.strip()}",
                overridden=True,
            )
        else:
            if document.document_type not in rules:
                rules[document.document_type] = document_types.policy(
                    session, organisation_id, document.document_type
                )
            choice = choose_channel(
                recipient.kind,
                recipient.ebox_status,
                document.document_type,
                ebox_checked_at=recipient.ebox_checked_at,
                ebox_source=recipient.ebox_source,
                policy=rules[document.document_type],
            )
        problem = _refusal_for_channel(recipient, choice.channel, title)
        if problem is not None and not choice.provisional:
            result.refused.append(Refused(document.id, title, problem))
            continue
        if problem is not None and not (
            recipient.kind is RecipientKind.CITIZEN and recipient.ssin_sealed
        ):
            result.refused.append(Refused(document.id, title, problem))
            continue
        dispatch = Dispatch(
            id=uuid.uuid4(),
            organisation_id=organisation_id,
            document_id=document.id,
            attempt=max((d.attempt for d in earlier), default=0) + 1,
            recipient_name=recipient.name,
            requested_by_id=staff_user_id,
            requested_by_label=actor.label,
            run_id=run_id,
            channel=choice.channel,
            with_acknowledgement=choice.with_acknowledgement,
            channel_reason=choice.reason,
            channel_overridden=choice.overridden,
            status=DispatchStatus.QUEUED,
            idempotency_key=uuid.uuid4().hex,
        )
        result.queued.append(dispatch)
        queued_events.append(
            audit.PendingEvent(
                actor=actor,
                organisation_id=organisation_id,
                action="dispatch.queued",
                object_type="dispatch",
                object_id=dispatch.id,
                status_after=DispatchStatus.QUEUED.value,
                data={
                    "document_id": str(document.id),
                    "channel": choice.channel.value,
                    "reason": choice.reason,
                    "overridden": choice.overridden,
                },
            )
        )
    session.add_all(result.queued)
    try:
        session.flush()
    except SAIntegrityError:
        raise DomainError(
            gettext(
                "Een of meer van deze documenten werden intussen al verzonden; er is niets in"
                " de wachtrij gezet. Vernieuw de pagina en probeer het opnieuw."
            ),
            code="already_dispatched",
        ) from None
    audit.record_many(session, queued_events)
    for start in range(0, len(result.queued), SUBMIT_BATCH):
        batch = result.queued[start : start + SUBMIT_BATCH]
        jobs.enqueue(
            session,
            SUBMIT_JOB,
            {"dispatch_ids": [str(d.id) for d in batch]},
            key=f"{SUBMIT_JOB}:{batch[0].id}",
            organisation_id=organisation_id,
            max_attempts=SUBMIT_MAX_ATTEMPTS,
        )
    return result


def send_one(
    session: Session,
    organisation_id: uuid.UUID,
    document_id: uuid.UUID,
    *,
    actor: audit.Actor,
    staff_user_id: uuid.UUID | None = None,
    override: ChannelOverride | None = None,
) -> Dispatch:
    """Queue one document; a DomainError with the Dutch reason when it cannot go."""
    result = send(
        session,
        organisation_id,
        [document_id],
        actor=actor,
        staff_user_id=staff_user_id,
        override=override,
    )
    if result.refused:
        refused = result.refused[0]
        if not refused.title:
            raise NotFound(refused.reason)
        raise DomainError(refused.reason, code="not_sendable")
    return result.queued[0]


def queue_paper_copy(
    session: Session,
    original_id: uuid.UUID,
    *,
    paper: PaperDelivery,
    reason: str,
    actor: audit.Actor,
) -> Dispatch | None:
    """Queue a paper copy of an eBox dispatch — the same signed PDF, by `paper` — in the
    caller's transaction; None when it has one already. The document keeps its status and
    legal sending date (the eBox delivery stands); the copy is its own dispatch, with its own
    register number and delivery events, and `reason` is audited on the document (its
    timeline) and kept as the copy's channel reason. Once only: the original is locked, and
    `Dispatch.copy_of_id` is unique. A recipient without a postal address gets a copy that
    fails at once with that reason, so that staff see it and it is not tried again."""
    original = session.get(Dispatch, original_id, with_for_update=True)
    if original is None or original.channel is not Channel.EBOX:
        raise NotFound(gettext("Deze verzending bestaat niet."))
    existing = session.scalar(select(Dispatch.id).where(Dispatch.copy_of_id == original.id))
    if existing is not None:
        return None
    document = session.get(Document, original.document_id)
    assert document is not None
    recipient = session.get(Recipient, document.recipient_id)
    assert recipient is not None
    channel = Channel.PAPER if paper is PaperDelivery.NORMAL else Channel.REGISTERED
    attempt = session.scalar(
        select(func.max(Dispatch.attempt)).where(Dispatch.document_id == document.id)
    )
    copy = Dispatch(
        id=uuid.uuid4(),
        organisation_id=original.organisation_id,
        document_id=document.id,
        attempt=(attempt or 0) + 1,
        recipient_name=recipient.name,
        requested_by_label=actor.label,
        channel=channel,
        with_acknowledgement=paper is PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT,
        channel_reason=reason,
        status=DispatchStatus.QUEUED,
        idempotency_key=uuid.uuid4().hex,
        copy_of_id=original.id,
    )
    try:
        with session.begin_nested():
            session.add(copy)
    except SAIntegrityError:
        return None  # another run queued it first
    data = {
        "copy_of": str(original.id),
        "register_number": original.register_number,
        "channel": channel.value,
        "reason": reason,
    }
    events = [
        audit.PendingEvent(
            actor=actor,
            organisation_id=copy.organisation_id,
            action="dispatch.queued",
            object_type="dispatch",
            object_id=copy.id,
            status_after=DispatchStatus.QUEUED.value,
            data={"document_id": str(document.id), **data, "overridden": False},
        ),
        audit.PendingEvent(
            actor=actor,
            organisation_id=copy.organisation_id,
            action="document.paper_copy_queued",
            object_type="document",
            object_id=document.id,
            data={"dispatch_id": str(copy.id), **data},
        ),
    ]
    problem = _refusal_for_channel(recipient, channel, document.title)
    if problem is not None:
        event, delivery = _fail(copy, problem, code="no_address")
        events.append(event)
        session.add(delivery)
    audit.record_many(session, events)
    if problem is None:
        jobs.enqueue(
            session,
            SUBMIT_JOB,
            {"dispatch_ids": [str(copy.id)]},
            key=f"{SUBMIT_JOB}:{copy.id}",
            organisation_id=copy.organisation_id,
            max_attempts=SUBMIT_MAX_ATTEMPTS,
        )
    return copy


# -- progress -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    queued: int
    sent: int
    failed: int

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed

    @property
    def done(self) -> bool:
        return self.queued == 0


def progress(
    session: Session, organisation_id: uuid.UUID, dispatch_ids: Sequence[uuid.UUID]
) -> Progress:
    """How many of these dispatches wait, went out, or failed (for the live progress view)."""
    counts: dict[DispatchStatus, int] = dict(
        session.execute(
            select(Dispatch.status, func.count())
            .where(Dispatch.organisation_id == organisation_id, Dispatch.id.in_(list(dispatch_ids)))
            .group_by(Dispatch.status)
        ).all()
    )
    queued = counts.get(DispatchStatus.QUEUED, 0)
    failed = counts.get(DispatchStatus.FAILED, 0)
    return Progress(queued, sum(counts.values()) - queued - failed, failed)


def run_exists(session: Session, organisation_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    """Whether this "Verzenden" click already queued something (a second post of its form)."""
    found = session.scalar(
        select(Dispatch.id)
        .where(Dispatch.organisation_id == organisation_id, Dispatch.run_id == run_id)
        .limit(1)
    )
    return found is not None


def run_progress(session: Session, organisation_id: uuid.UUID, run_id: uuid.UUID) -> Progress:
    """`progress` of everything one "Verzenden" click queued; NotFound for an unknown run."""
    ids = list(
        session.scalars(
            select(Dispatch.id).where(
                Dispatch.organisation_id == organisation_id, Dispatch.run_id == run_id
            )
        )
    )
    if not ids:
        raise NotFound(gettext("Deze verzending bestaat niet."))
    return progress(session, organisation_id, ids)


# -- register numbers ---------------------------------------------------------------------------


def _lock_counter(session: Session, organisation_id: uuid.UUID, year: int) -> RegisterCounter:
    """The organisation's counter row for `year`, locked until the transaction ends."""
    return counters.lock_year(session, RegisterCounter, organisation_id, year)


def assign_register_number(
    session: Session,
    dispatch: Dispatch,
    year: int | None = None,
    *,
    counter: RegisterCounter | None = None,
) -> str:
    """Give `dispatch` the next number of its organisation's register for `year` (default:
    this year in Brussels), in the caller's transaction. See the module docstring: the counter
    row stays locked until that transaction ends, and the number commits with the dispatch.
    `counter`: the row, already locked by `_lock_counter` (numbering a batch)."""
    year = year or today().year
    counter = counter or _lock_counter(session, dispatch.organisation_id, year)
    counter.last_sequence += 1
    dispatch.register_year = year
    dispatch.register_sequence = counter.last_sequence
    return format_register_number(year, counter.last_sequence)


# -- submitting ---------------------------------------------------------------------------------

SYSTEM = audit.Actor.system("Zegel (verzending)")


@dataclass(frozen=True)
class _Prepared:
    """Everything step 2 needs, read in step 1 (no ORM objects cross transactions)."""

    dispatch_id: uuid.UUID
    idempotency_key: str
    register_number: str
    channel: Channel
    with_acknowledgement: bool
    subject: str
    organisation_name: str
    recipient: MessageRecipient
    pdf_sha256: str
    file_name: str
    portal_url: str
    access_code: str | None
    payment: CoverPayment | None = None
    """How to pay by transfer, on the paper letter's cover page."""


@dataclass(frozen=True)
class _Outcome:
    dispatch_id: uuid.UUID
    submitted: SubmittedMessage | None = None
    error: MagdaError | None = None


def _portal_url(document: Document) -> str:
    return f"{get_settings().portal_base_url.rstrip('/')}/d/{document.public_token}"


def _postal_address(recipient: Recipient) -> Address | None:
    if not _has_address(recipient):
        return None
    return Address(
        street=recipient.street or "",
        house_number="",
        postal_code=recipient.postal_code or "",
        municipality=recipient.city or "",
        country_code=recipient.country or "BE",
    )


def _message_recipient(recipient: Recipient, channel: Channel) -> MessageRecipient:
    if channel is Channel.EBOX:
        if recipient.kind is RecipientKind.ENTERPRISE:
            return MessageRecipient(
                name=recipient.name,
                ebox_type="enterprise",
                enterprise_number=recipient.enterprise_number,
            )
        assert recipient.ssin_sealed is not None
        return MessageRecipient(
            name=recipient.name, ebox_type="citizen", ssin=unseal(recipient.ssin_sealed)
        )
    return MessageRecipient(name=recipient.name, postal_address=_postal_address(recipient))


def _fail(
    dispatch: Dispatch, reason: str, *, code: str
) -> tuple[audit.PendingEvent, DeliveryEvent]:
    dispatch.failure_reason = reason
    event = transitions.prepare(
        dispatch, DispatchStatus.FAILED, actor=SYSTEM, data={"reason": reason, "code": code}
    )
    delivery = DeliveryEvent(
        id=uuid.uuid4(),
        organisation_id=dispatch.organisation_id,
        dispatch_id=dispatch.id,
        kind="failed",
        occurred_at=utcnow(),
        source="zegel",
        source_event_id=f"zegel-failed-{dispatch.id}",
        detail={"reason": reason, "code": code},
    )
    return event, delivery


def _decide_channel(dispatch_id: uuid.UUID, client: MagdaClient) -> None:
    """For a citizen whose eBox status is unknown: ask MAGDA (logged) and apply the rule, in
    a transaction of its own that locks only this dispatch. A retryable error propagates;
    another keeps the provisional channel; no usable channel at all fails the dispatch."""
    with session_scope() as session:
        dispatch = session.get(Dispatch, dispatch_id, with_for_update=True)
        if dispatch is None or dispatch.status is not DispatchStatus.QUEUED:
            return
        document = session.get(Document, dispatch.document_id)
        assert document is not None
        recipient = session.get(Recipient, document.recipient_id)
        assert recipient is not None
        requester = Requester(
            dispatch.organisation_id,
            dispatch.requested_by_id,
            f"{dispatch.requested_by_label or 'Zegel'} (verzending)",
        )
        try:
            refresh_ebox_consent(
                session,
                recipient,
                requester,
                purpose=f"Kanaal kiezen voor de verzending van ‘{document.title}’",
                client=client,
                document_type=document.document_type,
            )
        except MagdaRetryableError:
            raise
        except (MagdaError, DomainError) as error:
            log.info(
                "eBox consent unavailable; provisional channel kept", extra={"error": str(error)}
            )
        if recipient.ebox_status is not EboxStatus.UNKNOWN:
            choice = choose_channel(
                recipient.kind,
                recipient.ebox_status,
                document.document_type,
                ebox_checked_at=recipient.ebox_checked_at,
                ebox_source=recipient.ebox_source,
                policy=document_types.policy(
                    session, dispatch.organisation_id, document.document_type
                ),
            )
            audit.record(
                session,
                actor=SYSTEM,
                organisation_id=dispatch.organisation_id,
                action="dispatch.channel_decided",
                object_type="dispatch",
                object_id=dispatch.id,
                data={
                    "from": dispatch.channel.value,
                    "to": choice.channel.value,
                    "reason": choice.reason,
                },
            )
            dispatch.channel = choice.channel
            dispatch.with_acknowledgement = choice.with_acknowledgement
            dispatch.channel_reason = choice.reason
        problem = _refusal_for_channel(recipient, dispatch.channel, document.title)
        if problem is not None:
            event, delivery = _fail(dispatch, problem, code="no_channel")
            session.add(delivery)
            audit.record_many(session, [event])


def _needs_decision(dispatch: Dispatch, recipient: Recipient) -> bool:
    return (
        not dispatch.channel_overridden
        and dispatch.copy_of_id is None
        and dispatch.register_sequence is None
        and recipient.kind is RecipientKind.CITIZEN
        and recipient.ebox_status is EboxStatus.UNKNOWN
    )


def _prepare(session: Session, dispatch_ids: Sequence[uuid.UUID]) -> list[_Prepared]:
    """Step 1: lock the batch's queued dispatches, number them, gather what the messages need."""
    dispatches = session.scalars(
        select(Dispatch)
        .where(Dispatch.id.in_(list(dispatch_ids)), Dispatch.status == DispatchStatus.QUEUED)
        .order_by(Dispatch.created_at, Dispatch.id)
        .with_for_update()
    ).all()
    if not dispatches:
        return []
    documents = {
        d.id: d
        for d in session.scalars(
            select(Document).where(Document.id.in_([x.document_id for x in dispatches]))
        )
    }
    recipients = {
        r.id: r
        for r in session.scalars(
            select(Recipient).where(Recipient.id.in_({d.recipient_id for d in documents.values()}))
        )
    }
    organisations = {
        o.id: o
        for o in session.scalars(
            select(Organisation).where(Organisation.id.in_({d.organisation_id for d in dispatches}))
        )
    }
    payment_requests = {
        p.document_id: p
        for p in session.scalars(
            select(PaymentRequest).where(
                PaymentRequest.document_id.in_([d.document_id for d in dispatches])
            )
        )
    }
    prepared = []
    year = today().year
    counters: dict[uuid.UUID, RegisterCounter] = {}
    for dispatch in dispatches:
        document = documents[dispatch.document_id]
        recipient = recipients[document.recipient_id]
        if dispatch.register_sequence is None:
            counter = counters.get(dispatch.organisation_id)
            if counter is None:
                counter = counters[dispatch.organisation_id] = _lock_counter(
                    session, dispatch.organisation_id, year
                )
            number = assign_register_number(session, dispatch, year, counter=counter)
        else:
            assert dispatch.register_year is not None
            number = format_register_number(dispatch.register_year, dispatch.register_sequence)
        if dispatch.channel is not Channel.EBOX and document.access_code is None:
            document.access_code = access_codes.generate()
        prepared.append(
            _Prepared(
                dispatch_id=dispatch.id,
                idempotency_key=dispatch.idempotency_key,
                register_number=number,
                channel=dispatch.channel,
                with_acknowledgement=dispatch.with_acknowledgement,
                subject=document.title,
                organisation_name=organisations[dispatch.organisation_id].name,
                recipient=_message_recipient(recipient, dispatch.channel),
                pdf_sha256=document.current_sha256,
                file_name=document.file_name,
                portal_url=_portal_url(document),
                access_code=access_codes.display(document.access_code)
                if document.access_code and dispatch.channel is not Channel.EBOX
                else None,
                payment=_cover_payment(
                    payment_requests.get(document.id), organisations[dispatch.organisation_id]
                )
                if dispatch.channel is not Channel.EBOX
                else None,
            )
        )
    session.flush()
    return prepared


def _cover_payment(
    request: PaymentRequest | None, organisation: Organisation
) -> CoverPayment | None:
    """The transfer details for the cover page, while the request asks for money."""
    if request is None or request.status not in (
        PaymentRequestStatus.OPEN,
        PaymentRequestStatus.PARTIALLY_PAID,
    ):
        return None
    return CoverPayment(
        amount=format_money(request.amount_cents),
        iban=format_iban(request.iban),
        bic=request.bic,
        beneficiary=organisation.name,
        structured_communication=format_ogm(request.structured_communication),
        due_date=format_date(request.due_date),
        epc_payload=payment_view.epc_for(request, organisation.name, request.amount_cents),
    )


def build_message(prepared: _Prepared) -> OutgoingMessage:
    """The Documentendienst message: the signed PDF unchanged, on paper behind a cover page
    with the portal link as QR code and the access code."""
    attachments = [Attachment(prepared.file_name, get_storage().get(prepared.pdf_sha256))]
    if prepared.channel is not Channel.EBOX:
        address = prepared.recipient.postal_address
        assert address is not None
        assert prepared.access_code is not None
        portal = get_settings().portal_base_url.rstrip("/")
        cover = render_cover_page(
            CoverPage(
                sender_name=prepared.organisation_name,
                recipient_name=prepared.recipient.name,
                recipient_address=[
                    address.street_line,
                    f"{address.postal_code} {address.municipality}",
                ],
                portal_url=prepared.portal_url,
                code_url=f"{portal}/code",
                access_code=prepared.access_code,
                register_number=prepared.register_number,
                subject=prepared.subject,
                payment=prepared.payment,
            )
        )
        attachments.insert(0, Attachment("voorblad.pdf", cover))
    return OutgoingMessage(
        reference=prepared.register_number,
        subject_nl=prepared.subject,
        channel="EBOX" if prepared.channel is Channel.EBOX else "PAPER",
        delivery_method="registered" if prepared.channel is Channel.REGISTERED else "normal",
        acknowledgement_of_receipt=prepared.with_acknowledgement,
        recipient=prepared.recipient,
        attachments=tuple(attachments),
        body_nl=(
            f"{prepared.organisation_name} stuurt u ‘{prepared.subject}’. U vindt het document"
            " ook in het portaal via de link bij dit bericht."
        ),
        portal_url=prepared.portal_url,
        sender_organisation=prepared.organisation_name,
    )


def _post(client: MagdaClient, prepared: _Prepared) -> _Outcome:
    """Step 2 for one message (runs in a thread of the batch's pool)."""
    try:
        submitted = client.send_message(
            build_message(prepared), idempotency_key=prepared.idempotency_key
        )
    except MagdaError as error:
        return _Outcome(prepared.dispatch_id, error=error)
    return _Outcome(prepared.dispatch_id, submitted=submitted)


def _record(session: Session, outcomes: Sequence[_Outcome], *, give_up: bool) -> None:
    """Step 3: record every outcome of the batch, with its audit events, in one transaction.
    Retryable failures stay queued (or fail, when `give_up`)."""
    by_id = {o.dispatch_id: o for o in outcomes}
    dispatches = session.scalars(
        select(Dispatch)
        .where(Dispatch.id.in_(list(by_id)), Dispatch.status == DispatchStatus.QUEUED)
        .order_by(Dispatch.id)
        .with_for_update()
    ).all()
    documents = {
        d.id: d
        for d in session.scalars(
            select(Document).where(Document.id.in_([x.document_id for x in dispatches]))
        )
    }
    pending: list[audit.PendingEvent] = []
    deliveries: list[DeliveryEvent] = []
    answers: list[Document] = []
    rules: dict[uuid.UUID, dict[str, Any]] = {}
    for dispatch in dispatches:
        outcome = by_id[dispatch.id]
        error = outcome.error
        if error is not None:
            if isinstance(error, MagdaRetryableError) and not give_up:
                continue
            reason = error.reason
            if isinstance(error, MagdaRetryableError):
                reason = gettext(
                    "MAGDA bleef onbereikbaar na %(attempts)s pogingen; de verzending is"
                    " gestopt: %(reason)s"
                ) % {"attempts": SUBMIT_MAX_ATTEMPTS, "reason": error.reason}
            event, delivery = _fail(dispatch, reason, code=error.code)
            pending.append(event)
            deliveries.append(delivery)
            continue
        submitted = outcome.submitted
        assert submitted is not None
        document = documents[dispatch.document_id]
        dispatch.external_message_id = submitted.message_id
        dispatch.correlation_id = submitted.correlation_id
        dispatch.submitted_at = submitted.submitted_at
        data = {
            "register_number": dispatch.register_number,
            "message_id": submitted.message_id,
            "channel": dispatch.channel.value,
        }
        pending.append(
            transitions.prepare(dispatch, DispatchStatus.SUBMITTED, actor=SYSTEM, data=data)
        )
        if dispatch.copy_of_id is None:  # a paper copy leaves the document as it was
            if document.status is not DocumentStatus.DISPATCHED:
                pending.append(
                    transitions.prepare(
                        document, DocumentStatus.DISPATCHED, actor=SYSTEM, data=data
                    )
                )
                if document.document_type == dispute_office.ANSWER_DOCUMENT_TYPE:
                    answers.append(document)
            document.sent_at = submitted.submitted_at
            document.legal_sending_date = submitted.submitted_at.astimezone(BRUSSELS).date()
            _keep_dispute_rule(session, document, rules)
        deliveries.append(
            DeliveryEvent(
                id=uuid.uuid4(),
                organisation_id=dispatch.organisation_id,
                dispatch_id=dispatch.id,
                kind="submitted",
                occurred_at=submitted.submitted_at,
                source="documentendienst",
                source_event_id=f"{submitted.message_id}-{magda_types.SUBMITTED}",
                detail={"replayed": submitted.replayed, "correlation_id": submitted.correlation_id},
            )
        )
    session.add_all(deliveries)
    # Write the batch's rows first: the audit chain's lock, taken by record_many, is then held
    # only for the audit rows and the commit, not while the other workers wait on this flush.
    session.flush()
    if pending:
        audit.record_many(session, pending)
    for answer in answers:  # the answer to a dispute has gone: the dispute is closed
        dispute_office.answer_sent(session, answer)


def _keep_dispute_rule(
    session: Session, document: Document, rules: dict[uuid.UUID, dict[str, Any]]
) -> None:
    """A document with a dispute right keeps the rule it is sent with: a later change of the
    organisation's terms does not move its deadline. `rules`: the organisations' changes,
    read once per batch."""
    if document.dispute_right is DisputeRight.NONE or document.dispute_rule is not None:
        return
    if document.organisation_id not in rules:
        rules[document.organisation_id] = dispute_deadlines.organisation_rules(
            session, document.organisation_id
        )
    rule = dispute_deadlines.current_rule(session, document, rules[document.organisation_id])
    if rule is not None:
        document.dispute_rule = dispute_deadlines.kept_rule(rule)


def submit_dispatches(
    dispatch_ids: Sequence[uuid.UUID], *, attempt: int = 1, client: MagdaClient | None = None
) -> int:
    """Submit queued dispatches (the `dispatch.submit` job); see the module docstring for the
    three steps. Idempotent. Returns how many were submitted now; raises MagdaRetryableError
    (so the job backs off) when some could not be submitted yet and attempts remain."""
    client = client or magda_client()
    give_up = attempt >= SUBMIT_MAX_ATTEMPTS
    with session_scope() as session:
        undecided = [
            dispatch.id
            for dispatch, recipient in session.execute(
                select(Dispatch, Recipient)
                .join(Document, Document.id == Dispatch.document_id)
                .join(Recipient, Recipient.id == Document.recipient_id)
                .where(
                    Dispatch.id.in_(list(dispatch_ids)),
                    Dispatch.status == DispatchStatus.QUEUED,
                )
            )
            if _needs_decision(dispatch, recipient)
        ]
    retry: MagdaRetryableError | None = None
    for dispatch_id in undecided:
        try:
            _decide_channel(dispatch_id, client)
        except MagdaRetryableError as error:
            if not give_up:
                raise
            retry = error
    with session_scope() as session:
        prepared = _prepare(session, dispatch_ids)
    if not prepared:
        return 0
    with ThreadPoolExecutor(
        max_workers=min(SUBMIT_CONCURRENCY, len(prepared)), thread_name_prefix="magda-post"
    ) as pool:
        outcomes = list(pool.map(lambda p: _post(client, p), prepared))
    with session_scope() as session:
        _record(session, outcomes, give_up=give_up)
    for outcome in outcomes:
        if isinstance(outcome.error, MagdaRetryableError):
            retry = outcome.error
    if retry is not None and not give_up:
        raise retry
    return sum(o.submitted is not None for o in outcomes)


@jobs.handler(SUBMIT_JOB)
def _submit_job(payload: dict[str, object], context: jobs.JobContext) -> None:
    raw = payload.get("dispatch_ids") or [payload["dispatch_id"]]
    assert isinstance(raw, list)
    submit_dispatches([uuid.UUID(str(i)) for i in raw], attempt=context.attempt)


# -- tracking -----------------------------------------------------------------------------------

_EVENT_KINDS = {
    magda_types.SUBMITTED: "submitted",
    magda_types.DELIVERED_TO_EBOX: "delivered_to_ebox",
    magda_types.READ: "read",
    magda_types.PRINTED: "printed",
    magda_types.POSTED: "posted",
    magda_types.DELIVERED: "delivered",
    magda_types.RETURNED: "returned",
    magda_types.FAILED: "failed",
}
EVENT_LABELS = {
    "submitted": "aangeboden aan de Documentendienst",
    "delivered_to_ebox": "afgeleverd in de eBox",
    "read": "gelezen",
    "printed": "afgedrukt",
    "posted": "gepost",
    "delivered": "afgeleverd",
    "returned": "teruggestuurd naar de afzender",
    "failed": "mislukt",
}
_TARGETS = {
    "delivered_to_ebox": DispatchStatus.DELIVERED,
    "read": DispatchStatus.READ,
    "printed": DispatchStatus.PRINTED,
    "posted": DispatchStatus.POSTED,
    "delivered": DispatchStatus.DELIVERED,
    "returned": DispatchStatus.RETURNED,
    "failed": DispatchStatus.FAILED,
}
_DOCUMENT_TARGETS = {
    DispatchStatus.DELIVERED: DocumentStatus.DELIVERED,
    DispatchStatus.RETURNED: DocumentStatus.RETURNED,
    DispatchStatus.FAILED: DocumentStatus.FAILED,
}


@dataclass
class PollResult:
    asked: int = 0
    events: int = 0
    attestations: int = 0
    errors: list[str] = field(default_factory=list)


def _apply_events(
    session: Session,
    dispatch: Dispatch,
    events: Sequence[MessageEvent],
    source: str,
) -> int:
    known = set(
        session.scalars(
            select(DeliveryEvent.source_event_id).where(DeliveryEvent.dispatch_id == dispatch.id)
        )
    )
    added = 0
    for event in sorted(events, key=lambda e: e.occurred_at):
        kind = _EVENT_KINDS.get(event.type)
        if kind is None or event.event_id in known or kind == "submitted":
            continue
        known.add(event.event_id)
        session.add(
            DeliveryEvent(
                id=uuid.uuid4(),
                organisation_id=dispatch.organisation_id,
                dispatch_id=dispatch.id,
                kind=kind,
                occurred_at=event.occurred_at,
                source=source,
                source_event_id=event.event_id,
                detail=event.detail,
            )
        )
        added += 1
        document = session.get(Document, dispatch.document_id)
        assert document is not None
        copy = dispatch.copy_of_id is not None
        if kind == "posted" and dispatch.channel is not Channel.EBOX and not copy:
            document.legal_sending_date = event.occurred_at.astimezone(BRUSSELS).date()
        target = _TARGETS[kind]
        if not dispatch.states.allowed(dispatch.status, target):
            log.info(
                "delivery event does not move the dispatch",
                extra={
                    "dispatch_id": str(dispatch.id),
                    "kind": kind,
                    "status": dispatch.status.value,
                },
            )
            continue
        if target in (DispatchStatus.DELIVERED, DispatchStatus.RETURNED):
            dispatch.delivered_at = event.occurred_at
        transitions.transition(
            session, dispatch, target, actor=SYSTEM, data={"event": kind, "source": source}
        )
        document_target = None if copy else _DOCUMENT_TARGETS.get(target)
        if document_target is not None and document.states.allowed(
            document.status, document_target
        ):
            transitions.transition(
                session,
                document,
                document_target,
                actor=SYSTEM,
                data={"dispatch_id": str(dispatch.id), "event": kind},
            )
    return added


def _keep_attestation(session: Session, dispatch: Dispatch, client: MagdaClient) -> bool:
    if dispatch.attestation_sha256 is not None or dispatch.external_message_id is None:
        return False
    content = client.bpost_attestation(dispatch.external_message_id)
    dispatch.attestation_sha256 = get_storage().put(content)
    audit.record(
        session,
        actor=SYSTEM,
        organisation_id=dispatch.organisation_id,
        action="dispatch.attestation_kept",
        object_type="dispatch",
        object_id=dispatch.id,
        data={"sha256": dispatch.attestation_sha256},
    )
    return True


def _poll_ebox(
    ebox: Sequence[tuple[uuid.UUID, str]], client: MagdaClient, result: PollResult
) -> None:
    for start in range(0, len(ebox), POLL_BATCH):
        chunk = ebox[start : start + POLL_BATCH]
        try:
            statuses = {s.message_id: s for s in client.message_statuses([m for _, m in chunk])}
        except MagdaError as error:
            result.errors.append(error.reason)
            continue
        with session_scope() as session:
            for dispatch_id, message_id in chunk:
                result.asked += 1
                status = statuses.get(str(message_id))
                dispatch = session.get(Dispatch, dispatch_id, with_for_update=True)
                if dispatch is None:
                    continue
                dispatch.last_polled_at = utcnow()
                if status is not None:
                    result.events += _apply_events(
                        session, dispatch, status.events, "documentendienst"
                    )


def refresh_ebox_statuses(
    dispatch_ids: Sequence[uuid.UUID], *, client: MagdaClient | None = None
) -> PollResult:
    """Ask MAGDA now for the status of these eBox dispatches and record what is new (as the
    periodic poll does); `errors` lists the requests that failed."""
    result = PollResult()
    with session_scope() as session:
        rows = session.execute(
            select(Dispatch.id, Dispatch.external_message_id).where(
                Dispatch.id.in_(list(dispatch_ids)),
                Dispatch.channel == Channel.EBOX,
                Dispatch.external_message_id.is_not(None),
            )
        ).all()
    if rows:
        _poll_ebox(
            [(r.id, str(r.external_message_id)) for r in rows], client or magda_client(), result
        )
    return result


def poll_statuses(*, client: MagdaClient | None = None, limit: int | None = None) -> PollResult:
    """Ask the status of every open dispatch and record what is new (the periodic job)."""
    result = PollResult()
    with session_scope() as session:
        rows = session.execute(
            select(Dispatch.id, Dispatch.channel, Dispatch.external_message_id)
            .where(
                Dispatch.status.in_(OPEN_STATUSES)
                | (
                    (Dispatch.channel == Channel.REGISTERED)
                    & Dispatch.status.in_((DispatchStatus.DELIVERED, DispatchStatus.RETURNED))
                    & Dispatch.attestation_sha256.is_(None)
                ),
                Dispatch.external_message_id.is_not(None),
            )
            .order_by(Dispatch.last_polled_at.is_not(None), Dispatch.last_polled_at)
            .limit(limit or 100_000)
        ).all()
    if not rows:
        return result
    client = client or magda_client()
    ebox = [(r.id, str(r.external_message_id)) for r in rows if r.channel is Channel.EBOX]
    paper = [(r.id, r.external_message_id) for r in rows if r.channel is Channel.PAPER]
    registered = [(r.id, r.external_message_id) for r in rows if r.channel is Channel.REGISTERED]

    _poll_ebox(ebox, client, result)

    for dispatch_id, message_id in paper:
        result.asked += 1
        try:
            status = client.message_status(str(message_id))
        except MagdaError as error:
            result.errors.append(error.reason)
            continue
        with session_scope() as session:
            dispatch = session.get(Dispatch, dispatch_id, with_for_update=True)
            if dispatch is not None:
                dispatch.last_polled_at = utcnow()
                result.events += _apply_events(session, dispatch, status.events, "documentendienst")

    for dispatch_id, message_id in registered:
        result.asked += 1
        try:
            status = client.message_status(str(message_id))
            bpost = client.bpost_status(str(message_id))
        except MagdaError as error:
            result.errors.append(error.reason)
            continue
        with session_scope() as session:
            dispatch = session.get(Dispatch, dispatch_id, with_for_update=True)
            if dispatch is None:
                continue
            dispatch.last_polled_at = utcnow()
            events = {e.event_id: e for e in (*status.events, *bpost.events)}
            result.events += _apply_events(session, dispatch, list(events.values()), "bpost")
            if bpost.attestation_available:
                try:
                    result.attestations += _keep_attestation(session, dispatch, client)
                except MagdaError as error:
                    result.errors.append(error.reason)
    return result


@jobs.handler(POLL_JOB)
def _poll_job(payload: dict[str, object], context: jobs.JobContext) -> None:
    polled = poll_statuses()
    if polled.errors:
        log.warning("status polling met errors", extra={"errors": polled.errors[:5]})


jobs.periodic(POLL_JOB, timedelta(seconds=get_settings().magda_status_poll_seconds))


# -- the document's delivery history ------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    label: str
    register_number: str | None
    channel: str


def timeline(
    session: Session, organisation_id: uuid.UUID, document_id: uuid.UUID
) -> list[TimelineEntry]:
    """Every delivery event of every dispatch of a document, oldest first."""
    rows = session.scalars(
        select(Dispatch)
        .where(Dispatch.organisation_id == organisation_id, Dispatch.document_id == document_id)
        .options(joinedload(Dispatch.events))
        .order_by(Dispatch.attempt)
    ).unique()
    entries = []
    for dispatch in rows:
        channel = CHANNEL_LABELS[dispatch.channel]
        if dispatch.copy_of_id is not None:
            channel = f"{channel} (papieren kopie van het eBox-bericht)"
        entries.append(
            TimelineEntry(dispatch.created_at, "in wachtrij", dispatch.register_number, channel)
        )
        for event in dispatch.events:
            entries.append(
                TimelineEntry(
                    event.occurred_at,
                    EVENT_LABELS.get(event.kind, event.kind),
                    dispatch.register_number,
                    channel,
                )
            )
    return sorted(entries, key=lambda e: e.occurred_at)
