"""Payment requests and the money that settles them.

Every document with an amount due gets one PaymentRequest (amount, due date, a unique
structured communication, the organisation's IBAN and BIC). Money comes in as Payments —
by Stripe, bank transfer or at the desk — through one function, `record_payment`, which is
idempotent by (method, external id) and recomputes the request's status: open, partially
paid or paid (more than due is allowed and shown as overpaid). Refunds state the amount the
caller saw as still refundable and are refused when it changed meanwhile, so nothing is
refunded twice. A request can be suspended (a dispute) and resumed.

Every change goes through `transitions` (so through the audit trail); a full payment writes
`payment_request.paid`, the event lead times and the portal's timeline read.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from shared.db import utcnow
from shared.errors import DomainError, IllegalTransition, InvalidInput, NotFound
from shared.i18n import format_money
from shared.i18n import gettext as _
from shared.models.documents import Document
from shared.models.payments import (
    Payment,
    PaymentMethod,
    PaymentRefund,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentStatus,
)
from shared.models.people import Organisation
from shared.services import audit
from shared.services.payment_references import (
    format_ogm,
    generate_unique_ogm,
    normalise_bic,
    normalise_iban,
)
from shared.services.transitions import transition
from shared.timeutil import today

DEFAULT_TERM_DAYS = 30
"""Due date of a request whose document gives none."""

COUNTED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
"""Payments whose money arrived (refunds are subtracted separately)."""

ONLINE_METHODS = (PaymentMethod.CARD, PaymentMethod.BANCONTACT)


# -- errors -------------------------------------------------------------------------------------


class NoBankAccount(InvalidInput):
    """The organisation has no (valid) IBAN, so it cannot ask for money."""

    code = "no_bank_account"


class NotPayable(DomainError):
    """The request cannot be paid now (paid already, suspended, cancelled)."""

    code = "not_payable"


class PaymentConflict(DomainError):
    """The same (method, external id) was recorded before with other facts."""

    code = "payment_conflict"


class RefundMismatch(DomainError):
    """The caller saw another refundable amount than there is now: refresh and decide again."""

    status_code = 412
    code = "refundable_amount_changed"


# -- balance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    amount_cents: int
    received_cents: int
    """Everything that came in (successful payments)."""
    refunded_cents: int

    @property
    def paid_cents(self) -> int:
        """What the organisation keeps: received minus refunded."""
        return self.received_cents - self.refunded_cents

    @property
    def outstanding_cents(self) -> int:
        return max(0, self.amount_cents - self.paid_cents)

    @property
    def overpaid_cents(self) -> int:
        return max(0, self.paid_cents - self.amount_cents)


def balance_columns(request_id: Any) -> tuple[ScalarSelect[int], ScalarSelect[int]]:
    """(received, refunded) cents of the payment request `request_id` (a column or bound
    parameter) as scalar subqueries: `balance()` runs them alone, the portal's document page
    inside its one query."""
    counted = (Payment.payment_request_id == request_id, Payment.status.in_(COUNTED))
    return (
        select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(*counted).scalar_subquery(),
        select(func.coalesce(func.sum(Payment.refunded_cents), 0))
        .where(*counted)
        .scalar_subquery(),
    )


@functools.cache
def _balance_statement() -> Select[int, int]:
    return select(*balance_columns(bindparam("request_id")))


def balance(session: Session, request: PaymentRequest) -> Balance:
    received, refunded = session.execute(_balance_statement(), {"request_id": request.id}).one()
    return Balance(request.amount_cents, int(received), int(refunded))


def status_for(paid_cents: int, amount_cents: int) -> PaymentRequestStatus:
    """The status a (not suspended, not cancelled) request's balance calls for."""
    if paid_cents >= amount_cents:
        return PaymentRequestStatus.PAID
    if paid_cents > 0:
        return PaymentRequestStatus.PARTIALLY_PAID
    return PaymentRequestStatus.OPEN


# -- creating requests --------------------------------------------------------------------------


