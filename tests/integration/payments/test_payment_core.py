"""Payment requests and payments in the service layer: one request per document with an amount
due, payments counted once, the status that follows from the balance, refunds guarded against
being done twice, suspension, and clear refusals."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.errors import FieldErrors, IllegalTransition, InvalidInput
from shared.models import (
    AuditEvent,
    Document,
    Payment,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentStatus,
    RecipientKind,
)
from shared.services import audit, payments
from shared.services.demo_data import load_demo_data
from shared.services.payment_references import is_valid_ogm
from shared.services.registration import LetterInput, RecipientInput, register_letter
from shared.timeutil import today
from tests import factories, intake_pdfs

ACTOR = audit.Actor.system("test")


class Org:
    def __init__(self, organisation_id: uuid.UUID) -> None:
        self.organisation_id = organisation_id


def _letter(**changes: object) -> LetterInput:
    base = LetterInput(
        title="Retributie standplaats",
        file_name="brief.pdf",
        content=intake_pdfs.letter(),
        recipient=RecipientInput(
            kind=RecipientKind.CITIZEN,
            name="Ann Peeters",
            national_register_number="85.07.30-033.28",
            street="Kerkstraat 1",
            postal_code="9999",
            city="Testdorp",
        ),
        amount_due_cents=12550,
        due_date=today() + timedelta(days=30),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _request(session: Session, amount_cents: int = 10000) -> PaymentRequest:
    org = factories.organisation(session)
    document = factories.document(session, org, factories.citizen(session, org))
    document.amount_due_cents = amount_cents
    document.due_date = date(2026, 12, 31)
    request = payments.create_for_document(session, document, actor=ACTOR)
    assert request is not None
    return request


def _pay(
    session: Session,
    request: PaymentRequest,
    cents: int,
    external_id: str | None,
    method: PaymentMethod = PaymentMethod.BANK_TRANSFER,
) -> Payment:
    return payments.record_payment(
        session,
        payment_request=request,
        amount_cents=cents,
        method=method,
        external_id=external_id,
        received_at=utcnow(),
        actor=ACTOR,
    )


def test_registering_a_letter_with_an_amount_creates_its_payment_request(
    session: Session,
) -> None:
    org = factories.organisation(session)
    registered = register_letter(session, Org(org.id), _letter(), ACTOR)
    document = registered.documents[0]
    request = payments.request_for_document(session, document.id)
    assert request is not None
    assert request.amount_cents == 12550
    assert request.due_date == today() + timedelta(days=30)
    assert request.iban == "BE71096123456769"
    assert request.bic == "GKCCBEBB"
    assert request.status is PaymentRequestStatus.OPEN
    assert is_valid_ogm(request.structured_communication)
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(request.id))
    ).all()
    assert events == ["payment_request.created"]
    # No amount, no request.
    other = register_letter(
        session, Org(org.id), _letter(amount_due_cents=None, due_date=None), ACTOR
    )
    assert payments.request_for_document(session, other.documents[0].id) is None


def test_an_organisation_without_iban_cannot_ask_for_money(session: Session) -> None:
    org = factories.organisation(session)
    org.iban = None
    with pytest.raises(FieldErrors) as caught:
        register_letter(session, Org(org.id), _letter(), ACTOR)
    assert "geen IBAN-rekeningnummer" in caught.value.errors["amount_due"]
    assert session.scalar(select(func.count()).select_from(Document)) == 0
    # A letter without an amount needs no account.
    register_letter(session, Org(org.id), _letter(amount_due_cents=None, due_date=None), ACTOR)


def test_an_invalid_iban_is_named(session: Session) -> None:
    org = factories.organisation(session)
    org.iban = "BE00 1234"
    with pytest.raises(FieldErrors) as caught:
        register_letter(session, Org(org.id), _letter(), ACTOR)
    assert "niet geldig" in caught.value.errors["amount_due"]


def test_each_request_gets_its_own_communication(session: Session) -> None:
    org = factories.organisation(session)
    recipient = factories.citizen(session, org)
    seen = set()
    for _ in range(30):
        document = factories.document(session, org, recipient)
        document.amount_due_cents = 500
        request = payments.create_for_document(session, document, actor=ACTOR)
        assert request is not None
        seen.add(request.structured_communication)
        # Asking again gives the same request.
        assert payments.create_for_document(session, document, actor=ACTOR) is request
    assert len(seen) == 30


def test_the_demo_documents_with_an_amount_have_requests(session: Session) -> None:
    load_demo_data(session)
    with_amount = session.scalars(
        select(Document).where(Document.amount_due_cents.is_not(None))
    ).all()
    assert len(with_amount) == 3
    for document in with_amount:
        request = payments.request_for_document(session, document.id)
        assert request is not None
        assert request.amount_cents == document.amount_due_cents


def test_partial_then_full_then_over_payment(session: Session) -> None:
    request = _request(session, 10000)
    _pay(session, request, 4000, "line-1")
    assert request.status is PaymentRequestStatus.PARTIALLY_PAID
    _pay(session, request, 3000, "line-2")  # still partial: no transition, one more payment
    assert request.status is PaymentRequestStatus.PARTIALLY_PAID
    assert payments.balance(session, request).outstanding_cents == 3000
    _pay(session, request, 5000, "line-3")
    assert request.status is PaymentRequestStatus.PAID
    totals = payments.balance(session, request)
    assert (totals.paid_cents, totals.outstanding_cents, totals.overpaid_cents) == (12000, 0, 2000)
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_id == str(request.id))
        .order_by(AuditEvent.sequence)
    ).all()
    assert actions == [
        "payment_request.created",
        "payment_request.partially_paid",
        "payment_request.paid",
    ]
    paid = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "payment_request.paid")
    ).one()
    assert paid.data["overpaid_cents"] == 2000
    assert paid.object_type == "payment_request"
    received = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "payment.received")
    ).all()
    assert len(received) == 3
    assert audit.verify_all(session) == []


def test_the_same_payment_is_counted_once(session: Session) -> None:
    request = _request(session, 10000)
    first = _pay(session, request, 10000, "cs_1", PaymentMethod.CARD)
    again = _pay(session, request, 10000, "cs_1", PaymentMethod.CARD)
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert payments.balance(session, request).paid_cents == 10000
    with pytest.raises(payments.PaymentConflict, match="ander bedrag"):
        _pay(session, request, 9000, "cs_1", PaymentMethod.CARD)
    # The same reference with another method is another payment (another source).
    _pay(session, request, 100, "cs_1", PaymentMethod.CASH)
    assert payments.balance(session, request).overpaid_cents == 100


def test_a_payment_of_nothing_is_refused(session: Session) -> None:
    request = _request(session)
    with pytest.raises(InvalidInput, match="groter dan nul"):
        _pay(session, request, 0, "x")


def test_refund_states_the_refundable_amount_and_cannot_happen_twice(session: Session) -> None:
    request = _request(session, 10000)
    payment = _pay(session, request, 10000, "line-1")
    payments.refund(
        session,
        payment=payment,
        amount_cents=2500,
        expected_refundable_cents=10000,
        actor=ACTOR,
        reason="Te veel aangerekend",
    )
    assert payment.refunded_cents == 2500
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert request.status is PaymentRequestStatus.PARTIALLY_PAID
    # The same click again (the caller still saw 100 euro refundable): refused, nothing changes.
    with pytest.raises(payments.RefundMismatch, match="intussen gewijzigd") as caught:
        payments.refund(
            session,
            payment=payment,
            amount_cents=2500,
            expected_refundable_cents=10000,
            actor=ACTOR,
        )
    assert caught.value.status_code == 412
    assert payment.refunded_cents == 2500
    with pytest.raises(InvalidInput, match="hoogstens"):
        payments.refund(
            session, payment=payment, amount_cents=9000, expected_refundable_cents=7500, actor=ACTOR
        )
    payments.refund(
        session, payment=payment, amount_cents=7500, expected_refundable_cents=7500, actor=ACTOR
    )
    assert payment.status is PaymentStatus.REFUNDED
    assert request.status is PaymentRequestStatus.REFUNDED
    assert payments.refundable_cents(payment) == 0
    with pytest.raises(payments.NotPayable, match="terugbetaald"):
        _pay(session, request, 100, "line-9")


def test_refunding_an_overpayment_keeps_the_request_paid(session: Session) -> None:
    request = _request(session, 10000)
    payment = _pay(session, request, 12000, "line-1")
    payments.refund(
        session, payment=payment, amount_cents=2000, expected_refundable_cents=12000, actor=ACTOR
    )
    assert request.status is PaymentRequestStatus.PAID
    assert payments.balance(session, request).overpaid_cents == 0


def test_provider_refunds_are_recorded_once_by_their_id(session: Session) -> None:
    request = _request(session, 10000)
    payment = _pay(session, request, 10000, "cs_1", PaymentMethod.BANCONTACT)
    for _ in range(3):
        payments.record_provider_refund(
            session,
            payment,
            external_id="re_1",
            amount_cents=4000,
            actor=ACTOR,
            refunded_at=utcnow(),
        )
    assert payment.refunded_cents == 4000
    payments.record_provider_refund(
        session, payment, external_id="re_2", amount_cents=9000, actor=ACTOR, refunded_at=utcnow()
    )
    assert payment.refunded_cents == 10000  # never more than was paid


def test_suspend_and_resume(session: Session) -> None:
    request = _request(session, 10000)
    payments.suspend(session, request, actor=ACTOR, reason="Bezwaar B-2026-0001")
    assert request.status is PaymentRequestStatus.SUSPENDED
    with pytest.raises(payments.NotPayable, match="opgeschort"):
        payments.ensure_payable(request)
    # A transfer already under way is recorded; it counts when the request resumes.
    _pay(session, request, 10000, "line-1")
    assert request.status is PaymentRequestStatus.SUSPENDED
    payments.resume(session, request, actor=ACTOR, reason="Bezwaar ongegrond")
    assert request.status is PaymentRequestStatus.PAID
    with pytest.raises(payments.NotPayable, match="al volledig betaald"):
        payments.ensure_payable(request)
    with pytest.raises(IllegalTransition, match="niet opgeschort"):
        payments.resume(session, request, actor=ACTOR, reason="again")


def test_resume_with_a_new_due_date_reopens(session: Session) -> None:
    request = _request(session, 10000)
    payments.suspend(session, request, actor=ACTOR, reason="Bezwaar")
    payments.resume(
        session, request, actor=ACTOR, reason="Bezwaar ongegrond", due_date=date(2027, 2, 1)
    )
    assert request.status is PaymentRequestStatus.OPEN
    assert request.due_date == date(2027, 2, 1)
    payments.ensure_payable(request)  # open: no error


def test_a_paid_request_cannot_be_suspended(session: Session) -> None:
    request = _request(session, 1000)
    _pay(session, request, 1000, "line-1")
    with pytest.raises(IllegalTransition, match="betaald"):
        payments.suspend(session, request, actor=ACTOR, reason="Bezwaar")


def test_the_timeline_of_a_request_in_words(session: Session) -> None:
    from shared.services.timeline import payment_request_timeline

    request = _request(session, 10000)
    payment = _pay(session, request, 4000, "line-1")
    _pay(session, request, 6000, "line-2", PaymentMethod.BANCONTACT)
    payments.refund(
        session, payment=payment, amount_cents=1000, expected_refundable_cents=4000, actor=ACTOR
    )
    texts = [
        e.text.replace("\xa0", " ")
        for e in payment_request_timeline(session, request.organisation_id, request.id)
    ]
    assert texts == [
        "Betaalverzoek van € 100,00 aangemaakt",
        "€ 40,00 ontvangen (overschrijving)",
        "Betaalverzoek: gedeeltelijk betaald",
        "€ 60,00 ontvangen (Bancontact)",
        "Betaalverzoek: betaald",
        "€ 10,00 terugbetaald",
        "Betaalverzoek: gedeeltelijk betaald",
    ]
