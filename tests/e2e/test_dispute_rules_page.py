"""A beheerder gives, in Chromium, the GAS appeal a term of two months with its own legal text;
a wrong number is refused next to the field. The list and the form pass axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.models import StaffRole
from tests import factories
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot

pytestmark = pytest.mark.e2e


def test_a_beheerder_sets_the_term_of_a_gas_appeal(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session, "Gemeente Termijnrode")
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER], name="Bert Beheer")
    log_in_to_the_back_office(page, session, admin, org, backoffice_url)
    page.goto(backoffice_url + "/beheer/medewerkers")
    page.get_by_role("link", name="Bezwaartermijnen").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bezwaartermijnen van Gemeente Termijnrode"
    )
    expect(page.locator("tbody tr")).to_have_count(3)
    screenshot(page, "backoffice-dispute-rules")
    assert_accessible(page)

    page.get_by_role("link", name="Wijzigen Beroep tegen een GAS-boete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Beroep tegen een GAS-boete")
    page.get_by_label("Maanden", exact=True).fill("drie")
    page.get_by_role("button", name="Bewaren").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Vul een geheel getal van 0 tot 24 in, of laat leeg."
    )
    expect(page.get_by_label("Maanden", exact=True)).to_have_value("drie")
    screenshot(page, "backoffice-dispute-rule-error")
    assert_accessible(page)

    page.get_by_label("Maanden", exact=True).fill("2")
    page.get_by_label("Wettelijke tekst voor de burger").fill(
        "U kunt binnen twee maanden beroep aantekenen bij de politierechtbank."
    )
    page.get_by_role("button", name="Bewaren").click()
    expect(page.get_by_role("status")).to_contain_text(
        "De termijn voor ‘Beroep tegen een GAS-boete’ is bewaard."
    )
    row = page.locator("tbody tr", has_text="Beroep tegen een GAS-boete")
    expect(row).to_contain_text("2 maanden")
    expect(row).to_contain_text("aangepast")
    screenshot(page, "backoffice-dispute-rules-saved")
    assert_accessible(page)
    # the form that came back with the wrong number answered 422 (on purpose); nothing else failed
    assert [e for e in page_console.errors if "status of 422" not in e] == []
