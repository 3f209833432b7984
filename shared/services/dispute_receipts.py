"""The receipt (ontvangstbewijs) of a dispute: the PDF, and the e-mail that carries it.

`receipt_pdf()` renders the receipt from the stored dispute (the same bytes every time for the
same dispute), for the portal's download, the front office's print and the e-mail.

`file_dispute()` queues the job `disputes.receipt_mail` (key: the dispute) in its own
transaction when the dispute has a contact e-mail address. The worker renders the receipt,
sends it over SMTP (`shared.integrations.mail.client`) with the PDF attached, and records
`mail.sent` on the dispute in the audit trail. A temporary SMTP failure makes the job fail and
retry with backoff; a permanent refusal (5xx) is recorded as `mail.failed` and not retried.
The Message-ID follows from the job's key, so a message sent again after a crash is
recognisable as the same one.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope
from shared.i18n import DEFAULT_LANGUAGE, N_, format_date, format_datetime, use_language
from shared.i18n import gettext as _
from shared.integrations.mail.client import (
    MailBody,
    Recipient,
    compose,
)
from shared.models.dispatch import Dispatch
from shared.models.disputes import Dispute, DisputeChannel
from shared.models.documents import Document
from shared.pdf.receipt import DisputeReceipt, ReceiptFile, render_dispute_receipt
from shared.services import mail_delivery
from shared.services.dispute_deadlines import SERVICE_LABELS
from shared.services.disputes import RECEIPT_MAIL_JOB
from shared.timeutil import BRUSSELS

CHANNEL_LABELS: dict[DisputeChannel, str] = {
    DisputeChannel.PORTAL: N_("online, via het portaal"),
    DisputeChannel.DESK: N_("aan het loket"),
    DisputeChannel.POST: N_("per post"),
}


def service_label(service: str) -> str:
    label = SERVICE_LABELS.get(service)
    return _(label) if label else service


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, size // 1024)} kB"


def file_name(dispute: Dispute) -> str:
    return f"ontvangstbewijs-{dispute.number}.pdf"


def _load(session: Session, dispute_id: uuid.UUID) -> Dispute | None:
    return (
        session.scalars(
            select(Dispute)
            .options(
                joinedload(Dispute.document).joinedload(Document.organisation),
                joinedload(Dispute.attachments),
            )
            .where(Dispute.id == dispute_id)
        )
        .unique()
        .one_or_none()
    )


def receipt_of(session: Session, dispute: Dispute) -> DisputeReceipt:
    """What the receipt says, from the stored dispute (in Dutch: the receipt is a legal act)."""
    with use_language(DEFAULT_LANGUAGE):
        document = dispute.document
        organisation = document.organisation
        lines = []
        if organisation.street:
            lines.append(f"{organisation.street}, {organisation.postal_code} {organisation.city}")
        contact = " — ".join(x for x in (organisation.phone, organisation.email) if x)
        if contact:
            lines.append(contact)
        register = session.execute(
            select(Dispatch.register_year, Dispatch.register_sequence)
            .where(Dispatch.document_id == document.id, Dispatch.register_sequence.is_not(None))
            .order_by(Dispatch.attempt.desc())
            .limit(1)
        ).one_or_none()
        reference = f"{register[0]}/{register[1]:06d}" if register else None
        citizen_contact = [x for x in (dispute.contact_email, dispute.contact_phone) if x]
        received = dispute.received_at.astimezone(BRUSSELS)
        return DisputeReceipt(
            organisation_name=organisation.name,
            organisation_lines=lines,
            number=dispute.number,
            received_at=format_datetime(received, "d MMMM yyyy 'om' HH:mm"),
            channel=_(CHANNEL_LABELS[dispute.channel]),
            document_title=document.title,
            document_reference=reference,
            competent_service=service_label(dispute.competent_service),
            grounds=dispute.grounds,
            hearing_requested=dispute.hearing_requested,
            contact=citizen_contact,
            files=[
                ReceiptFile(a.file_name, _size(a.size_bytes), a.sha256) for a in dispute.attachments
            ],
            postmark_date=format_date(dispute.postmark_date) if dispute.postmark_date else None,
            answer_due=format_date(dispute.answer_due_date) if dispute.answer_due_date else None,
            late_note=(
                "Het bezwaar kwam binnen na het verstrijken van de termijn"
                f" ({format_date(dispute.deadline_date)})."
                if dispute.late and dispute.deadline_date
                else None
            ),
            issued_at=dispute.received_at,
        )


def receipt_pdf(session: Session, dispute: Dispute) -> bytes:
    """The receipt as a PDF (CPU work: call it off the event loop)."""
    return render_dispute_receipt(receipt_of(session, dispute))


def _portal_url(document: Document) -> str:
    return f"{get_settings().portal_base_url.rstrip('/')}/d/{document.public_token}"


def send_receipt(dispute_id: uuid.UUID, context: jobs.JobContext) -> bool:
    """Send the receipt e-mail of a dispute (the job); True when the server accepted it."""
    with use_language(DEFAULT_LANGUAGE), session_scope() as session:
        dispute = _load(session, dispute_id)
        if dispute is None or not dispute.contact_email:
            return False
        document = dispute.document
        pdf = receipt_pdf(session, dispute)
        received = dispute.received_at.astimezone(BRUSSELS)
        body = MailBody(
            greeting=_("Beste,"),
            paragraphs=[
                _(
                    "%(organisation)s ontving op %(moment)s uw bezwaar tegen ‘%(title)s’. Het"
                    " dossiernummer is %(number)s."
                )
                % {
                    "organisation": document.organisation.name,
                    "moment": format_datetime(received, "d MMMM yyyy 'om' HH:mm"),
                    "title": document.title,
                    "number": dispute.number,
                },
                _("Het ontvangstbewijs zit als PDF bij dit bericht. Bewaar het goed."),
                _("De dienst %(service)s behandelt uw bezwaar.")
                % {"service": service_label(dispute.competent_service)},
            ],
            link_label=_("Uw document en het verloop van uw bezwaar"),
            link_url=_portal_url(document),
            closing=[
                _(
                    "U krijgt dit bericht omdat u dit e-mailadres opgaf bij uw bezwaar. Antwoorden"
                    " op dit bericht worden niet gelezen."
                )
            ],
        )
        organisation_id, number = dispute.organisation_id, dispute.number
        address = dispute.contact_email
    message = compose(
        to=[Recipient(address)],
        subject=_("Ontvangstbewijs van uw bezwaar %(number)s") % {"number": number},
        body=body,
        reference=context.idempotency_key,
        mail_from=get_settings().mail_from,
        language=DEFAULT_LANGUAGE,
    )
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=f"ontvangstbewijs-{number}.pdf"
    )
    sent = mail_delivery.send_and_record(
        message,
        organisation_id=organisation_id,
        object_type="dispute",
        object_id=dispute_id,
        data={"kind": "dispute_receipt", "job_id": str(context.id), "attempt": context.attempt},
    )
    return sent is not None


@jobs.handler(RECEIPT_MAIL_JOB)
def _receipt_mail_job(payload: dict[str, Any], context: jobs.JobContext) -> None:
    send_receipt(uuid.UUID(str(payload["dispute_id"])), context)
