"""Paying online through Stripe Checkout (card and Bancontact), and the webhook that follows.

- `start_checkout`: a Checkout Session for what is still due, with an idempotency key and the
  payment request's id in its metadata; an open session for the same amount is reused.
- `fulfil_checkout`: THE one function that turns a paid session into a Payment. The webhook
  and the citizen's return page both call it, in whatever order; it asks Stripe for the
  session as it stands (never trusting the event's copy) and records the payment through
  `payments.record_payment`, idempotent by (method, session id) — so exactly once.
- `handle_webhook`: verifies `Stripe-Signature` over the raw body (timestamp tolerance, every
  configured secret during rotation), stores each event id once (a replay is a no-op) and
  handles checkout.session.completed / async_payment_succeeded / async_payment_failed /
  expired and charge.refunded, in any order.
- `refund_online`: a refund through Stripe, guarded like every refund by the refundable
  amount the caller saw; the idempotency key is derived from that state, so a double click
  refunds once even if the first answer got lost.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import utcnow
from shared.errors import DomainError, InvalidInput
from shared.i18n import gettext as _
from shared.integrations.stripe import signatures
from shared.integrations.stripe.client import StripeGateway, gateway
from shared.integrations.stripe.types import CheckoutSession as StripeSession
from shared.integrations.stripe.types import StripeFailure
from shared.models.documents import Document
from shared.models.payments import (
    CheckoutSession,
    CheckoutStatus,
    Payment,
    PaymentMethod,
    PaymentRefund,
    PaymentRequest,
    StripeEvent,
)
from shared.services import audit, payments

log = logging.getLogger(__name__)

STRIPE_ACTOR = audit.Actor(type="system", id="stripe", label="Stripe")

CHECKOUT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)


class PaymentProviderUnavailable(DomainError):
    status_code = 502
    code = "payment_provider_unavailable"


class WebhookRefused(DomainError):
    """A webhook whose signature does not hold: 400, nothing changed."""

    status_code = 400
    code = "webhook_refused"


class CheckoutMismatch(DomainError):
    code = "checkout_mismatch"


GatewayFactory = Callable[[], StripeGateway]


# -- starting a payment ---------------------------------------------------------------------


def start_checkout(
    session: Session,
    *,
    document: Document,
    success_url: str,
    cancel_url: str,
    actor: audit.Actor,
    stripe: StripeGateway | None = None,
) -> str:
    """The URL of a Stripe Checkout page for what is still due on the document.

    NotPayable (a Dutch message) when there is nothing to pay now: paid already, suspended,
    cancelled. `success_url` may hold `{CHECKOUT_SESSION_ID}`, which Stripe fills in."""
    request = payments.request_for_document(session, document.id)
    if request is None:
        raise payments.NotPayable(_("Voor dit document hoeft u niets te betalen."))
    if not get_settings().stripe_enabled:
        raise PaymentProviderUnavailable(
            _(
                "Online betalen lukt op dit moment niet. Probeer het later opnieuw, of betaal"
                " met een overschrijving."
            )
        )
    payments.ensure_payable(request)
    outstanding = payments.balance(session, request).outstanding_cents
    if outstanding <= 0:
        raise payments.NotPayable(
            _("Dit bedrag is al volledig betaald. U hoeft niets meer te doen.")
        )
    soon = utcnow() + timedelta(minutes=5)
    reusable = session.scalars(
        select(CheckoutSession)
        .where(
            CheckoutSession.payment_request_id == request.id,
            CheckoutSession.status == CheckoutStatus.OPEN,
            CheckoutSession.amount_cents == outstanding,
        )
        .order_by(CheckoutSession.created_at.desc())
    ).first()
    client = stripe or gateway()
    if (
        reusable is not None
        and reusable.url
        and (reusable.expires_at is None or reusable.expires_at > soon)
        and reusable.idempotency_key.endswith(f":{success_url}")
    ):
        # A second click: the same page, if Stripe still has it open.
        try:
            current = client.retrieve_checkout_session(reusable.id)
        except StripeFailure:
            current = None
        if current is not None and current.status == "open":
            return reusable.url
        if current is not None and current.payment_status == "paid":
            # Paid, and the webhook has not told us yet: count it now, ask nothing twice.
            fulfil_checkout(session, reusable.id, stripe=client)
            payments.ensure_payable(request)
            outstanding = payments.balance(session, request).outstanding_cents
            if outstanding <= 0:
                raise payments.NotPayable(
                    _("Dit bedrag is al volledig betaald. U hoeft niets meer te doen.")
                )
        elif current is not None and current.status in {s.value for s in CheckoutStatus}:
            reusable.status = CheckoutStatus(current.status)
            reusable.payment_status = current.payment_status or reusable.payment_status
    attempt = (
        session.scalar(
            select(func.count())
            .select_from(CheckoutSession)
            .where(CheckoutSession.payment_request_id == request.id)
        )
        or 0
    )
    key = f"zegel-checkout:{request.id}:{attempt}:{outstanding}:{success_url}"
    try:
        created = client.create_checkout_session(
            amount_cents=outstanding,
            description=document.title,
            payment_request_id=str(request.id),
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=key[:255],
            metadata={"document_id": str(document.id)},
        )
    except StripeFailure as failure:
        log.warning("Stripe refused a checkout session: %s", failure.message)
        raise PaymentProviderUnavailable(
            _(
                "Online betalen lukt op dit moment niet. Probeer het later opnieuw, of betaal"
                " met een overschrijving."
            )
        ) from None
    row = session.get(CheckoutSession, created.id)
    if row is None:
        row = CheckoutSession(
            id=created.id,
            organisation_id=request.organisation_id,
            payment_request_id=request.id,
            amount_cents=outstanding,
            url=created.url,
            status=CheckoutStatus.OPEN,
            payment_status=created.payment_status or "unpaid",
            idempotency_key=key[:255],
            expires_at=created.expires_at,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            organisation_id=request.organisation_id,
            action="payment_request.checkout_started",
            object_type="payment_request",
            object_id=request.id,
            data={"checkout_session": created.id, "amount_cents": outstanding},
        )
    if not created.url:
        raise PaymentProviderUnavailable(_("Online betalen lukt op dit moment niet."))
    return created.url


# -- fulfilment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fulfilment:
    outcome: str
    """paid, pending, open, expired, failed, amount_mismatch, refused or unknown."""
    payment_request: PaymentRequest | None = None
    payment: Payment | None = None
    message: str | None = None
    """For the citizen, when the outcome needs one (Dutch)."""


def _row_for(
    session: Session, found: StripeSession
) -> tuple[CheckoutSession | None, PaymentRequest | None]:
    row = session.get(CheckoutSession, found.id)
    request_id = found.metadata.get("payment_request_id")
    if row is not None:
        if request_id and request_id != str(row.payment_request_id):
            raise CheckoutMismatch("checkout session metadata names another payment request")
        return row, session.get(PaymentRequest, row.payment_request_id)
    # A session Zegel made but whose row was lost (the transaction that created it failed
    # after Stripe answered): the metadata says whose it is.
    try:
        request = session.get(PaymentRequest, uuid.UUID(request_id or ""))
    except ValueError:
        return None, None
    if request is None:
        return None, None
    row = CheckoutSession(
        id=found.id,
        organisation_id=request.organisation_id,
        payment_request_id=request.id,
        amount_cents=found.amount_total or 0,
        url=found.url,
        status=CheckoutStatus.OPEN,
        payment_status=found.payment_status or "unpaid",
        idempotency_key=f"stripe:{found.id}",
        expires_at=found.expires_at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except SAIntegrityError:
        row = session.get(CheckoutSession, found.id)
    return row, request


def fulfil_checkout(
    session: Session,
    checkout_session_id: str,
    *,
    actor: audit.Actor = STRIPE_ACTOR,
    stripe: StripeGateway | None = None,
) -> Fulfilment:
    """Bring Zegel in line with the Checkout Session as Stripe has it now; record its
    payment once when it is paid. Safe to call any number of times, from anywhere."""
    client = stripe or gateway()
    found = client.retrieve_checkout_session(checkout_session_id)
    try:
        row, request = _row_for(session, found)
    except CheckoutMismatch:
        log.warning("checkout session %s: metadata does not match", checkout_session_id)
        return Fulfilment("unknown")
    if row is None or request is None:
        return Fulfilment("unknown")
    if found.status in {s.value for s in CheckoutStatus}:
        row.status = CheckoutStatus(found.status)
    row.payment_status = found.payment_status or row.payment_status
    row.payment_intent_id = found.payment_intent_id or row.payment_intent_id
    if found.payment_status != "paid":
        if found.status == "expired":
            return Fulfilment("expired", request)
        if found.status == "complete":  # an asynchronous method still on its way, or failed
            return Fulfilment("pending", request)
        return Fulfilment("open", request)
    if found.amount_total != row.amount_cents or (found.currency or "").lower() != "eur":
        _flag(session, request, row, "amount_mismatch", found)
        return Fulfilment(
            "amount_mismatch",
            request,
            message=_(
                "Het betaalde bedrag komt niet overeen met het gevraagde bedrag. De dienst"
                " financiën bekijkt uw betaling; u hoeft niets te doen."
            ),
        )
    method = (
        PaymentMethod.BANCONTACT
        if found.payment_method_type == "bancontact"
        else PaymentMethod.CARD
    )
    existing = session.scalars(
        select(Payment).where(
            Payment.external_id == found.id, Payment.method.in_(payments.ONLINE_METHODS)
        )
    ).first()
    if existing is not None:
        return Fulfilment("paid", request, existing)
    try:
        payment = payments.record_payment(
            session,
            payment_request=request,
            amount_cents=row.amount_cents,
            method=method,
            external_id=found.id,
            received_at=found.paid_at or utcnow(),
            actor=actor,
            note=f"Stripe {found.payment_intent_id}",
        )
    except payments.NotPayable as refused:
        _flag(session, request, row, "refused", found)
        return Fulfilment("refused", request, message=refused.message)
    return Fulfilment("paid", request, payment)


def _flag(
    session: Session,
    request: PaymentRequest,
    row: CheckoutSession,
    problem: str,
    found: StripeSession,
) -> None:
    """Money Stripe took that Zegel does not count: recorded once for finance to look at."""
    action = f"payment_request.online_{problem}"
    seen = session.scalar(
        select(func.count())
        .select_from(StripeEvent)
        .where(StripeEvent.object_id == f"flag:{row.id}:{problem}")
    )
    if seen:
        return
    session.add(
        StripeEvent(
            id=f"flag:{row.id}:{problem}",
            type=action,
            object_id=f"flag:{row.id}:{problem}",
            received_at=utcnow(),
            outcome=problem,
            data={"amount_total": found.amount_total, "currency": found.currency},
        )
    )
    audit.record(
        session,
        actor=STRIPE_ACTOR,
        organisation_id=request.organisation_id,
        action=action,
        object_type="payment_request",
        object_id=request.id,
        data={
            "checkout_session": row.id,
            "asked_cents": row.amount_cents,
            "paid_cents": found.amount_total,
            "currency": found.currency,
            "payment_intent": found.payment_intent_id,
        },
    )


# -- webhooks -------------------------------------------------------------------------------


def verify_webhook(payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """The event in a webhook body whose signature holds; WebhookRefused otherwise."""
    settings = get_settings()
    try:
        signatures.verify(
            payload,
            signature_header,
            settings.stripe_webhook_secret_values,
            tolerance=settings.stripe_webhook_tolerance_seconds,
        )
    except signatures.SignatureError as error:
        log.warning("Stripe webhook refused: %s", error)
        raise WebhookRefused(_("De handtekening van deze webhook klopt niet.")) from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookRefused(_("Deze webhook is geen geldige JSON.")) from None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookRefused(_("Deze webhook is geen Stripe-gebeurtenis."))
    return event


def handle_webhook(
    session: Session,
    payload: bytes,
    signature_header: str | None,
    *,
    stripe: StripeGateway | None = None,
) -> str:
    """Verify and handle one webhook delivery in the caller's transaction; return what
    happened. A failure of Stripe's API raises (the transaction rolls back, the endpoint
    answers 5xx and Stripe delivers again later)."""
    event = verify_webhook(payload, signature_header)
    event_id, event_type = str(event["id"]), str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    object_id = str(obj.get("id")) if isinstance(obj, dict) and obj.get("id") else None
    record = StripeEvent(
        id=event_id,
        type=event_type,
        object_id=object_id,
        received_at=utcnow(),
        outcome="received",
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except SAIntegrityError:
        return "duplicate"
    client = stripe or gateway()
    if event_type in CHECKOUT_EVENTS and object_id:
        outcome = fulfil_checkout(session, object_id, stripe=client).outcome
        if event_type == "checkout.session.async_payment_failed" and outcome != "paid":
            outcome = "failed"
    elif event_type == "charge.refunded" and isinstance(obj, dict):
        outcome = _charge_refunded(session, obj, client)
    else:
        outcome = "ignored"
    record.outcome = outcome
    return outcome


def _charge_refunded(session: Session, charge: dict[str, Any], client: StripeGateway) -> str:
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str):
        return "unknown"
    row = session.scalars(
        select(CheckoutSession).where(CheckoutSession.payment_intent_id == intent_id)
    ).first()
    if row is None:
        # The refund's event came before the payment's: fulfil the session first.
        for found in client.sessions_for_payment_intent(intent_id):
            fulfil_checkout(session, found.id, stripe=client)
        row = session.scalars(
            select(CheckoutSession).where(CheckoutSession.payment_intent_id == intent_id)
        ).first()
    if row is None:
        return "unknown"
    payment = session.scalars(
        select(Payment).where(
            Payment.external_id == row.id, Payment.method.in_(payments.ONLINE_METHODS)
        )
    ).first()
    if payment is None:
        return "unknown"
    recorded = 0
    # Stripe's list, not the event's copy: complete whatever order the events come in.
    for refund in client.refunds_for_payment_intent(intent_id):
        if refund.status not in ("succeeded", "pending"):
            continue
        before = payment.refunded_cents
        payments.record_provider_refund(
            session,
            payment,
            external_id=refund.id,
            amount_cents=refund.amount,
            actor=STRIPE_ACTOR,
            refunded_at=refund.created or utcnow(),
            reason="Stripe",
        )
        session.refresh(payment)
        recorded += payment.refunded_cents - before
    return "refunded" if recorded else "refund_known"


# -- refunds --------------------------------------------------------------------------------


def refund_online(
    session: Session,
    *,
    payment: Payment,
    amount_cents: int,
    expected_refundable_cents: int,
    actor: audit.Actor,
    reason: str | None = None,
    stripe: StripeGateway | None = None,
) -> PaymentRefund:
    """Give money back through Stripe for a card or Bancontact payment, in the caller's
    transaction. RefundMismatch when the refundable amount is not what the caller saw
    (someone refunded meanwhile): nothing is refunded."""
    if payment.method not in payments.ONLINE_METHODS:
        raise InvalidInput(
            _(
                "Deze betaling kwam niet online binnen; een terugbetaling ervan gebeurt per"
                " overschrijving en wordt met de hand geregistreerd."
            )
        )
    locked = payments.lock_for_refund(session, payment, amount_cents, expected_refundable_cents)
    row = session.get(CheckoutSession, locked.external_id or "")
    if row is None or not row.payment_intent_id:
        raise InvalidInput(_("Bij deze betaling hoort geen Stripe-betaling."))
    key = f"zegel-refund:{locked.id}:{locked.refunded_cents}:{amount_cents}"
    client = stripe or gateway()
    try:
        refund = client.create_refund(
            payment_intent_id=row.payment_intent_id,
            amount_cents=amount_cents,
            idempotency_key=key,
            metadata={"payment_id": str(locked.id)},
        )
    except StripeFailure as failure:
        log.warning("Stripe refused a refund: %s", failure.message)
        raise PaymentProviderUnavailable(
            _("Stripe voerde de terugbetaling niet uit: %(reason)s") % {"reason": failure.message}
        ) from None
    recorded = payments.record_provider_refund(
        session,
        locked,
        external_id=refund.id,
        amount_cents=refund.amount,
        actor=actor,
        refunded_at=refund.created or utcnow(),
        reason=reason,
    )
    assert recorded is not None
    return recorded
