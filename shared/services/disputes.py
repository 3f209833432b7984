"""Filing a dispute (bezwaar, betwisting), online or on paper, into one model.

`file_dispute()` is the one way a dispute comes in: the portal calls it for the citizen
(channel `portal`), the front office for a letter brought to the desk (`desk`) or received by
post (`post`). In the caller's transaction it:
- checks the input: grounds required (not blank), contact details well formed, attachments
  (`shared.services.attachments`: type by content, re-encoded images, PDFs without active
  content, size and count limits);
- finds the deadline (`shared.services.dispute_deadlines`) and decides whether the dispute is
  late: the portal uses the moment of receipt and refuses a late dispute; paper uses the
  postmark date when there is one, else the date of receipt, and staff may register a late
  dispute, which is then marked late;
- numbers it per organisation and year (`B-2026-00001`) under a row lock of its
  `DisputeCounter`, as the register numbers in `shared.services.dispatch`: the number commits
  with the dispute or returns to the counter on rollback, so the sequence has no holes;
- derives the competent service (its queue in the back office) and the answer deadline;
- stores the attachments by hash, records `dispute.received` in the audit trail (the portal
  timeline and the lead-time report read it), queues the receipt e-mail when there is an
  address (a durable job, `disputes.receipt_mail`), and calls the payment hook.

**Double submission.** A form carries a `submission_key` generated when it was first shown;
the dispute stores it, unique per document. A second submission with the same key (double
click, back button, the confirmation page open in two tabs) returns the first dispute,
`created=False`, whatever it carries. Should two requests race past the look-up, the unique
constraint lets one commit and the other finds it. A second form opened separately has its own
key; if it brings the same grounds through the same channel while the first is open, it also
returns the first dispute instead of a copy.

**Payment.** Where the organisation's policy for the document type says so
(`document_types.Policy.dispute_suspends_payment`), a new dispute suspends the document's open
payment request in the same transaction; the decision or the withdrawal lets it run again
(`dispute_office`).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import utcnow
from shared.errors import FieldErrors, InvalidInput, NotFound
from shared.i18n import gettext as _
from shared.integrations.mail.client import valid_address
from shared.models.disputes import (
    Dispute,
    DisputeAttachment,
    DisputeChannel,
    DisputeCounter,
    DisputeStatus,
)
from shared.models.documents import DisputeRight, Document, DocumentStatus
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.services import attachments, audit, counters, document_types, payments
from shared.services.attachments import CheckedFile, Upload
from shared.services.dispute_deadlines import DisputeDeadline, answer_due, deadline_for
from shared.timeutil import BRUSSELS, today

RECEIPT_MAIL_JOB = "disputes.receipt_mail"
DISPUTABLE = (DocumentStatus.DISPATCHED, DocumentStatus.DELIVERED, DocumentStatus.RETURNED)
"""A document can be disputed once it has been sent."""
OPEN_STATUSES = (DisputeStatus.RECEIVED, DisputeStatus.IN_PROGRESS, DisputeStatus.HEARING_PLANNED)
SUSPENDABLE = (PaymentRequestStatus.OPEN, PaymentRequestStatus.PARTIALLY_PAID)
"""A payment request a dispute can suspend: money is still asked for."""
_PHONE = re.compile(r"^\+?[0-9 ./()-]{6,30}$")


def new_submission_key() -> str:
    """The key a form carries from the moment it is shown (see the module docstring)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class DisputeInput:
    """What the citizen (or the employee, from the letter) gives."""

    grounds: str
    hearing_requested: bool = False
    contact_email: str | None = None
    contact_phone: str | None = None
    uploads: Sequence[Upload] = ()
    """Files as they arrived: checked here."""
    files: Sequence[CheckedFile] = ()
    """Files checked before (kept across the portal's confirmation step)."""
    submission_key: str | None = None


@dataclass(frozen=True)
class Filed:
    dispute: Dispute
    created: bool
    """False when this submission found an earlier one (double submission)."""


def citizen_actor(document: Document) -> audit.Actor:
    """The recipient of `document` as actor (by their recipient id, never a national number)."""
    return audit.Actor(type="citizen", id=str(document.recipient_id), label="burger")


