"""Paying a document in Chromium: the citizen opens it, clicks Betalen, pays with Bancontact on
the Stripe sandbox's checkout page, and is back on the document, which says "betaald". The
sandbox's signed webhook reaches the portal too; the payment is counted once."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.integrations.oidc.identities import citizen
from shared.models import (
    AuditEvent,
    Document,
    Organisation,
    Payment,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
    StaffRole,
    StripeEvent,
)
from shared.services import audit, payments
from shared.services.payment_references import format_ogm
from shared.storage import get_storage
from tests import factories
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot
from tests.integration.signing.conftest import letter_pdf

pytestmark = pytest.mark.e2e

AN = citizen("an-janssens")
WIDTHS = {"phone": 390, "desktop": 1280}


@pytest.fixture
def tax(session: Session) -> tuple[Document, PaymentRequest]:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    recipient = factories.citizen(session, org, ssin=AN.rrn or "", name=AN.name)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    document.current_sha256 = get_storage().put(letter_pdf("Belasting op tweede verblijven"))
    document.page_count = 1
    document.amount_due_cents = 45000
    document.due_date = date(2026, 12, 31)
    factories.send(session, document)
    document.sent_at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    request = payments.create_for_document(session, document, actor=audit.Actor.system("test"))
    assert request is not None
    session.commit()
    return document, request


def _check(page: Page, name: str) -> None:
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"payment-{name}-{label}")
        assert_accessible(page)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def _log_in_as_an(page: Page) -> None:
    form = page.locator("form").filter(has=page.get_by_role("heading", name=AN.name, exact=True))
    form.get_by_label("itsme", exact=False).check()
    form.get_by_role("button", name=f"Aanmelden als {AN.name}").click()


def test_betalen_with_bancontact_then_the_document_says_betaald(
    page: Page,
    page_console: Console,
    tax: tuple[Document, PaymentRequest],
    session: Session,
    portal_url: str,
    backoffice_url: str,
    sandbox_url: str,
) -> None:
    document, request = tax
    page.goto(f"{portal_url}/d/{document.public_token}")
    _log_in_as_an(page)
    expect(page).to_have_url(f"{portal_url}/d/{document.public_token}")

    panel = page.locator("#betalen")
    expect(panel.get_by_text(format_ogm(request.structured_communication))).to_be_visible()
    expect(panel.get_by_text("BE71 0961 2345 6769")).to_be_visible()
    expect(
        panel.get_by_role("img", name="QR-code om over te schrijven met uw bankapp")
    ).to_be_visible()
    _check(page, "document-to-pay")

    panel.get_by_role("button", name="Betalen").click()
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox_url + "/stripe/checkout/cs_")))
    expect(page.get_by_text("€ 450,00")).to_be_visible()
    _check(page, "sandbox-checkout")
    page.get_by_label("Bancontact: betaling lukt").check()
    page.get_by_role("button", name="Bevestigen").click()

    expect(page).to_have_url(
        re.compile(re.escape(f"{portal_url}/d/{document.public_token}?betaling=betaald"))
    )
    expect(
        page.get_by_role("status").filter(has_text="Bedankt! Uw betaling is ontvangen.")
    ).to_be_visible()
    expect(page.locator(".badge, [class*=badge]").filter(has_text="betaald").first).to_be_visible()
    expect(page.get_by_text("Volledig betaald")).to_be_visible()  # the citizen's timeline
    _check(page, "document-paid")
    page_console.assert_clean()

    # The sandbox posts its signed webhook to the portal too; the payment stays counted once.
    deadline = time.monotonic() + 15
    delivered = None
    while time.monotonic() < deadline and delivered is None:
        session.expire_all()
        delivered = session.scalars(
            select(StripeEvent).where(StripeEvent.type == "checkout.session.completed")
        ).first()
        session.commit()
        time.sleep(0.2)
    assert delivered is not None, "the sandbox's webhook did not reach the portal"
    assert delivered.outcome == "paid"

    # What is recorded: one payment, and the request's audit trail.
    session.expire_all()
    paid = session.scalars(select(Payment)).one()
    assert paid.amount_cents == 45000
    assert paid.method is PaymentMethod.BANCONTACT
    assert paid.external_id is not None
    assert paid.external_id.startswith("cs_")
    assert session.get(PaymentRequest, request.id).status is PaymentRequestStatus.PAID  # type: ignore[union-attr]
    trail = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_id.in_([str(request.id), str(paid.id)]))
        .order_by(AuditEvent.sequence)
    ).all()
    assert trail == [
        "payment_request.created",
        "payment_request.checkout_started",
        "payment.received",
        "payment_request.paid",
    ]
    session.commit()

    # Finance sees the payment in the back office, with the request's timeline.
    org = session.get(Organisation, document.organisation_id)
    assert org is not None
    finance = factories.staff_member(session, org, [StaffRole.FINANCIEN], name="Fien Financiën")
    log_in_to_the_back_office(page, session, finance, org, backoffice_url)
    page.goto(backoffice_url + "/betalingen")
    listed = page.get_by_role("table", name="Betaalverzoeken, laatste vervaldag eerst")
    expect(listed.get_by_role("cell", name=AN.name)).to_be_visible()
    listed.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        format_ogm(request.structured_communication)
    )
    expect(page.get_by_role("cell", name="Bancontact (online)")).to_be_visible()
    expect(page.get_by_role("heading", name="Tijdlijn")).to_be_visible()
    expect(page.locator(".timeline__item")).not_to_have_count(0)
    screenshot(page, "payment-finance-sees-it")
    assert_accessible(page)
