"""The lead-time page in Chromium: charts drawn on the server with their numbers beside them,
no console or CSP errors, and axe-core clean on a desktop and a phone."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.models import DocumentStatus, Organisation, StaffRole
from tests import factories
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot
from tests.integration.test_lead_time import Clock, decision, history, october, use_clock, utc

pytestmark = pytest.mark.e2e


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return use_clock(monkeypatch)


def _months_of_letters(session: Session, clock: Clock, org: Organisation) -> None:
    """Six months in which the way from decision to delivery gets shorter."""
    for month in range(5, 11):
        slow = 11 - month  # days of signing, fewer each month
        college = decision(session, org, date(2026, month, 2))
        for n in range(4):
            screened = utc(month, 3 + n, 9)
            signed = screened + timedelta(days=slow, hours=3 * n)
            sent = signed + timedelta(hours=2 + n)
            history(
                session,
                clock,
                org,
                "tax_assessment",
                [
                    (screened, (DocumentStatus.SCREENED, DocumentStatus.AWAITING_SIGNATURE)),
                    (signed, (DocumentStatus.SIGNED, DocumentStatus.READY)),
                    (sent, (DocumentStatus.DISPATCHED,)),
                    (sent + timedelta(hours=20 + 4 * n), (DocumentStatus.DELIVERED,)),
                ],
                made_by=college,
            )
        for n in range(month - 4):
            moment = utc(month, 10 + n, 8)
            history(
                session,
                clock,
                org,
                "reminder",
                [
                    (moment, (DocumentStatus.SCREENED, DocumentStatus.READY)),
                    (moment + timedelta(hours=1), (DocumentStatus.DISPATCHED,)),
                ],
                title="Herinnering",
            )


def test_lead_time_page_draws_charts_with_numbers_beside_them(
    page: Page,
    page_console: Console,
    session: Session,
    clock: Clock,
    backoffice_url: str,
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    _months_of_letters(session, clock, org)
    october(session, clock, org)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT], name="Sara Secretariaat")
    log_in_to_the_back_office(page, session, clerk, org, backoffice_url)

    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Doorlooptijd").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Doorlooptijd")
    signing = page.get_by_role("region", name="Gescreend → ondertekend")
    bars = signing.locator("svg.chart__svg rect.chart__bar--front")
    expect(bars).to_have_count(6)  # May to October
    expect(signing.get_by_role("row", name="oktober 2026").get_by_role("cell").first).to_have_text(
        "6"
    )
    unsigned = page.get_by_role("region", name="Verzonden zonder handtekening")
    expect(unsigned.get_by_role("row", name="oktober 2026")).to_contain_text("7")
    screenshot(page, "backoffice-lead-time-desktop")
    assert_accessible(page)

    page.get_by_label("Documenttype", exact=True).select_option("reminder")
    page.get_by_label("Periode", exact=True).select_option("6")
    page.get_by_role("button", name="Tonen").click()
    expect(page).to_have_url(backoffice_url + "/doorlooptijd?maanden=6&type=reminder")
    expect(page.get_by_role("region", name="Per documenttype")).to_have_count(0)

    page.set_viewport_size({"width": 390, "height": 900})
    screenshot(page, "backoffice-lead-time-phone")
    assert_accessible(page)
    page_console.assert_clean()
