"""The citizen's ways in, in Chromium: the eBox link, the code on a paper letter, and Mijn
documenten down to the PDF. Every page passes axe-core, on a phone and on a desktop."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.integrations.oidc.identities import citizen
from shared.models import Document, PaymentRequest, PaymentRequestStatus, StaffRole
from shared.services import access_codes
from shared.storage import get_storage
from tests import factories
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot
from tests.integration.signing.conftest import letter_pdf

pytestmark = pytest.mark.e2e

AN = citizen("an-janssens")
WIDTHS = {"phone": 390, "desktop": 1280}


@pytest.fixture
def letter(session: Session) -> Document:
    """A tax assessment sent to An Janssens, with a payment request and a paper access code."""
    org = factories.organisation(session, "Gemeente Zegelbeek")
    org.phone, org.email = "09 123 45 67", "belastingen@zegelbeek.be"
    org.street, org.postal_code, org.city = "Marktplein 1", "9999", "Zegelbeek"
    recipient = factories.citizen(session, org, ssin=AN.rrn or "", name=AN.name)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    document.current_sha256 = get_storage().put(letter_pdf("Belasting op tweede verblijven"))
    document.page_count = 1
    document.file_name = "aanslag-2026.pdf"
    document.access_code = "7KQ2M9XD4TNA"
    factories.send(session, document)
    document.sent_at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    session.add(
        PaymentRequest(
            organisation_id=org.id,
            document_id=document.id,
            amount_cents=12550,
            due_date=date(2026, 12, 31),
            structured_communication="123456789002",
            iban="BE71096123456769",
            status=PaymentRequestStatus.OPEN,
        )
    )
    session.commit()
    return document


def _log_in_as_an(page: Page) -> None:
    form = page.locator("form").filter(has=page.get_by_role("heading", name=AN.name, exact=True))
    form.get_by_label("itsme", exact=False).check()
    form.get_by_role("button", name=f"Aanmelden als {AN.name}").click()


def _log_in_to_the_back_office(
    page: Page, session: Session, letter: Document, backoffice_url: str
) -> None:
    """This browser also gets a back-office session of a secretariat clerk of the letter's
    organisation."""
    clerk = factories.staff_member(session, letter.organisation, [StaffRole.SECRETARIAAT])
    log_in_to_the_back_office(page, session, clerk, letter.organisation, backoffice_url)


def _only_refusals_logged(page_console: Console) -> None:
    """Each refusal is a 404 or 429, which Chromium logs; nothing else may be logged."""
    assert {re.sub(r"\d{3} \([^)]*\)", "N", e) for e in page_console.errors} == {
        "error: Failed to load resource: the server responded with a status of N"
    }
    page_console.errors.clear()
    page_console.assert_clean()


def _check(page: Page, name: str) -> None:
    """Screenshots at phone and desktop width, with axe-core at both."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"portal-{name}-{label}")
        assert_accessible(page)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def test_the_ebox_link_leads_through_login_to_the_document(
    page: Page, page_console: Console, letter: Document, portal_url: str, sandbox_url: str
) -> None:
    page.goto(f"{portal_url}/d/{letter.public_token}")  # what the eBox message links to
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox_url + "/oidc/")))
    _log_in_as_an(page)

    expect(page).to_have_url(f"{portal_url}/d/{letter.public_token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")
    expect(page.get_by_text("Een brief van Gemeente Zegelbeek.")).to_be_visible()
    expect(page.get_by_text("+++123/4567/89002+++")).to_be_visible()
    expect(page.get_by_role("link", name="Document bekijken")).to_be_visible()
    assert (AN.rrn or "") not in page.content()
    _check(page, "document")
    page_console.assert_clean()


