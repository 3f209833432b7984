"""What a citizen sees of a document: in plain words, with its signatures, money and history.

Everything is looked up by the citizen's national register number digest (from the verified
login) together with the document's public token, so "not yours" and "does not exist" are the
same answer (`access.document_for_citizen`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shared.i18n import N_, format_money
from shared.i18n import gettext as _
from shared.models.audit import AuditEvent
from shared.models.disputes import Dispute, DisputeOutcome, DisputeStatus
from shared.models.documents import Document, DocumentStatus
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.models.signing import SignatureRequest, SignatureStatus
from shared.services import access, dispute_office
from shared.storage import get_storage

OPEN_DISPUTE = (DisputeStatus.RECEIVED, DisputeStatus.IN_PROGRESS, DisputeStatus.HEARING_PLANNED)
TO_PAY = (PaymentRequestStatus.OPEN, PaymentRequestStatus.PARTIALLY_PAID)


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str
    """neutral, info, success, warning, danger (never the only carrier of meaning)."""


@dataclass(frozen=True)
class SignatureLine:
    capacity: str
    signer_name: str
    signed_at: datetime | None
    valid: bool | None
    """The stored validation's verdict; None while it has not been checked yet."""


@dataclass(frozen=True)
class CitizenEvent:
    occurred_at: datetime
    text: str


@dataclass(frozen=True)
class CitizenDocument:
    document: Document
    badge: Badge
    payment: PaymentRequest | None
    dispute: Dispute | None
    signatures: list[SignatureLine]
    timeline: list[CitizenEvent]

    @property
    def amount_due_cents(self) -> int | None:
        if self.payment is not None:
            return self.payment.amount_cents
        return self.document.amount_due_cents

    @property
    def due_date(self) -> date | None:
        return self.payment.due_date if self.payment is not None else self.document.due_date


def badge(document: Document, payment: PaymentRequest | None, dispute: Dispute | None) -> Badge:
    """The one status a citizen needs to see in the list."""
    if dispute is not None:
        if dispute.status in OPEN_DISPUTE:
            return Badge(_("bezwaar ingediend"), "info")
        return Badge(_("afgehandeld"), "neutral")
    if payment is not None:
        if payment.status is PaymentRequestStatus.PAID:
            return Badge(_("betaald"), "success")
        if payment.status in TO_PAY:
            return Badge(_("te betalen"), "warning")
        if payment.status is PaymentRequestStatus.SUSPENDED:
            return Badge(_("betaling opgeschort"), "info")
        return Badge(_("afgehandeld"), "neutral")
    if document.amount_due_cents:
        return Badge(_("te betalen"), "warning")
    if document.status is DocumentStatus.RETURNED:
        return Badge(_("niet bezorgd"), "danger")
    return Badge(_("ontvangen"), "neutral")


def _follow_up(
    session: Session, documents: list[Document]
) -> tuple[dict[uuid.UUID, PaymentRequest], dict[uuid.UUID, Dispute]]:
    ids = [d.id for d in documents]
    payments = {
        p.document_id: p
        for p in session.scalars(select(PaymentRequest).where(PaymentRequest.document_id.in_(ids)))
    }
    disputes: dict[uuid.UUID, Dispute] = {}
    for dispute in session.scalars(
        select(Dispute).where(Dispute.document_id.in_(ids)).order_by(Dispute.received_at)
    ):
        disputes[dispute.document_id] = dispute  # the latest one counts
    return payments, disputes


@dataclass(frozen=True)
class ListedDocument:
    document: Document
    badge: Badge


def my_documents(session: Session, ssin_digest: str) -> list[ListedDocument]:
    """Every document addressed to the citizen, newest first, with its badge."""
    documents = access.documents_for_citizen(session, ssin_digest)
    payments, disputes = _follow_up(session, documents)
    return [ListedDocument(d, badge(d, payments.get(d.id), disputes.get(d.id))) for d in documents]