def bank_account(organisation: Organisation) -> tuple[str, str | None]:
    """The organisation's (IBAN, BIC); NoBankAccount when it has no valid IBAN."""
    if not organisation.iban:
        raise NoBankAccount(
            _(
                "%(organisation)s heeft geen IBAN-rekeningnummer, dus Zegel kan geen bedrag"
                " vragen. Een beheerder vult het rekeningnummer in bij de gegevens van het bestuur."
            )
            % {"organisation": organisation.name}
        )
    try:
        iban = normalise_iban(organisation.iban)
        bic = normalise_bic(organisation.bic) if organisation.bic else None
    except InvalidInput as error:
        raise NoBankAccount(
            _("Het rekeningnummer van %(organisation)s is niet geldig: %(problem)s")
            % {"organisation": organisation.name, "problem": error.message}
        ) from None
    return iban, bic


def require_bank_account(session: Session, organisation_id: uuid.UUID) -> None:
    """Raise NoBankAccount when the organisation cannot ask for money."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(_("Dit bestuur bestaat niet."))
    bank_account(organisation)


def _ogm_in_use(session: Session) -> Any:
    def exists(candidate: str) -> bool:
        found = session.scalar(
            select(PaymentRequest.id).where(PaymentRequest.structured_communication == candidate)
        )
        return found is not None

    return exists


def request_for_document(session: Session, document_id: uuid.UUID) -> PaymentRequest | None:
    return session.scalars(
        select(PaymentRequest).where(PaymentRequest.document_id == document_id)
    ).one_or_none()


def create_for_document(
    session: Session, document: Document, *, actor: audit.Actor
) -> PaymentRequest | None:
    """The document's payment request, created when it has an amount due (and none yet).

    In the caller's transaction; NoBankAccount when the organisation has no IBAN."""
    if not document.amount_due_cents or document.amount_due_cents <= 0:
        return None
    existing = request_for_document(session, document.id)
    if existing is not None:
        return existing
    organisation = session.get(Organisation, document.organisation_id)
    assert organisation is not None
    iban, bic = bank_account(organisation)
    exists = _ogm_in_use(session)
    for _attempt in range(5):
        request = PaymentRequest(
            id=uuid.uuid4(),
            organisation_id=document.organisation_id,
            document_id=document.id,
            amount_cents=document.amount_due_cents,
            due_date=document.due_date or today() + timedelta(days=DEFAULT_TERM_DAYS),
            structured_communication=generate_unique_ogm(exists),
            iban=iban,
            bic=bic,
            status=PaymentRequestStatus.OPEN,
        )
        try:
            with session.begin_nested():
                session.add(request)
                session.flush()
        except SAIntegrityError:
            # Another transaction took the same communication (or made this document's
            # request) at the same moment.
            existing = request_for_document(session, document.id)
            if existing is not None:
                return existing
            continue
        audit.record(
            session,
            actor=actor,
            organisation_id=document.organisation_id,
            action="payment_request.created",
            object_type="payment_request",
            object_id=request.id,
            status_after=request.status.value,
            data={
                "document_id": str(document.id),
                "amount_cents": request.amount_cents,
                "due_date": request.due_date.isoformat(),
                "structured_communication": request.structured_communication,
            },
        )
        return request
    raise RuntimeError("could not create a payment request with a unique communication")


# -- looking up ---------------------------------------------------------------------------------


