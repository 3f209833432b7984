"""Paying online through HTTP: Betalen → Stripe Checkout (the sandbox, through the real SDK) →
back to the document; the webhook with its signature, replays, any order; refunds through
Stripe; paying without login with the letter's code; and the refusals."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.errors import InvalidInput
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
    login,
)


def _csrf(portal: TestClient[ZegelApp], path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', portal.get(path).text)
    assert match, path
    return match.group(1)


def _betalen(portal: TestClient[ZegelApp], token: str) -> Any:
    csrf = _csrf(portal, f"/d/{token}")
    return portal.post(f"/d/{token}/betalen", data={"_csrf_token": csrf}, follow_redirects=False)


def _session_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _post_event(
    portal: TestClient[ZegelApp], event: dict[str, Any], secret: str = WEBHOOK_SECRET, **kw: Any
) -> Any:
    body = json.dumps(event).encode()
    header = signatures.sign(body, [secret], kw.pop("timestamp", None))
    return portal.post(
        "/webhooks/stripe",
        content=body,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )


def _count(session: Session, model: Any) -> int:
    """Rows of `model` now; ends the test's transaction (SQLite: apps may write again)."""
    session.expire_all()
    count = int(session.scalar(select(func.count()).select_from(model)) or 0)
    session.commit()  # ends the read (a rollback would expire what the test reads next)
    return count


def test_betalen_checkout_return_and_webhook_count_the_payment_once(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    document, request = document_to_pay(session, org, 12550)
    login(session, portal)
    session.commit()

    page = portal.get(f"/d/{document.public_token}")
    assert page.status_code == 200
    text = page.text
    assert "BE71 0961 2345 6769" in text
    assert payments.format_ogm(request.structured_communication) in text
    assert '<svg role="img"' in text  # the EPC QR code, inline
    assert "€ 125,50" in text or "€\xa0125,50" in text

    started = _betalen(portal, document.public_token)
    assert started.status_code == 303
    url = started.headers["location"]
    assert url.startswith(stripe.base_url + "/checkout/cs_test_")
    checkout_id = _session_id(url)
    created = stripe.sandbox.sessions[checkout_id]
    assert created["metadata"]["payment_request_id"] == str(request.id)
    assert created["amount_total"] == 12550
    assert created["currency"] == "eur"
    assert created["payment_method_types"] == ["card", "bancontact"]
    assert created["success_url"].endswith(
        f"/d/{document.public_token}/betaald?sessie={{CHECKOUT_SESSION_ID}}"
    )
    # A second click gives the same checkout page, not a second session.
    assert _betalen(portal, document.public_token).headers["location"] == url
    assert len(stripe.sandbox.sessions) == 1

    stripe.sandbox.pay(checkout_id, "bancontact")
    back = portal.get(
        f"/d/{document.public_token}/betaald?sessie={checkout_id}", follow_redirects=False
    )
    assert back.status_code == 303
    assert back.headers["location"] == f"/d/{document.public_token}?betaling=betaald#betalen"
    # Reloading the return page, then the webhook: still one payment.
    portal.get(f"/d/{document.public_token}/betaald?sessie={checkout_id}")
    completed = stripe.sandbox.events[-1]
    assert completed["type"] == "checkout.session.completed"
    answer = _post_event(portal, completed)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "paid"
    assert _post_event(portal, completed).json()["outcome"] == "duplicate"

    payment = session.scalars(select(Payment)).one()
    assert payment.amount_cents == 12550
    assert payment.method is PaymentMethod.BANCONTACT
    assert payment.external_id == checkout_id
    session.refresh(request)
    assert request.status is PaymentRequestStatus.PAID
    paid_events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "payment_request.paid")
    ).all()
    assert len(paid_events) == 1
    session.commit()  # ends the read; a rollback would expire what the test still reads

    shown = portal.get(f"/d/{document.public_token}?betaling=betaald").text
    assert "Bedankt! Uw betaling is ontvangen." in shown
    assert "betaald" in shown
    assert "Volledig betaald" in shown  # the citizen's timeline
    assert 'action="/d/' not in shown.split('id="betalen"', 1)[1].split("</div>", 1)[0]


