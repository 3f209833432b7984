"""Acceptance: 1,000 webhook deliveries, with duplicates and in shuffled order, through HTTP,
leave every payment counted exactly once and every amount right."""

from __future__ import annotations

import json
import random
from collections import Counter

from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.integrations.stripe import signatures
from shared.models import (
    AuditEvent,
    Payment,
    PaymentMethod,
    PaymentRefund,
    PaymentRequest,
    PaymentRequestStatus,
    StripeEvent,
)
from shared.services import online_payments, payments
from shared.web import ZegelApp
from tests import factories
from tests.integration.payments.conftest import (
    ACTOR,
    OLD_SECRET,
    WEBHOOK_SECRET,
    Stripe,
    document_to_pay,
)

REQUESTS = 120
DELIVERIES = 1000


def test_a_thousand_shuffled_and_repeated_events_count_every_payment_once(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    expected: dict[str, dict[str, object]] = {}
    for index in range(REQUESTS):
        amount = 1000 + index * 37
        document, request = document_to_pay(session, org, amount, title=f"Aanslag {index}")
        if index % 5 == 0:
            # A first attempt that expires unpaid: its event must change nothing.
            first = online_payments.start_checkout(
                session,
                document=document,
                success_url="http://x/a",
                cancel_url="http://x/b",
                actor=ACTOR,
            )
            stripe.sandbox.expire(first.rsplit("/", 1)[1])
        url = online_payments.start_checkout(
            session,
            document=document,
            success_url="http://x/ok",
            cancel_url="http://x/no",
            actor=ACTOR,
        )
        method = "bancontact" if index % 2 else "card"
        paid = stripe.sandbox.pay(url.rsplit("/", 1)[1], method)
        refunded = 0
        if index % 4 == 0:  # refunded in Stripe's dashboard, in one or two parts
            part = amount // 3
            stripe.sandbox.create_refund(
                {"payment_intent": paid["payment_intent"], "amount": str(part)}
            )
            refunded += part
            if index % 8 == 0:
                stripe.sandbox.create_refund(
                    {"payment_intent": paid["payment_intent"], "amount": "100"}
                )
                refunded += 100
        expected[str(request.id)] = {
            "amount": amount,
            "method": PaymentMethod(method),
            "refunded": refunded,
            "session": paid["id"],
        }
    session.commit()

    events = list(stripe.sandbox.events)
    counts = Counter(e["type"] for e in events)
    assert counts["checkout.session.completed"] == REQUESTS
    assert counts["checkout.session.expired"] == REQUESTS // 5
    assert counts["charge.refunded"] == REQUESTS // 4 + REQUESTS // 8
    rng = random.Random(20261129)
    deliveries = events + [rng.choice(events) for _ in range(DELIVERIES - len(events))]
    rng.shuffle(deliveries)
    assert len(deliveries) == DELIVERIES

    outcomes: Counter[str] = Counter()
    for number, event in enumerate(deliveries):
        body = json.dumps(event).encode()
        # A rotation is under way: some deliveries are signed with the old secret.
        secret = OLD_SECRET if number % 7 == 0 else WEBHOOK_SECRET
        answer = portal.post(
            "/webhooks/stripe",
            content=body,
            headers={"stripe-signature": signatures.sign(body, [secret])},
        )
        assert answer.status_code == 200, answer.text
        outcomes[answer.json()["outcome"]] += 1
    assert outcomes["duplicate"] == DELIVERIES - len(events)

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StripeEvent)) == len(events)
    assert session.scalar(select(func.count()).select_from(Payment)) == REQUESTS
    for request in session.scalars(select(PaymentRequest)):
        want = expected[str(request.id)]
        lines = payments.payments_of(session, request)
        assert len(lines) == 1, request.id
        payment = lines[0].payment
        assert payment.amount_cents == want["amount"]
        assert payment.method is want["method"]
        assert payment.external_id == want["session"]
        assert payment.refunded_cents == want["refunded"]
        assert sum(r.amount_cents for r in lines[0].refunds) == want["refunded"]
        totals = payments.balance(session, request)
        assert totals.paid_cents == want["amount"] - want["refunded"]  # type: ignore[operator]
        assert request.status is (
            PaymentRequestStatus.PARTIALLY_PAID if want["refunded"] else PaymentRequestStatus.PAID
        )
    assert session.scalar(select(func.count()).select_from(PaymentRefund)) == (
        REQUESTS // 4 + REQUESTS // 8
    )
    # Every request became paid exactly once (the event lead times and the portal read).
    paid_events = session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == "payment_request.paid")
    ).all()
    assert sorted(paid_events) == sorted(expected)