def _locked(session: Session, request_id: uuid.UUID) -> PaymentRequest:
    """The request, re-read and locked for the rest of the transaction (PostgreSQL row lock;
    SQLite holds the database write lock from BEGIN IMMEDIATE)."""
    request = session.scalars(
        select(PaymentRequest)
        .where(PaymentRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if request is None:
        raise NotFound(_("Dit betaalverzoek bestaat niet."))
    return request


def by_communication(session: Session, digits: str) -> PaymentRequest | None:
    """The request with this structured communication (12 digits), in any organisation:
    a bank line names no organisation (the caller checks the account it came in on)."""
    return session.scalars(
        select(PaymentRequest).where(PaymentRequest.structured_communication == digits)
    ).one_or_none()


def ensure_payable(request: PaymentRequest) -> None:
    """Raise NotPayable (a message for the citizen) when the request cannot be paid now."""
    match request.status:
        case PaymentRequestStatus.PAID:
            raise NotPayable(_("Dit bedrag is al volledig betaald. U hoeft niets meer te doen."))
        case PaymentRequestStatus.SUSPENDED:
            raise NotPayable(
                _(
                    "De betaling is opgeschort zolang uw bezwaar behandeld wordt. U hoeft nu"
                    " niet te betalen."
                )
            )
        case PaymentRequestStatus.CANCELLED | PaymentRequestStatus.REFUNDED:
            raise NotPayable(_("Voor dit document hoeft u niet (meer) te betalen."))


# -- recording payments -------------------------------------------------------------------------


def _existing_payment(
    session: Session, method: PaymentMethod, external_id: str | None
) -> Payment | None:
    if not external_id:
        return None
    return session.scalars(
        select(Payment).where(Payment.method == method, Payment.external_id == external_id)
    ).one_or_none()


def _same_payment(existing: Payment, request: PaymentRequest, amount_cents: int) -> Payment:
    if existing.payment_request_id != request.id or existing.amount_cents != amount_cents:
        raise PaymentConflict(
            _(
                "Betaling %(reference)s is al geregistreerd met een ander bedrag of voor een"
                " ander betaalverzoek; ze wordt niet nog eens geteld."
            )
            % {"reference": existing.external_id}
        )
    return existing


def _settle(
    session: Session, request: PaymentRequest, actor: audit.Actor, data: dict[str, Any]
) -> None:
    """Move the request to the status its balance calls for (nothing while suspended,
    cancelled or refunded: those statuses are decided by people)."""
    if request.status not in (
        PaymentRequestStatus.OPEN,
        PaymentRequestStatus.PARTIALLY_PAID,
        PaymentRequestStatus.PAID,
    ):
        return
    totals = balance(session, request)
    target = status_for(totals.paid_cents, request.amount_cents)
    if target is request.status:
        return
    transition(
        session,
        request,
        target,
        actor=actor,
        data={
            **data,
            "paid_cents": totals.paid_cents,
            "amount_cents": request.amount_cents,
            "overpaid_cents": totals.overpaid_cents,
        },
    )


def record_payment(
    session: Session,
    *,
    payment_request: PaymentRequest,
    amount_cents: int,
    method: PaymentMethod,
    external_id: str | None,
    received_at: datetime,
    actor: audit.Actor,
    note: str | None = None,
) -> Payment:
    """Record money received for a request, in the caller's transaction; return the Payment.

    Idempotent by (method, external_id): the same payment again returns the first record
    (PaymentConflict when it comes back with another amount or request). An overpayment is
    accepted (the balance shows it). Money for a suspended request is recorded and counts when
    the request resumes; a cancelled or refunded request refuses it (NotPayable) so the caller
    can send it for review."""
    if amount_cents <= 0:
        raise InvalidInput(_("Een betaling moet een bedrag groter dan nul hebben."))
    existing = _existing_payment(session, method, external_id)
    if existing is not None:
        return _same_payment(existing, payment_request, amount_cents)
    request = _locked(session, payment_request.id)
    if request.status in (PaymentRequestStatus.CANCELLED, PaymentRequestStatus.REFUNDED):
        raise NotPayable(
            _(
                "Betaalverzoek %(ogm)s staat op ‘%(status)s’: een betaling kan er niet meer op"
                " geboekt worden."
            )
            % {
                "ogm": format_ogm(request.structured_communication),
                "status": request.states.label(request.status),
            }
        )
    payment = Payment(
        id=uuid.uuid4(),
        organisation_id=request.organisation_id,
        payment_request_id=request.id,
        amount_cents=amount_cents,
        refunded_cents=0,
        method=method,
        status=PaymentStatus.SUCCEEDED,
        external_id=external_id or None,
        received_at=received_at,
        note=note,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except SAIntegrityError:
        # The same payment recorded at the same moment by another transaction.
        raced = _existing_payment(session, method, external_id)
        if raced is None:
            raise
        return _same_payment(raced, request, amount_cents)
    details = {
        "payment_id": str(payment.id),
        "amount_cents": amount_cents,
        "method": method.value,
        "external_id": external_id,
    }
    audit.record(
        session,
        actor=actor,
        organisation_id=request.organisation_id,
        action="payment.received",
        object_type="payment",
        object_id=payment.id,
        status_after=payment.status.value,
        data={
            "payment_request_id": str(request.id),
            **details,
            "received_at": received_at.isoformat(),
            "note": note,
        },
    )
    _settle(session, request, actor, details)
    return payment


# -- refunds ------------------------------------------------------------------------------------


def refundable_cents(payment: Payment) -> int:
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        return 0
    return payment.amount_cents - payment.refunded_cents


def _locked_payment(session: Session, payment_id: uuid.UUID) -> Payment:
    payment = session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if payment is None:
        raise NotFound(_("Deze betaling bestaat niet."))
    return payment


def check_refund(payment: Payment, amount_cents: int, expected_refundable_cents: int) -> None:
    """Raise when the refund may not go ahead: the refundable amount changed since the
    caller looked (RefundMismatch), or the amount is not between 0 and what is refundable."""
    refundable = refundable_cents(payment)
    if expected_refundable_cents != refundable:
        raise RefundMismatch(
            _(
                "Het bedrag dat nog terugbetaald kan worden, is intussen gewijzigd: nu"
                " %(now)s, u zag %(seen)s. Er is niets terugbetaald; bekijk de betaling opnieuw."
            )
            % {
                "now": format_money(refundable),
                "seen": format_money(expected_refundable_cents),
            }
        )
    if amount_cents <= 0:
        raise InvalidInput(_("Het terug te betalen bedrag moet groter zijn dan nul."))
    if amount_cents > refundable:
        raise InvalidInput(
            _("U kunt hoogstens %(refundable)s terugbetalen.")
            % {"refundable": format_money(refundable)}
        )


def lock_for_refund(
    session: Session, payment: Payment, amount_cents: int, expected_refundable_cents: int
) -> Payment:
    """Lock the payment and check the refund (see `check_refund`); the caller then asks the
    payment provider and records the refund in the same transaction."""
    locked = _locked_payment(session, payment.id)
    check_refund(locked, amount_cents, expected_refundable_cents)
    return locked


def _apply_refund(
    session: Session,
    payment: Payment,
    amount_cents: int,
    *,
    external_id: str | None,
    reason: str | None,
    actor: audit.Actor,
    refunded_at: datetime,
) -> PaymentRefund:
    if external_id:
        existing = session.scalars(
            select(PaymentRefund).where(PaymentRefund.external_id == external_id)
        ).one_or_none()
        if existing is not None:
            return existing
    refund_row = PaymentRefund(
        id=uuid.uuid4(),
        organisation_id=payment.organisation_id,
        payment_id=payment.id,
        amount_cents=amount_cents,
        external_id=external_id or None,
        reason=reason,
        refunded_at=refunded_at,
        actor_label=actor.label,
    )
    session.add(refund_row)
    payment.refunded_cents += amount_cents
    target = (
        PaymentStatus.REFUNDED
        if payment.refunded_cents >= payment.amount_cents
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    details: dict[str, Any] = {
        "payment_request_id": str(payment.payment_request_id),
        "refund_id": str(refund_row.id),
        "amount_cents": amount_cents,
        "refunded_cents": payment.refunded_cents,
        "external_id": external_id,
        "reason": reason,
    }
    transition(session, payment, target, actor=actor, action="payment.refunded", data=details)
    session.flush()
    request = _locked(session, payment.payment_request_id)
    totals = balance(session, request)
    if request.status in (PaymentRequestStatus.PAID, PaymentRequestStatus.PARTIALLY_PAID):
        if totals.paid_cents <= 0:
            transition(session, request, PaymentRequestStatus.REFUNDED, actor=actor, data=details)
        else:
            _settle(session, request, actor, details)
    return refund_row


def refund(
    session: Session,
    *,
    payment: Payment,
    amount_cents: int,
    expected_refundable_cents: int,
    actor: audit.Actor,
    reason: str | None = None,
    external_id: str | None = None,
    refunded_at: datetime | None = None,
) -> PaymentRefund:
    """Record money given back from a payment (by hand for a transfer or at the desk), in the
    caller's transaction. The caller states the refundable amount it showed; a different
    amount now (someone refunded meanwhile) raises RefundMismatch and nothing is refunded.
    Card and Bancontact payments go through `online_payments.refund_online`."""
    locked = lock_for_refund(session, payment, amount_cents, expected_refundable_cents)
    return _apply_refund(
        session,
        locked,
        amount_cents,
        external_id=external_id,
        reason=reason,
        actor=actor,
        refunded_at=refunded_at or utcnow(),
    )


def record_provider_refund(
    session: Session,
    payment: Payment,
    *,
    external_id: str,
    amount_cents: int,
    actor: audit.Actor,
    refunded_at: datetime,
    reason: str | None = None,
) -> PaymentRefund | None:
    """A refund the payment provider reports (Stripe's charge.refunded), recorded once by its
    id. The provider is the truth here: no expected amount, but never more than was paid."""
    locked = _locked_payment(session, payment.id)  # first: a concurrent recording waits here
    existing = session.scalars(
        select(PaymentRefund).where(PaymentRefund.external_id == external_id)
    ).one_or_none()
    if existing is not None:
        return existing
    refundable = refundable_cents(locked)
    if amount_cents <= 0 or refundable <= 0:
        return None
    return _apply_refund(
        session,
        locked,
        min(amount_cents, refundable),
        external_id=external_id,
        reason=reason,
        actor=actor,
        refunded_at=refunded_at,
    )


# -- suspension ---------------------------------------------------------------------------------


def suspend(
    session: Session, payment_request: PaymentRequest, *, actor: audit.Actor, reason: str
) -> None:
    """Stop asking for the money (a dispute is being handled); reminders skip it."""
    request = _locked(session, payment_request.id)
    if request.status is PaymentRequestStatus.SUSPENDED:
        return
    transition(
        session, request, PaymentRequestStatus.SUSPENDED, actor=actor, data={"reason": reason}
    )


def resume(
    session: Session,
    payment_request: PaymentRequest,
    *,
    actor: audit.Actor,
    reason: str,
    due_date: date | None = None,
) -> None:
    """Ask for the money again, at the status its balance calls for (payments received while
    suspended count); optionally with a new due date."""
    request = _locked(session, payment_request.id)
    if request.status is not PaymentRequestStatus.SUSPENDED:
        raise IllegalTransition(
            _("Het betaalverzoek is niet opgeschort (het staat op ‘%(status)s’).")
            % {"status": request.states.label(request.status)}
        )
    totals = balance(session, request)
    data: dict[str, Any] = {"reason": reason, "paid_cents": totals.paid_cents}
    if due_date is not None:
        data["due_date"] = due_date.isoformat()
        request.due_date = due_date
    transition(
        session,
        request,
        status_for(totals.paid_cents, request.amount_cents),
        actor=actor,
        data=data,
    )


# -- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentLine:
    payment: Payment
    refunds: list[PaymentRefund]


def payments_of(session: Session, payment_request: PaymentRequest) -> list[PaymentLine]:
    """The request's payments, oldest first, each with its refunds."""
    payments = session.scalars(
        select(Payment)
        .where(Payment.payment_request_id == payment_request.id)
        .order_by(Payment.received_at, Payment.created_at)
    ).all()
    refunds: dict[uuid.UUID, list[PaymentRefund]] = {}
    if payments:
        for row in session.scalars(
            select(PaymentRefund)
            .where(PaymentRefund.payment_id.in_([p.id for p in payments]))
            .order_by(PaymentRefund.refunded_at)
        ):
            refunds.setdefault(row.payment_id, []).append(row)
    return [PaymentLine(p, refunds.get(p.id, [])) for p in payments]
