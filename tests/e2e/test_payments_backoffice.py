"""Finance in Chromium: sees a paid request in Betalingen and its detail page with the
timeline, uploads a CAMT.053 statement and sees matched and unmatched lines, and the front
office registers a cash payment and opens the receipt. Every page passes axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.db import get_session_factory, utcnow
from shared.models import Organisation, PaymentMethod, PaymentRequest, StaffRole
from shared.services import payments
from shared.timeutil import today
from tests import factories
from tests.camt import Entry, statement
from tests.e2e.browser import Console, assert_accessible, screenshot

pytestmark = pytest.mark.e2e
IBAN = "BE71096123456769"


@pytest.fixture
def db() -> Iterator[Session]:
    session = get_session_factory()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _log_in(page: Page, backoffice_url: str, token: str) -> None:
    host = urlsplit(backoffice_url).hostname
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "zegel_backoffice_session", "value": token, "domain": host, "path": "/"}]
    )


def _request(
    db: Session, org: Organisation, name: str, ssin: str, cents: int, due: date
) -> PaymentRequest:
    recipient = factories.citizen(db, org, ssin=ssin, name=name)
    document = factories.document(db, org, recipient, "Belasting op tweede verblijven 2026")
    document.document_type = "tax_assessment"
    document.amount_due_cents = cents
    document.due_date = due
    request = payments.create_for_document(db, document, actor=factories.SYSTEM)
    assert request is not None
    return request


def test_finance_follows_payments_and_the_desk_gives_a_receipt(
    page: Page, page_console: Console, backoffice_url: str, db: Session, tmp_path: object
) -> None:
    org = factories.organisation(db, "Gemeente Betaaldorp")
    org.iban, org.bic = IBAN, "GKCCBEBB"
    finance = factories.staff_member(db, org, [StaffRole.FINANCIEN], name="Fien Financiën")
    desk = factories.staff_member(db, org, [StaffRole.ONTHAAL], name="Otto Onthaal")
    due = today() + timedelta(days=20)
    paid = _request(db, org, "Piet Betaald", "85073003328", 12550, due)
    by_bank = _request(db, org, "Bea Bank", "90010100123", 4000, due)
    at_desk = _request(db, org, "Dirk Balie", "75121500196", 6000, due)
    _request(db, org, "Lien Laat", "80020200245", 2500, today() - timedelta(days=10))
    payments.record_payment(
        db,
        payment_request=paid,
        amount_cents=12550,
        method=PaymentMethod.BANCONTACT,
        external_id="cs_test_e2e_1",
        received_at=utcnow() - timedelta(days=2),
        actor=factories.SYSTEM,
    )
    finance_token = factories.web_session(db, "backoffice", staff=finance, organisation=org)
    desk_token = factories.web_session(db, "backoffice", staff=desk, organisation=org)
    db.commit()

    _log_in(page, backoffice_url, finance_token)
    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Betalingen", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Betalingen")
    expect(page.get_by_role("cell", name="Piet Betaald")).to_be_visible()
    screenshot(page, "backoffice-payments")
    assert_accessible(page)

    page.get_by_label("Status", exact=True).select_option("paid")
    page.get_by_role("button", name="Toepassen").click()
    requests = page.get_by_role("table", name="Betaalverzoeken, laatste vervaldag eerst")
    expect(requests.locator("tbody tr")).to_have_count(1)
    requests.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Betaalverzoek +++")
    expect(page.get_by_role("cell", name="Bancontact (online)")).to_be_visible()
    expect(page.get_by_role("heading", name="Tijdlijn")).to_be_visible()
    expect(page.locator(".timeline__item").first).to_be_visible()
    screenshot(page, "backoffice-payment-request")
    assert_accessible(page)

    camt = tmp_path / "camt053.xml"  # type: ignore[operator]
    camt.write_bytes(
        statement(
            [
                Entry(
                    "E2E-1", 4000, structured=by_bank.structured_communication, debtor="Bea Bank"
                ),
                Entry("E2E-2", 1999, text="lidgeld", debtor="Iemand Anders"),
                Entry("E2E-3", 45, credit=False, text="Bankkosten"),
            ],
            iban=IBAN,
            statement_id="E2E-STMT-1",
        )
    )
    page.goto(backoffice_url + "/betalingen")
    page.get_by_role("link", name="Rekeninguittreksel inlezen").click()
    assert_accessible(page)
    screenshot(page, "backoffice-bank-statements")
    page.get_by_label("CAMT.053- of CODA-bestand").set_input_files(str(camt))
    page.get_by_role("button", name="Inlezen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uittreksel E2E-STMT-1")
    expect(page.get_by_role("row", name="E2E-1")).to_contain_text("gekoppeld")
    expect(page.get_by_role("row", name="E2E-2")).to_contain_text("na te kijken")
    screenshot(page, "backoffice-bank-statement")
    assert_accessible(page)

    page.get_by_role("link", name="Naar de lijnen om na te kijken").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Na te kijken lijnen")
    screenshot(page, "backoffice-bank-review")
    assert_accessible(page)
    page.get_by_role("link", name="E2E-2").click()
    assert_accessible(page)
    screenshot(page, "backoffice-bank-review-line")
    page.get_by_label("Reden").fill("Lidgeld van de sportclub, geen betaalverzoek")
    page.get_by_role("button", name="Afwijzen").click()
    expect(page.get_by_text("Er is niets na te kijken.")).to_be_visible()

    _log_in(page, backoffice_url, desk_token)
    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Balie", exact=True).click()
    page.get_by_label("Betaalverzoek zoeken").fill("Dirk")
    page.get_by_role("button", name="Zoeken").click()
    expect(page.get_by_role("cell", name="Dirk Balie")).to_be_visible()
    screenshot(page, "backoffice-desk-search")
    assert_accessible(page)
    page.get_by_role("row", name="Dirk Balie").get_by_role("link").click()
    page.get_by_label("Betaalwijze").select_option("cash")
    page.get_by_label("Ontvangen bedrag in euro").fill("duizend")
    page.get_by_role("button", name="Betaling registreren").click()
    expect(page.locator(".error-summary")).to_be_visible()
    screenshot(page, "backoffice-desk-payment-error")
    assert_accessible(page)
    page.get_by_label("Ontvangen bedrag in euro").fill("60,00")
    page.get_by_role("button", name="Betaling registreren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Betaling geregistreerd")
    screenshot(page, "backoffice-desk-payment-done")
    assert_accessible(page)
    receipt = page.get_by_role("link", name="Ontvangstbewijs openen (PDF)").get_attribute("href")
    assert receipt is not None
    response = page.request.get(backoffice_url + receipt)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    db.expire_all()
    assert payments.balance(db, at_desk).outstanding_cents == 0
    # The desk form with a wrong amount answered 422 on purpose; nothing else went wrong.
    assert [e for e in page_console.errors if "status of 422" not in e] == []
