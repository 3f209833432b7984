"""Reminder letters (herinneringen) for overdue payment requests.

A periodic job finds requests that are still open or partially paid
`payment_reminder_grace_days` after their due date (and, for the next level,
`payment_reminder_interval_days` after the previous reminder) and makes a reminder letter
for each: a PDF with the amount still due, the structured communication and the account,
registered as a document of type `reminder` for the same recipient, screened by the normal
rules (a reminder needs no signature, so it becomes ready) and queued for dispatch like any
other letter. One reminder per request per level: the (request, level) pair is unique, so
however often the job runs, or however many workers run it, no request gets a level twice.
Suspended, cancelled, paid and refunded requests get none.
"""

from __future__ import annotations

import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import DomainError
from shared.i18n import (
    DEFAULT_LANGUAGE,
    format_date,
    format_iban,
    format_money,
    format_structured_communication,
    use_language,
)
from shared.i18n import gettext as _
from shared.logging import get_logger
from shared.models.bank_statements import PaymentReminder
from shared.models.documents import Document, DocumentStatus
from shared.models.payments import PaymentRequest
from shared.models.people import Organisation
from shared.pdf.letters import Letter, render_letter
from shared.services import audit, dispatch, payment_overview, payment_references, screening
from shared.services.intake import check_upload, record_check
from shared.storage import get_storage
from shared.timeutil import today

log = get_logger("zegel.payment_reminders")

REMINDER_DOCUMENT_TYPE = "reminder"
SCAN_JOB = "payment_reminders.scan"
SCAN_EVERY = timedelta(hours=6)
SYSTEM = audit.Actor.system("Zegel herinneringen")


@dataclass(frozen=True)
class Created:
    reminder: PaymentReminder
    document: Document
    dispatched: bool


def _due_level(
    session: Session, request: PaymentRequest, on: date, grace: int, interval: int, levels: int
) -> int | None:
    """The level of the reminder this request needs today, or None."""
    if request.status not in payment_overview.OPEN_STATUSES:
        return None
    if request.due_date + timedelta(days=grace) >= on:
        return None
    last = session.execute(
        select(func.max(PaymentReminder.level), func.max(PaymentReminder.created_at)).where(
            PaymentReminder.payment_request_id == request.id
        )
    ).one()
    level = (last[0] or 0) + 1
    if level > levels:
        return None
    if last[1] is not None and last[1].date() + timedelta(days=interval) > on:
        return None
    return level


def create_due_reminders(session: Session, *, on: date | None = None) -> list[Created]:
    """Make the reminder letters due on `on` (today), each in its own savepoint."""
    settings = get_settings()
    on = on or today()
    grace = settings.payment_reminder_grace_days
    if settings.payment_reminder_levels == 0:
        return []
    candidates = session.scalars(
        select(PaymentRequest)
        .where(
            PaymentRequest.status.in_(payment_overview.OPEN_STATUSES),
            PaymentRequest.due_date < on - timedelta(days=grace),
        )
        .order_by(PaymentRequest.due_date, PaymentRequest.id)
    ).all()
    created: list[Created] = []
    for request in candidates:
        level = _due_level(
            session,
            request,
            on,
            grace,
            settings.payment_reminder_interval_days,
            settings.payment_reminder_levels,
        )
        if level is None:
            continue
        try:
            with session.begin_nested():
                created.append(_create(session, request, level, on))
        except SAIntegrityError:
            continue  # another worker made this level at the same moment
        except DomainError as error:
            log.warning(
                "reminder not made", payment_request_id=str(request.id), reason=error.message
            )
    return created


def _letter(
    session: Session, request: PaymentRequest, level: int, outstanding: int, on: date
) -> bytes:
    organisation = session.get(Organisation, request.organisation_id)
    assert organisation is not None
    document = request.document
    recipient = document.recipient
    ogm = format_structured_communication(request.structured_communication)
    subject = (
        _("Herinnering: betaling van %(title)s") % {"title": document.title}
        if level == 1
        else _("Tweede herinnering: betaling van %(title)s") % {"title": document.title}
    )
    paragraphs = [
        _("Geachte,"),
        _(
            "Volgens onze gegevens is het bedrag van %(amount)s voor ‘%(title)s’ nog niet"
            " (volledig) betaald. De vervaldag was %(due)s."
        )
        % {
            "amount": format_money(outstanding),
            "title": document.title,
            "due": format_date(request.due_date),
        },
        _(
            "Wilt u %(amount)s overschrijven op rekening %(iban)s%(bic)s met de gestructureerde"
            " mededeling %(ogm)s? U kunt ook online betalen via de link in uw brief of aan de"
            " balie."
        )
        % {
            "amount": format_money(outstanding),
            "iban": format_iban(request.iban),
            "bic": f" (BIC {request.bic})" if request.bic else "",
            "ogm": ogm,
        },
        _("Hebt u intussen betaald? Dan mag u deze herinnering als niet verzonden beschouwen."),
        _("Met vriendelijke groeten,"),
        organisation.name,
    ]
    return render_letter(
        Letter(
            qr_png=_epc_png(organisation.name, request, outstanding),
            qr_caption=_(
                "Scan deze code met uw bankapp: rekening, bedrag en gestructureerde mededeling"
                " worden ingevuld."
            ),
            sender_name=organisation.name,
            sender_address=[
                part
                for part in (
                    organisation.street,
                    " ".join(p for p in (organisation.postal_code, organisation.city) if p),
                )
                if part
            ],
            recipient_name=recipient.name,
            recipient_address=[
                part
                for part in (
                    recipient.street,
                    " ".join(p for p in (recipient.postal_code, recipient.city) if p),
                )
                if part
            ],
            place_and_date=f"{organisation.city or organisation.name}, {format_date(on)}",
            subject=subject,
            paragraphs=paragraphs,
            reference=ogm,
        )
    )