def citizen_document(session: Session, ssin_digest: str, token: str) -> CitizenDocument:
    """The document page. Raises NotFound (the same for "not yours") otherwise."""
    document = access.document_for_citizen(session, ssin_digest, token)
    payments, disputes = _follow_up(session, [document])
    payment, dispute = payments.get(document.id), disputes.get(document.id)
    return CitizenDocument(
        document=document,
        badge=badge(document, payment, dispute),
        payment=payment,
        dispute=dispute,
        signatures=_signatures(session, document),
        timeline=_timeline(session, document, payment, dispute),
    )


def document_pdf(session: Session, ssin_digest: str, token: str) -> tuple[bytes, str]:
    """The signed PDF as it was sent, and a file name for it."""
    document = access.document_for_citizen(session, ssin_digest, token)
    name = document.file_name if document.file_name.lower().endswith(".pdf") else "document.pdf"
    return get_storage().get(document.current_sha256), name


def _signatures(session: Session, document: Document) -> list[SignatureLine]:
    requests = session.scalars(
        select(SignatureRequest)
        .options(joinedload(SignatureRequest.signer))
        .where(
            SignatureRequest.document_id == document.id,
            SignatureRequest.status == SignatureStatus.SIGNED,
        )
        .order_by(SignatureRequest.signing_round, SignatureRequest.position)
    ).all()
    lines = []
    for request in requests:
        check = request.validation
        valid = None
        if check is not None and check.get("document_sha256") == document.current_sha256:
            valid = bool(check.get("valid"))
        lines.append(
            SignatureLine(
                capacity=request.capacity or "",
                signer_name=request.signer.name if request.signer is not None else "",
                signed_at=request.signed_at,
                valid=valid,
            )
        )
    return lines


_CITIZEN_EVENTS = {
    "document.dispatched": N_("Verstuurd"),
    "document.delivered": N_("Afgeleverd"),
    "document.returned": N_("Teruggekeerd naar de afzender"),
    "payment_request.partially_paid": N_("Betaling ontvangen"),
    "payment_request.paid": N_("Volledig betaald"),
    "dispute.received": N_("Bezwaar ontvangen"),
    "dispute.decided": N_("Beslissing over uw bezwaar genomen"),
    "dispute.withdrawn": N_("Bezwaar ingetrokken"),
    "dispute.closed": N_("Beslissing over uw bezwaar verstuurd: uw bezwaar is %(outcome)s"),
    "payment_request.cancelled": N_("Betaling geannuleerd"),
    "payment_request.amount_reduced": N_("Te betalen bedrag verminderd tot %(amount)s"),
}
"""Which events a citizen sees, in their words (everything internal stays internal)."""


def _citizen_text(event: AuditEvent) -> str:
    text = _(_CITIZEN_EVENTS[event.action])
    data = event.data or {}
    if event.action == "dispute.closed":
        try:
            outcome = DisputeOutcome(str(data.get("outcome")))
        except ValueError:
            return _("Beslissing over uw bezwaar verstuurd")
        return text % {"outcome": dispute_office.outcome_label(outcome)}
    if event.action == "payment_request.amount_reduced":
        return text % {"amount": format_money(int(data.get("amount_cents") or 0))}
    return text


def _timeline(
    session: Session, document: Document, payment: PaymentRequest | None, dispute: Dispute | None
) -> list[CitizenEvent]:
    related = [str(document.id)]
    if payment is not None:
        related.append(str(payment.id))
    if dispute is not None:  # every dispute of the document, not only the latest
        disputes = select(Dispute.id).where(Dispute.document_id == document.id)
        related += [str(i) for i in session.scalars(disputes)]
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id == document.organisation_id,
            AuditEvent.object_id.in_(related),
            AuditEvent.action.in_(list(_CITIZEN_EVENTS)),
        )
        .order_by(AuditEvent.sequence)
    ).all()
    timeline = [CitizenEvent(e.occurred_at, _citizen_text(e)) for e in events]
    if not timeline and document.sent_at is not None:
        timeline.append(CitizenEvent(document.sent_at, _("Verstuurd")))
    return timeline