def test_the_code_on_a_paper_letter_opens_a_summary(
    page: Page, page_console: Console, letter: Document, portal_url: str
) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("link", name="Document openen met de code op uw brief").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Document openen met de code op uw brief"
    )
    _check(page, "code-form")

    page.get_by_label("Code op uw brief").fill("7kq2 m9xd 4tn")  # one character short
    page.get_by_role("button", name="Document openen").click()
    expect(page.get_by_role("alert")).to_contain_text("Deze code kennen we niet.")
    expect(page.get_by_label("Code op uw brief")).to_have_attribute("aria-invalid", "true")
    _check(page, "code-wrong")
    # The wrong code is answered with 404, which Chromium logs; nothing else may be logged.
    assert page_console.errors == [
        "error: Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    page_console.errors.clear()

    page.get_by_label("Code op uw brief").fill("7kq2 m9xd 4tna")
    page.get_by_role("button", name="Document openen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")
    expect(page.get_by_text("+++123/4567/89002+++")).to_be_visible()
    expect(page.get_by_role("link", name="Document bekijken")).to_have_count(0)  # needs login
    _check(page, "code-summary")
    page_console.assert_clean()


def test_my_documents_to_the_document_to_the_pdf(
    page: Page, page_console: Console, letter: Document, portal_url: str, sandbox_url: str
) -> None:
    page.goto(portal_url + "/mijn-documenten")
    _log_in_as_an(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn documenten")
    item = page.get_by_role("listitem").filter(has_text="Belasting op tweede verblijven")
    expect(item).to_contain_text("te betalen")
    _check(page, "my-documents")

    item.get_by_role("link", name="Belasting op tweede verblijven").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Downloaden").click()
    download = waiting.value
    assert download.suggested_filename == "aanslag-2026.pdf"
    path = download.path()
    assert path is not None
    assert path.read_bytes() == get_storage().get(letter.current_sha256)

    viewed = page.request.get(f"{portal_url}/d/{letter.public_token}/pdf")
    assert viewed.status == 200
    assert viewed.headers["content-type"] == "application/pdf"
    assert viewed.headers["content-disposition"].startswith("inline;")
    assert viewed.body() == get_storage().get(letter.current_sha256)
    page_console.assert_clean()


def test_the_accessibility_statement(page: Page, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("link", name="Toegankelijkheidsverklaring").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Toegankelijkheidsverklaring")
    _check(page, "accessibility")


def test_a_rating_from_the_document_page_shows_in_the_back_office(
    page: Page,
    page_console: Console,
    session: Session,
    letter: Document,
    portal_url: str,
    backoffice_url: str,
    sandbox_url: str,
) -> None:
    page.goto(f"{portal_url}/d/{letter.public_token}")
    _log_in_as_an(page)
    rating = page.locator("#ervaring")
    expect(rating.get_by_role("heading")).to_have_text("Was dit document duidelijk?")
    rating.get_by_label("Wilt u iets kwijt?").fill("Heel duidelijk, dank u.")
    rating.get_by_role("button", name="Goed").click()
    expect(page.locator("#ervaring")).to_contain_text("Bedankt voor uw mening")  # htmx swap
    _check(page, "document-rated")
    page_console.assert_clean()

    _log_in_to_the_back_office(page, session, letter, backoffice_url)
    page.goto(backoffice_url + "/")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Ervaringen").click()
    expect(page.get_by_role("table")).to_contain_text("Document lezen")
    expect(page.get_by_text("Heel duidelijk, dank u.")).to_be_visible()
    screenshot(page, "backoffice-experience")
    assert_accessible(page)


def test_an_unknown_link_and_guessing_links_get_a_clear_page(
    page: Page, page_console: Console, letter: Document, portal_url: str, sandbox_url: str
) -> None:
    page.goto(f"{portal_url}/d/dit-is-geen-link-van-ons")
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox_url + "/oidc/")))
    _log_in_as_an(page)
    expect(page).to_have_url(f"{portal_url}/d/dit-is-geen-link-van-ons")
    expect(page.get_by_role("main")).to_contain_text(
        "Dit document bestaat niet of is niet aan u gericht."
    )
    _check(page, "document-unknown")

    for attempt in range(access_codes.MAX_FAILURES - 1):  # the first wrong try is counted
        page.goto(f"{portal_url}/d/gok-{attempt}")
    expect(page.get_by_role("main")).to_contain_text("te vaak een link")
    _check(page, "document-too-many-tries")
    page.goto(f"{portal_url}/d/{letter.public_token}")  # this browser waits, even for its own
    expect(page.get_by_role("main")).to_contain_text("te vaak een link")
    _only_refusals_logged(page_console)


def test_a_document_withdrawn_in_the_back_office_no_longer_opens_for_the_citizen(
    page: Page,
    page_console: Console,
    session: Session,
    letter: Document,
    portal_url: str,
    backoffice_url: str,
    sandbox_url: str,
) -> None:
    page.goto(f"{portal_url}/d/{letter.public_token}")
    _log_in_as_an(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")

    document_id = letter.id
    _log_in_to_the_back_office(page, session, letter, backoffice_url)
    page.goto(f"{backoffice_url}/stukken/{document_id}")
    withdraw = page.locator("#intrekken")
    expect(withdraw.get_by_role("heading")).to_have_text("Document intrekken")
    screenshot(page, "backoffice-document-withdraw")
    assert_accessible(page)
    withdraw.get_by_label("Reden van de intrekking").fill("Verstuurd aan de verkeerde burger")
    withdraw.get_by_role("button", name="Document intrekken").click()
    expect(page.locator("#intrekken")).to_contain_text("Ingetrokken op")
    expect(page.locator(".timeline")).to_contain_text("Reden: Verstuurd aan de verkeerde burger")
    screenshot(page, "backoffice-document-withdrawn")
    assert_accessible(page)
    page_console.assert_clean()

    page.goto(f"{portal_url}/d/{letter.public_token}")
    expect(page.get_by_role("main")).to_contain_text(
        "Dit document bestaat niet of is niet aan u gericht."
    )
    _only_refusals_logged(page_console)
