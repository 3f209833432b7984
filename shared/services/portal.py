"""What a citizen sees of a document: in plain words, with its signatures, money and history.

Everything is looked up by the citizen's national register number digest (from the verified
login) together with the document's public token, so "not yours" and "does not exist" are the
same answer (`access.document_for_citizen`).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session, contains_eager, defer, load_only

from shared.db import utcnow
from shared.errors import NotFound, TooManyAttempts
from shared.i18n import N_, format_money
from shared.i18n import gettext as _
from shared.models.audit import AuditEvent
from shared.models.disputes import Dispute, DisputeOutcome, DisputeStatus
from shared.models.documents import Document, DocumentStatus
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.models.signing import SignatureRequest, SignatureStatus
from shared.services import access, dispute_office, payments
from shared.storage import get_storage

OPEN_DISPUTE = (DisputeStatus.RECEIVED, DisputeStatus.IN_PROGRESS, DisputeStatus.HEARING_PLANNED)
DECIDED_DISPUTE = (DisputeStatus.DECIDED, DisputeStatus.CLOSED)
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
    payment_balance: payments.Balance | None
    """The payment request's balance as the page's query found it."""
    signatures: list[SignatureLine]
    timeline: list[CitizenEvent]

    @property
    def amount_due_cents(self) -> int | None:
        """What the letter still asks, as far as the page knows without the payments: the
        payment request's (possibly reduced) amount while it is payable, nothing once it is
        paid, suspended, cancelled or refunded (the payment panel tells those), and without a
        payment request the letter's amount unless a founded dispute took it away."""
        if self.payment is not None:
            return self.payment.amount_cents if self.payment.status in TO_PAY else None
        if self.dispute_founded:
            return None
        return self.document.amount_due_cents

    @property
    def dispute_outcome(self) -> DisputeOutcome | None:
        """The decision on the latest dispute once it was taken (None before, or withdrawn)."""
        if self.dispute is None or self.dispute.status not in DECIDED_DISPUTE:
            return None
        return self.dispute.outcome

    @property
    def dispute_open(self) -> bool:
        return self.dispute is not None and self.dispute.status in OPEN_DISPUTE

    @property
    def dispute_founded(self) -> bool:
        """The latest dispute was decided founded (gegrond)."""
        return self.dispute_outcome is DisputeOutcome.FOUNDED

    @property
    def due_date(self) -> date | None:
        return self.payment.due_date if self.payment is not None else self.document.due_date


def badge(document: Document, payment: PaymentRequest | None, dispute: Dispute | None) -> Badge:
    """The one status a citizen needs to see in the list: an open dispute first (what the
    citizen waits for), then the payment request's own status (a dispute decided or withdrawn
    leaves it open, reduced, paid or cancelled, and that is what counts), then the dispute's
    end and the letter itself."""
    if dispute is not None and dispute.status in OPEN_DISPUTE:
        return Badge(_("bezwaar ingediend"), "info")
    if payment is not None:
        if payment.status is PaymentRequestStatus.PAID:
            return Badge(_("betaald"), "success")
        if payment.status in TO_PAY:
            return Badge(_("te betalen"), "warning")
        if payment.status is PaymentRequestStatus.SUSPENDED:
            return Badge(_("betaling opgeschort"), "info")
        return Badge(_("afgehandeld"), "neutral")  # cancelled or refunded: nothing to pay
    if dispute is not None:
        founded = dispute.status in DECIDED_DISPUTE and dispute.outcome is DisputeOutcome.FOUNDED
        if document.amount_due_cents and not founded:  # rejected or withdrawn: still due
            return Badge(_("te betalen"), "warning")
        return Badge(_("afgehandeld"), "neutral")
    if document.amount_due_cents:
        return Badge(_("te betalen"), "warning")
    if document.status is DocumentStatus.RETURNED:
        return Badge(_("niet bezorgd"), "danger")
    return Badge(_("ontvangen"), "neutral")


def founded_dispute(session: Session, document_id: uuid.UUID) -> bool:
    """The document's latest dispute was decided founded (gegrond): what it asked is no
    longer due. For pages that did not load the dispute (the paper code's summary)."""
    latest = session.execute(
        select(Dispute.status, Dispute.outcome)
        .where(Dispute.document_id == document_id)
        .order_by(Dispute.received_at.desc())
        .limit(1)
    ).one_or_none()
    return (
        latest is not None and latest[0] in DECIDED_DISPUTE and latest[1] is DisputeOutcome.FOUNDED
    )


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