def _epc_png(name: str, request: PaymentRequest, outstanding: int) -> bytes | None:
    """The EPC QR code (pay-core's payload) as PNG for the letter; None when there is nothing
    to pay or the payload cannot be made."""
    if outstanding <= 0:
        return None
    try:
        qr = payment_references.epc_qr(
            payment_references.ogm_transfer(
                name=name,
                iban=request.iban,
                bic=request.bic,
                amount_cents=outstanding,
                ogm_digits=request.structured_communication,
            )
        )
    except ValueError:
        return None
    out = io.BytesIO()
    qr.save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def _create(session: Session, request: PaymentRequest, level: int, on: date) -> Created:
    outstanding = payment_overview.outstanding_cents(session, request)
    original = request.document
    with use_language(DEFAULT_LANGUAGE):
        content = _letter(session, request, level, outstanding, on)
        title = _("Herinnering %(level)d: %(title)s") % {"level": level, "title": original.title}
    sha256 = get_storage().put(content)
    check = check_upload(content)
    document = Document(
        id=uuid.uuid4(),
        organisation_id=request.organisation_id,
        decision_id=original.decision_id,
        recipient_id=original.recipient_id,
        document_type=REMINDER_DOCUMENT_TYPE,
        title=title[:500],
        status=DocumentStatus.DRAFT,
        file_name=f"herinnering-{level}-{request.structured_communication}.pdf",
        original_sha256=sha256,
        current_sha256=sha256,
        page_count=check.page_count,
        public_token=secrets.token_urlsafe(32),
    )
    record_check(document, sha256, check)
    session.add(document)
    session.flush()
    reminder = PaymentReminder(
        organisation_id=request.organisation_id,
        payment_request_id=request.id,
        level=level,
        document_id=document.id,
        outstanding_cents=outstanding,
    )
    session.add(reminder)
    session.flush()  # the unique (request, level) is checked here, before anything else
    audit.record(
        session,
        actor=SYSTEM,
        organisation_id=request.organisation_id,
        action="document.registered",
        object_type="document",
        object_id=document.id,
        status_after=document.status.value,
        data={
            "title": document.title,
            "document_type": REMINDER_DOCUMENT_TYPE,
            "recipient_id": str(original.recipient_id),
            "file_name": document.file_name,
            "sha256": sha256,
            "findings": sorted(check.codes),
            "source": "payment_reminder",
            "payment_request_id": str(request.id),
        },
    )
    audit.record(
        session,
        actor=SYSTEM,
        organisation_id=request.organisation_id,
        action="payment_reminder.created",
        object_type="payment_request",
        object_id=request.id,
        data={
            "level": level,
            "document_id": str(document.id),
            "amount_cents": outstanding,
            "due_date": request.due_date.isoformat(),
        },
    )
    screening.screen_document(session, document, actor=SYSTEM)
    dispatched = False
    if document.status is DocumentStatus.READY:
        result = dispatch.send(session, request.organisation_id, [document.id], actor=SYSTEM)
        dispatched = bool(result.queued)
    return Created(reminder, document, dispatched)


def reminders_for(session: Session, request_id: uuid.UUID) -> list[PaymentReminder]:
    return list(
        session.scalars(
            select(PaymentReminder)
            .where(PaymentReminder.payment_request_id == request_id)
            .order_by(PaymentReminder.level)
        )
    )


@jobs.handler(SCAN_JOB)
def _scan_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    with session_scope() as session:
        created = create_due_reminders(session)
    log.info("payment reminders made", count=len(created))


jobs.periodic(SCAN_JOB, SCAN_EVERY)
