"""Refunds from the back office's request page: a transfer refunded by hand, a Bancontact
payment through Stripe (the sandbox), each guarded by the refundable amount the page showed."""

from __future__ import annotations

import re
from datetime import timedelta

from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import Payment, PaymentMethod, PaymentRefund, PaymentRequestStatus
from shared.services import online_payments, payments
from shared.web import ZegelApp
from tests import factories
from tests.integration.bank.conftest import World, login, payment_request
from tests.integration.payments.conftest import Stripe

Client = TestClient[ZegelApp]


def _form(client: Client, path: str, payment_id: object) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    action = f"/betalingen/{path.rsplit('/', 1)[1]}/betalingen/{payment_id}/terugbetalen"
    start = page.text.index(f'action="{action}"')
    form = page.text[start : page.text.index("</form>", start)]
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
    seen = re.search(r'name="gezien" value="(\d+)"', form)
    assert token is not None
    assert seen is not None
    return {"_csrf_token": token.group(1), "gezien": seen.group(1), "action": action}


def test_a_transfer_is_refunded_by_hand_once(
    session: Session, world: World, backoffice: Client
) -> None:
    request = payment_request(session, world.a, amount_cents=5000)
    payment = payments.record_payment(
        session,
        payment_request=request,
        amount_cents=5000,
        method=PaymentMethod.BANK_TRANSFER,
        external_id="BANK/REF-1",
        received_at=utcnow() - timedelta(days=1),
        actor=factories.SYSTEM,
    )
    payment_id = payment.id
    login(session, backoffice, world.finance, world.a)
    session.commit()
    path = f"/betalingen/{request.id}"
    form = _form(backoffice, path, payment_id)
    assert form["gezien"] == "5000"
    prefix = f"terugbetaling-{payment_id}-"
    fields = {"_csrf_token": form["_csrf_token"], "gezien": form["gezien"]}

    no_reason = backoffice.post(
        form["action"], data={**fields, prefix + "bedrag": "20", prefix + "reden": ""}
    )
    assert no_reason.status_code == 422
    assert "Geef de reden van de terugbetaling." in no_reason.text
    too_much = backoffice.post(
        form["action"], data={**fields, prefix + "bedrag": "60", prefix + "reden": "fout"}
    )
    assert too_much.status_code == 422
    done = backoffice.post(
        form["action"],
        data={**fields, prefix + "bedrag": "20,00", prefix + "reden": "dubbel betaald"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    # The same form again (what the page showed before): refused, nothing refunded twice.
    again = backoffice.post(
        form["action"],
        data={**fields, prefix + "bedrag": "20,00", prefix + "reden": "dubbel betaald"},
    )
    assert again.status_code == 412
    assert "intussen gewijzigd" in again.text
    assert session.scalar(select(func.count()).select_from(PaymentRefund)) == 1
    session.expire_all()
    assert request.status is PaymentRequestStatus.PARTIALLY_PAID
    stored = session.get(Payment, payment_id)
    assert stored is not None
    assert stored.refunded_cents == 2000
    session.rollback()
    detail = backoffice.get(path)
    assert "€\xa020,00 terugbetaald" in detail.text
    assert "dubbel betaald" in detail.text


def test_a_bancontact_payment_is_refunded_through_stripe(
    session: Session, world: World, backoffice: Client, stripe: Stripe
) -> None:
    request = payment_request(session, world.a, amount_cents=8000)
    document = request.document
    factories.send(session, document)
    session.commit()
    url = online_payments.start_checkout(
        session,
        document=document,
        success_url="http://x/ok",
        cancel_url="http://x/no",
        actor=factories.SYSTEM,
    )
    session_id = url.rsplit("/", 1)[1]
    stripe.sandbox.pay(session_id, "bancontact")
    payment = online_payments.fulfil_checkout(session, session_id).payment
    assert payment is not None
    payment_id = payment.id
    login(session, backoffice, world.finance, world.a)
    session.commit()

    path = f"/betalingen/{request.id}"
    assert "Terugbetalen via Stripe" in backoffice.get(path).text
    form = _form(backoffice, path, payment_id)
    prefix = f"terugbetaling-{payment_id}-"
    done = backoffice.post(
        form["action"],
        data={
            "_csrf_token": form["_csrf_token"],
            "gezien": form["gezien"],
            prefix + "bedrag": "80",
            prefix + "reden": "vergissing",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert len(stripe.sandbox.refunds) == 1
    session.expire_all()
    assert request.status is PaymentRequestStatus.REFUNDED