def test_the_webhook_may_come_before_the_return(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, _request = document_to_pay(session, org, 5000)
    login(session, portal)
    session.commit()
    checkout_id = _session_id(_betalen(portal, document.public_token).headers["location"])
    stripe.sandbox.pay(checkout_id, "card")
    assert _post_event(portal, stripe.sandbox.events[-1]).json()["outcome"] == "paid"
    back = portal.get(
        f"/d/{document.public_token}/betaald?sessie={checkout_id}", follow_redirects=False
    )
    assert back.headers["location"].endswith("?betaling=betaald#betalen")
    assert _count(session, Payment) == 1
    assert session.scalars(select(Payment)).one().method is PaymentMethod.CARD


def test_cancel_and_a_failed_attempt_record_nothing(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, _request = document_to_pay(session, org, 5000)
    login(session, portal)
    session.commit()
    url = _betalen(portal, document.public_token).headers["location"]
    import httpx

    declined = httpx.post(url, data={"keuze": "weigeren-bancontact"})
    assert "niet bevestigd" in declined.text
    cancelled = httpx.post(url, data={"keuze": "annuleren"}, follow_redirects=False)
    assert cancelled.status_code == 303
    target = cancelled.headers["location"]
    assert target.endswith(f"/d/{document.public_token}?betaling=geannuleerd#betalen")
    page = portal.get(target.split("8001", 1)[-1] if "8001" in target else target)
    assert "U hebt de betaling afgebroken" in page.text
    back = portal.get(
        f"/d/{document.public_token}/betaald?sessie={_session_id(url)}", follow_redirects=False
    )
    assert back.headers["location"].endswith("?betaling=open#betalen")
    assert _count(session, Payment) == 0


def test_a_forged_or_stale_signature_is_refused_and_changes_nothing(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, request = document_to_pay(session, org, 5000)
    session.commit()
    url = online_payments.start_checkout(
        session, document=document, success_url="http://x/ok", cancel_url="http://x/no", actor=ACTOR
    )
    session.commit()
    stripe.sandbox.pay(_session_id(url), "card")
    event = stripe.sandbox.events[-1]
    body = json.dumps(event).encode()

    forged = portal.post(
        "/webhooks/stripe",
        content=body,
        headers={"stripe-signature": signatures.sign(body, ["whsec_someone_else"])},
    )
    stale = _post_event(portal, event, timestamp=int(time.time()) - 3600)
    unsigned = portal.post("/webhooks/stripe", content=body)
    tampered = portal.post(
        "/webhooks/stripe",
        content=body.replace(b'"amount_total": 5000', b'"amount_total": 5'),
        headers={"stripe-signature": signatures.sign(body, [WEBHOOK_SECRET])},
    )
    for answer in (forged, stale, unsigned, tampered):
        assert answer.status_code == 400
        assert answer.json() == {"error": "De handtekening van deze webhook klopt niet."}
    assert _count(session, StripeEvent) == 0
    assert _count(session, Payment) == 0
    session.refresh(request)
    assert request.status is PaymentRequestStatus.OPEN
    session.commit()
    # The old secret still works during rotation.
    assert _post_event(portal, event, secret=OLD_SECRET).json()["outcome"] == "paid"
    assert _count(session, Payment) == 1


def test_an_amount_that_does_not_match_is_not_counted(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, request = document_to_pay(session, org, 5000)
    login(session, portal)
    session.commit()
    checkout_id = _session_id(_betalen(portal, document.public_token).headers["location"])
    stripe.sandbox.sessions[checkout_id]["amount_total"] = 50  # paid 0,50 instead of 50,00
    stripe.sandbox.pay(checkout_id, "card")
    back = portal.get(
        f"/d/{document.public_token}/betaald?sessie={checkout_id}", follow_redirects=False
    )
    assert back.headers["location"].endswith("?betaling=controle#betalen")
    assert _post_event(portal, stripe.sandbox.events[-1]).json()["outcome"] == "amount_mismatch"
    page = portal.get(back.headers["location"]).text
    assert "komt niet overeen met het gevraagde bedrag" in page
    assert _count(session, Payment) == 0
    session.refresh(request)
    assert request.status is PaymentRequestStatus.OPEN
    flagged = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "payment_request.online_amount_mismatch")
    ).all()
    assert len(flagged) == 1  # once, although told twice
    assert flagged[0].data["paid_cents"] == 50
    session.commit()  # ends the read; a rollback would expire what the test still reads


def test_paying_a_paid_or_suspended_request_says_why(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    paid, paid_request = document_to_pay(session, org, 1000, title="Al betaald")
    suspended, suspended_request = document_to_pay(session, org, 1000, title="In bezwaar")
    payments.record_payment(
        session,
        payment_request=paid_request,
        amount_cents=1000,
        method=PaymentMethod.BANK_TRANSFER,
        external_id="line-1",
        received_at=utcnow(),
        actor=ACTOR,
    )
    payments.suspend(session, suspended_request, actor=ACTOR, reason="Bezwaar")
    login(session, portal)
    session.commit()
    csrf = _csrf(portal, f"/d/{paid.public_token}")
    for document, notice, message in (
        (paid, "al-betaald", "Dit bedrag is al volledig betaald."),
        (suspended, "opgeschort", "De betaling is opgeschort zolang uw bezwaar behandeld wordt."),
    ):
        answer = portal.post(
            f"/d/{document.public_token}/betalen",
            data={"_csrf_token": csrf},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/d/{document.public_token}?betaling={notice}#betalen"
        assert message in portal.get(answer.headers["location"]).text
    assert stripe.sandbox.sessions == {}
    with pytest.raises(payments.NotPayable, match="opgeschort"):
        online_payments.start_checkout(
            session, document=suspended, success_url="x", cancel_url="y", actor=ACTOR
        )


def test_refund_through_stripe_once(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, request = document_to_pay(session, org, 8000)
    session.commit()
    url = online_payments.start_checkout(
        session, document=document, success_url="http://x/ok", cancel_url="http://x/no", actor=ACTOR
    )
    stripe.sandbox.pay(_session_id(url), "card")
    payment = online_payments.fulfil_checkout(session, _session_id(url)).payment
    assert payment is not None
    session.commit()

    refund = online_payments.refund_online(
        session,
        payment=payment,
        amount_cents=3000,
        expected_refundable_cents=8000,
        actor=ACTOR,
        reason="Vergissing",
    )
    session.commit()
    assert refund.external_id in stripe.sandbox.refunds
    # A second click with what the page showed before: refused, Stripe not asked again.
    with pytest.raises(payments.RefundMismatch):
        online_payments.refund_online(
            session, payment=payment, amount_cents=3000, expected_refundable_cents=8000, actor=ACTOR
        )
    session.commit()  # ends the read; a rollback would expire what the test still reads
    assert len(stripe.sandbox.refunds) == 1
    # Stripe's charge.refunded event about the same refund: no second count.
    refunded_event = stripe.sandbox.events[-1]
    assert refunded_event["type"] == "charge.refunded"
    assert _post_event(portal, refunded_event).json()["outcome"] == "refund_known"
    session.expire_all()
    payment = session.get(Payment, payment.id)
    assert payment is not None
    assert payment.refunded_cents == 3000
    assert _count(session, PaymentRefund) == 1
    assert session.get(PaymentRequest, request.id).status is (  # type: ignore[union-attr]
        PaymentRequestStatus.PARTIALLY_PAID
    )
    transfer = payments.record_payment(
        session,
        payment_request=request,
        amount_cents=100,
        method=PaymentMethod.BANK_TRANSFER,
        external_id="line-9",
        received_at=utcnow(),
        actor=ACTOR,
    )
    with pytest.raises(InvalidInput, match="niet online"):
        online_payments.refund_online(
            session, payment=transfer, amount_cents=100, expected_refundable_cents=100, actor=ACTOR
        )


def test_a_refund_event_before_the_payment_event(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, request = document_to_pay(session, org, 6000)
    session.commit()
    url = online_payments.start_checkout(
        session, document=document, success_url="http://x/ok", cancel_url="http://x/no", actor=ACTOR
    )
    session.commit()
    paid = stripe.sandbox.pay(_session_id(url), "bancontact")
    stripe.sandbox.create_refund({"payment_intent": paid["payment_intent"], "amount": "6000"})
    completed, refunded = stripe.sandbox.events[-2:]
    assert _post_event(portal, refunded).json()["outcome"] == "refunded"
    assert _post_event(portal, completed).json()["outcome"] == "paid"
    session.expire_all()
    payment = session.scalars(select(Payment)).one()
    assert (payment.amount_cents, payment.refunded_cents) == (6000, 6000)
    assert session.get(PaymentRequest, request.id).status is (  # type: ignore[union-attr]
        PaymentRequestStatus.REFUNDED
    )


def test_paying_without_login_with_the_letters_code(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    document, _request = document_to_pay(session, org, 4200)
    document.access_code = "7KQ24M9XD4TN"
    session.commit()
    csrf = _csrf(portal, "/code")
    summary = portal.post("/code", data={"_csrf_token": csrf, "code": "7KQ2-4M9X-D4TN"})
    assert summary.status_code == 200
    assert "Betalen" in summary.text
    assert '<svg role="img"' in summary.text
    assert 'action="/code/betalen"' in summary.text
    started = portal.post(
        "/code/betalen",
        data={"_csrf_token": csrf, "code": "7KQ2-4M9X-D4TN"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    checkout_id = _session_id(started.headers["location"])
    assert stripe.sandbox.sessions[checkout_id]["success_url"].endswith(
        "/betaling/{CHECKOUT_SESSION_ID}"
    )
    stripe.sandbox.pay(checkout_id, "card")
    result = portal.get(f"/betaling/{checkout_id}")
    assert result.status_code == 200
    assert result.headers["cache-control"] == "no-store"
    assert "Bedankt! Uw betaling is ontvangen." in result.text
    assert _count(session, Payment) == 1
    assert portal.get("/betaling/cs_test_unknown").status_code in (404, 200)
    wrong = portal.post(
        "/code/betalen",
        data={"_csrf_token": csrf, "code": "0000-0000-0000"},
        follow_redirects=False,
    )
    assert wrong.status_code == 404
    assert "Deze code kennen we niet" in wrong.text


def test_a_payment_confirmed_later_counts_when_it_succeeds_in_any_order(
    session: Session, portal: TestClient[ZegelApp], stripe: Stripe
) -> None:
    org = factories.organisation(session)
    first, first_request = document_to_pay(session, org, 3000, title="Eerste")
    second, second_request = document_to_pay(session, org, 4000, title="Tweede")
    session.commit()
    ids = []
    for document in (first, second):
        url = online_payments.start_checkout(
            session,
            document=document,
            success_url="http://x/ok",
            cancel_url="http://x/no",
            actor=ACTOR,
        )
        ids.append(_session_id(url))
    session.commit()
    stripe.sandbox.pay(ids[0], "card", delayed=True)
    completed = stripe.sandbox.events[-1]
    assert _post_event(portal, completed).json()["outcome"] == "pending"
    assert _count(session, Payment) == 0
    succeeded = stripe.sandbox.settle(ids[0], succeeded=True)
    assert succeeded["payment_status"] == "paid"
    assert _post_event(portal, stripe.sandbox.events[-1]).json()["outcome"] == "paid"
    assert _count(session, Payment) == 1

    # The second fails; its events arrive the other way round.
    stripe.sandbox.pay(ids[1], "bancontact", delayed=True)
    stripe.sandbox.settle(ids[1], succeeded=False)
    completed, failed = stripe.sandbox.events[-2:]
    assert failed["type"] == "checkout.session.async_payment_failed"
    assert _post_event(portal, failed).json()["outcome"] == "failed"
    assert _post_event(portal, completed).json()["outcome"] == "pending"
    assert _count(session, Payment) == 1
    session.expire_all()
    assert session.get(PaymentRequest, first_request.id).status is (  # type: ignore[union-attr]
        PaymentRequestStatus.PAID
    )
    assert session.get(PaymentRequest, second_request.id).status is (  # type: ignore[union-attr]
        PaymentRequestStatus.OPEN
    )
    session.commit()
