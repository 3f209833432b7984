"""A beheerder sets, in Chromium, that an eBox message unread after ten days goes registered on
paper too; a wrong number of days is refused with a Dutch message next to the field. The
list and the form pass axe-core (with and without the error)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.models import PaperDelivery, StaffRole
from shared.services import document_types
from tests import factories
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot

pytestmark = pytest.mark.e2e


def test_a_beheerder_sets_a_paper_copy_for_unread_ebox_messages(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session, "Gemeente Zegelzele")
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER], name="Bert Beheer")
    log_in_to_the_back_office(page, session, admin, org, backoffice_url)
    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Soorten stukken").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Soorten stukken van Gemeente Zegelzele"
    )
    expect(page.locator("tbody tr")).to_have_count(len(document_types.CATALOGUE))
    screenshot(page, "backoffice-document-types")
    assert_accessible(page)

    page.get_by_role("link", name="Wijzigen Aanslag in een gemeentebelasting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aanslag in een gemeentebelasting")
    page.get_by_label("Op papier verzenden als").select_option(label="Aangetekend")
    page.get_by_label("Een eBox-bericht dat ongelezen blijft").check()
    page.get_by_label("Na hoeveel dagen ongelezen?").fill("-5")
    page.get_by_role("button", name="Bewaren").click()
    expect(page.get_by_role("alert")).to_contain_text("Het aantal dagen moet minstens 1 zijn.")
    expect(page.get_by_label("Na hoeveel dagen ongelezen?")).to_have_value("-5")
    screenshot(page, "backoffice-document-type-error")
    assert_accessible(page)

    page.get_by_label("Na hoeveel dagen ongelezen?").fill("10")
    page.get_by_label("Rechtsgrond voor opzoekingen in het rijksregister").fill(
        "Beraadslaging IVC nr. 26/042"
    )
    page.get_by_role("button", name="Bewaren").click()
    expect(page.get_by_role("status")).to_contain_text(
        "De instellingen voor ‘Aanslag in een gemeentebelasting’ zijn bewaard."
    )
    row = page.locator("tbody tr", has_text="Aanslag in een gemeentebelasting")
    expect(row).to_contain_text("na 10 dagen ook op papier")
    expect(row).to_contain_text("aangepast")
    screenshot(page, "backoffice-document-types-saved")
    assert_accessible(page)
    # the form that came back with the wrong number answered 422 (on purpose); nothing else failed
    assert [e for e in page_console.errors if "status of 422" not in e] == []

    session.rollback()
    policy = document_types.policy(session, org.id, "tax_assessment")
    assert (policy.paper, policy.ebox_fallback_days, policy.legal_basis) == (
        PaperDelivery.REGISTERED,
        10,
        "Beraadslaging IVC nr. 26/042",
    )