def late_message(deadline: DisputeDeadline) -> str:
    from shared.i18n import format_date

    return _(
        "De termijn om bezwaar in te dienen liep af op %(date)s. Online indienen kan niet meer;"
        " neem contact op met de dienst."
    ) % {"date": format_date(deadline.last_day)}


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def check_input(data: DisputeInput) -> tuple[str, str | None, str | None]:
    """The grounds and contact details, cleaned; FieldErrors (every field at once) otherwise."""
    settings = get_settings()
    errors: dict[str, str] = {}
    grounds = (data.grounds or "").strip()
    if not grounds:
        errors["gronden"] = _("Schrijf waarom u het niet eens bent met de beslissing.")
    elif len(grounds) > settings.dispute_grounds_max_chars:
        errors["gronden"] = _("Uw motivering is te lang (ten hoogste %(count)d tekens).") % {
            "count": settings.dispute_grounds_max_chars
        }
    email = _clean(data.contact_email)
    if email is not None and (len(email) > 254 or not valid_address(email)):
        errors["email"] = _("Dit e-mailadres is niet geldig.")
    phone = _clean(data.contact_phone)
    if phone is not None and not _PHONE.match(phone):
        errors["telefoon"] = _("Dit telefoonnummer is niet geldig.")
    if data.submission_key is not None and not (8 <= len(data.submission_key) <= 64):
        raise InvalidInput(_("Dit formulier is niet geldig. Open het opnieuw."))
    if errors:
        raise FieldErrors(errors)
    return grounds, email, phone


def _existing(
    session: Session, document: Document, data: DisputeInput, grounds: str, channel: DisputeChannel
) -> Dispute | None:
    if data.submission_key:
        found = session.scalars(
            select(Dispute).where(
                Dispute.document_id == document.id,
                Dispute.submission_key == data.submission_key,
            )
        ).one_or_none()
        if found is not None:
            return found
    for candidate in session.scalars(
        select(Dispute).where(
            Dispute.document_id == document.id,
            Dispute.channel == channel,
            Dispute.status.in_(OPEN_STATUSES),
        )
    ):
        if candidate.grounds.strip() == grounds:
            return candidate
    return None


def _lock_counter(session: Session, organisation_id: uuid.UUID, year: int) -> DisputeCounter:
    """The organisation's counter row for `year`, locked until the transaction ends."""
    return counters.lock_year(session, DisputeCounter, organisation_id, year)


def format_number(year: int, sequence: int) -> str:
    return f"B-{year}-{sequence:05d}"


def next_number(session: Session, organisation_id: uuid.UUID, year: int) -> str:
    """The organisation's next dispute number for `year`, in the caller's transaction."""
    counter = _lock_counter(session, organisation_id, year)
    counter.last_sequence += 1
    return format_number(year, counter.last_sequence)