@functools.cache
def _page_statements() -> tuple[Executable, Executable, Executable]:
    """The page's statements, built once with bound parameters: building a statement and its
    cache key costs more than running it on the database."""
    from shared.models.documents import Decision
    from shared.models.people import Organisation, Recipient, StaffUser
    from shared.models.sessions import AccessCodeAttempt

    latest_dispute = (
        select(Dispute.id)
        .where(Dispute.document_id == Document.id)
        .order_by(Dispute.received_at.desc())
        .limit(1)
        .correlate(Document)
        .scalar_subquery()
    )
    locked_until = (
        select(AccessCodeAttempt.locked_until)
        .where(AccessCodeAttempt.client_digest == bindparam("client_digest"))
        .scalar_subquery()
    )
    received, refunded = payments.balance_columns(PaymentRequest.id)
    document = (
        select(Document, PaymentRequest, Dispute, locked_until, received, refunded)
        .join(Recipient, Recipient.id == Document.recipient_id)
        .join(Organisation, Organisation.id == Document.organisation_id)
        .outerjoin(Decision, Decision.id == Document.decision_id)
        .outerjoin(PaymentRequest, PaymentRequest.document_id == Document.id)
        .outerjoin(Dispute, Dispute.id == latest_dispute)
        .options(
            contains_eager(Document.organisation),
            contains_eager(Document.decision).load_only(Decision.body, Decision.session_date),
            # what the page does not show is loaded only if something asks for it
            defer(Document.intake_check),
            defer(Document.screening_reason),
            load_only(Dispute.status, Dispute.outcome, Dispute.number, Dispute.received_at),
        )
        .where(
            Document.public_token == bindparam("token"),
            Recipient.ssin_digest == bindparam("ssin_digest"),
            *access.open_to_citizens(cutoff=bindparam("cutoff")),
        )
    )
    signatures = (
        select(
            SignatureRequest.capacity,
            StaffUser.name,
            SignatureRequest.signed_at,
            SignatureRequest.validation,
        )
        .outerjoin(StaffUser, StaffUser.id == SignatureRequest.signer_id)
        .where(
            SignatureRequest.document_id == bindparam("document_id"),
            SignatureRequest.status == SignatureStatus.SIGNED,
        )
        .order_by(SignatureRequest.signing_round, SignatureRequest.position)
    )
    events = (
        select(AuditEvent.occurred_at, AuditEvent.action, AuditEvent.data)
        .where(
            AuditEvent.organisation_id == bindparam("organisation_id"),
            AuditEvent.object_id.in_(bindparam("related", expanding=True)),
            AuditEvent.action.in_(list(_CITIZEN_EVENTS)),
        )
        .order_by(AuditEvent.sequence)
    )
    return document, signatures, events


def citizen_document(
    session: Session, ssin_digest: str, token: str, *, client: str | None = None
) -> CitizenDocument:
    """The document page. Raises NotFound (the same for "not yours", withdrawn and past its
    retention) otherwise.

    With `client` (the requester's address) wrong tokens are counted per client, like wrong
    access codes (`access_codes.token_failed`), and a client locked out for guessing gets
    TooManyAttempts, even for a right token.

    One query loads the document with its organisation, decision, payment request and its
    balance, latest dispute and the client's lock-out: this page is the portal's busiest."""
    from shared.services import access_codes

    now = utcnow()
    client_digest = access_codes.client_digest(client, access_codes.TOKEN_SCOPE) if client else ""
    row = session.execute(
        _page_statements()[0],
        {
            "token": token,
            "ssin_digest": ssin_digest,
            "cutoff": access.retention_cutoff(now),
            "client_digest": client_digest,
        },
    ).one_or_none()
    if row is None:
        if client:
            # The try is counted in a transaction of its own, which must not wait for this
            # one (SQLite has one writer): end it first, keeping what it did (a session touch).
            session.commit()
            access_codes.token_failed(client, now=now)  # raises TooManyAttempts or NotFound
        raise NotFound(access.NOT_YOURS)
    document, payment, dispute, locked, received, refunded = row
    if client and locked is not None and locked > now:
        raise TooManyAttempts(access_codes.locked_message(access_codes.TOKEN_SCOPE))
    return CitizenDocument(
        document=document,
        badge=badge(document, payment, dispute),
        payment=payment,
        dispute=dispute,
        payment_balance=(
            payments.Balance(payment.amount_cents, int(received), int(refunded))
            if payment is not None
            else None
        ),
        signatures=_signatures(session, document),
        timeline=_timeline(session, document, payment, dispute),
    )


def document_pdf(
    session: Session, ssin_digest: str, token: str, *, client: str | None = None
) -> tuple[bytes, str]:
    """The signed PDF as it was sent, and a file name for it. `client` as in
    `citizen_document`."""
    document = citizen_document(session, ssin_digest, token, client=client).document
    name = document.file_name if document.file_name.lower().endswith(".pdf") else "document.pdf"
    return get_storage().get(document.current_sha256), name


def _signatures(session: Session, document: Document) -> list[SignatureLine]:
    rows = session.execute(_page_statements()[1], {"document_id": document.id}).all()
    lines = []
    for capacity, signer_name, signed_at, check in rows:
        valid = None
        if check is not None and check.get("document_sha256") == document.current_sha256:
            valid = bool(check.get("valid"))
        lines.append(
            SignatureLine(
                capacity=capacity or "",
                signer_name=signer_name or "",
                signed_at=signed_at,
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


def _citizen_text(action: str, data: dict[str, Any] | None) -> str:
    text = _(_CITIZEN_EVENTS[action])
    data = data or {}
    if action == "dispute.closed":
        try:
            outcome = DisputeOutcome(str(data.get("outcome")))
        except ValueError:
            return _("Beslissing over uw bezwaar verstuurd")
        return text % {"outcome": dispute_office.outcome_label(outcome)}
    if action == "payment_request.amount_reduced":
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
    events = session.execute(
        _page_statements()[2], {"organisation_id": document.organisation_id, "related": related}
    ).all()
    timeline = [CitizenEvent(at, _citizen_text(action, data)) for at, action, data in events]
    if not timeline and document.sent_at is not None:
        timeline.append(CitizenEvent(document.sent_at, _("Verstuurd")))
    return timeline