def file_dispute(
    session: Session,
    document: Document,
    data: DisputeInput,
    *,
    channel: DisputeChannel,
    actor: audit.Actor,
    received_at: datetime | None = None,
    postmark_date: date | None = None,
    registered_by_id: uuid.UUID | None = None,
) -> Filed:
    """File a dispute against `document` (already checked to be the caller's: the citizen's
    own, or the employee's organisation's). See the module docstring."""
    if document.dispute_right is DisputeRight.NONE:
        raise InvalidInput(_("Tegen dit document kunt u geen bezwaar indienen."))
    if document.status not in DISPUTABLE:
        raise InvalidInput(_("Dit document is nog niet verstuurd; er kan nog geen bezwaar tegen."))
    grounds, email, phone = check_input(data)
    existing = _existing(session, document, data, grounds, channel)
    if existing is not None:
        return Filed(existing, created=False)

    now = utcnow()
    if channel is DisputeChannel.PORTAL:
        received_at, postmark_date = now, None
    elif received_at is None:
        raise FieldErrors({"ontvangen_op": _("Vul de datum van ontvangst in.")})
    if received_at.tzinfo is None:
        raise ValueError("naive datetime given; Zegel uses timezone-aware datetimes")
    received_on = received_at.astimezone(BRUSSELS).date()
    if received_on > today():
        raise FieldErrors({"ontvangen_op": _("De datum van ontvangst ligt in de toekomst.")})
    if postmark_date is not None and postmark_date > received_on:
        raise FieldErrors(
            {"poststempel": _("De datum van de poststempel ligt na de datum van ontvangst.")}
        )
    deadline = deadline_for(session, document)
    assert deadline is not None  # the document has a dispute right
    late = not deadline.is_open(postmark_date or received_on)
    if late and channel is DisputeChannel.PORTAL:
        raise InvalidInput(late_message(deadline), code="dispute_late")
    checked = [*data.files, *attachments.check_uploads(data.uploads, already=len(data.files))]

    dispute = Dispute(
        id=uuid.uuid4(),
        organisation_id=document.organisation_id,
        document_id=document.id,
        number="",
        channel=channel,
        received_at=received_at,
        postmark_date=postmark_date,
        late=late,
        grounds=grounds,
        hearing_requested=data.hearing_requested,
        contact_email=email,
        contact_phone=phone,
        status=DisputeStatus.RECEIVED,
        competent_service=deadline.competent_service,
        answer_due_date=answer_due(deadline.rule, received_on),
        deadline_date=deadline.last_day,
        submission_key=data.submission_key,
        registered_by_id=registered_by_id,
    )
    try:
        with session.begin_nested():
            dispute.number = next_number(session, document.organisation_id, received_on.year)
            session.add(dispute)
            session.flush()
    except SAIntegrityError:
        # The same submission key committed meanwhile (two requests raced past the look-up).
        session.expire_all()
        again = _existing(session, document, data, grounds, channel)
        if again is None:
            raise
        return Filed(again, created=False)

    stored = []
    for item in checked:
        sha256 = attachments.store(item)
        session.add(
            DisputeAttachment(
                id=uuid.uuid4(),
                organisation_id=dispute.organisation_id,
                dispute_id=dispute.id,
                file_name=item.file_name,
                content_type=item.content_type,
                sha256=sha256,
                size_bytes=len(item.content),
            )
        )
        stored.append(sha256)
    audit.record(
        session,
        actor=actor,
        organisation_id=dispute.organisation_id,
        action="dispute.received",
        object_type="dispute",
        object_id=dispute.id,
        status_after=DisputeStatus.RECEIVED.value,
        data={
            "number": dispute.number,
            "document_id": str(document.id),
            "channel": channel.value,
            "late": late,
            "postmark_date": postmark_date.isoformat() if postmark_date else None,
            "deadline": deadline.last_day.isoformat() if deadline.last_day else None,
            "competent_service": dispute.competent_service,
            "hearing_requested": dispute.hearing_requested,
            "attachments": stored,
        },
    )
    if email is not None:
        jobs.enqueue(
            session,
            RECEIPT_MAIL_JOB,
            {"dispute_id": str(dispute.id)},
            key=f"{RECEIPT_MAIL_JOB}:{dispute.id}",
            organisation_id=dispute.organisation_id,
        )
    _suspend_payment(session, document, dispute, actor)
    session.flush()
    session.refresh(dispute, attribute_names=["attachments"])
    return Filed(dispute, created=True)


def _suspend_payment(
    session: Session, document: Document, dispute: Dispute, actor: audit.Actor
) -> None:
    """Suspend the document's payment request while the dispute runs, when the organisation's
    policy for this type of document says so and something is still to be paid."""
    if not document_types.policy(
        session, document.organisation_id, document.document_type
    ).dispute_suspends_payment:
        return
    request = session.scalars(
        select(PaymentRequest).where(PaymentRequest.document_id == document.id)
    ).one_or_none()
    if request is None or request.status not in SUSPENDABLE:
        return
    payments.suspend(
        session, request, actor=actor, reason=_("Bezwaar %(number)s") % {"number": dispute.number}
    )


def dispute_of_document(session: Session, document: Document, dispute_id: uuid.UUID) -> Dispute:
    """A dispute of `document` (the caller checked the document is theirs); NotFound else."""
    dispute = session.scalars(
        select(Dispute).where(Dispute.id == dispute_id, Dispute.document_id == document.id)
    ).one_or_none()
    if dispute is None:
        raise NotFound(_("Dit bezwaar bestaat niet."))
    return dispute


def disputes_of_document(session: Session, document: Document) -> list[Dispute]:
    return list(
        session.scalars(
            select(Dispute).where(Dispute.document_id == document.id).order_by(Dispute.received_at)
        )
    )


def is_overdue(dispute: Dispute, on: date | None = None) -> bool:
    """Still open after its answer deadline."""
    return (
        dispute.status in OPEN_STATUSES
        and dispute.answer_due_date is not None
        and (on or today()) > dispute.answer_due_date
    )
