"""The citizen's part of a dispute, in Chromium: from the document page through the form (with
a validation error on the way), the confirmation step and the receipt page to the receipt PDF
and its e-mail; and the page after the deadline. Every page passes axe-core, on a phone and on
a desktop. (The staff part — queue, decision, answer — is the back office's journey.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import utcnow
from shared.integrations.oidc.identities import citizen
from shared.jobs import Worker
from shared.models import (
    DisputeChannel,
    DisputeOutcome,
    DisputeRight,
    DisputeStatus,
    Document,
)
from shared.services import disputes
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.e2e.conftest import Sandbox
from tests.integration.signing.conftest import letter_pdf
from tests.integration.test_disputes import pdf_bytes

pytestmark = pytest.mark.e2e

AN = citizen("an-janssens")
WIDTHS = {"phone": 390, "desktop": 1280}


def _tax_letter(session: Session, *, days_ago: int) -> Document:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    org.phone, org.email = "09 123 45 67", "belastingen@zegelbeek.be"
    org.street, org.postal_code, org.city = "Marktplein 1", "9999", "Zegelbeek"
    recipient = factories.citizen(session, org, ssin=AN.rrn or "", name=AN.name)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    document.current_sha256 = get_storage().put(letter_pdf("Belasting op tweede verblijven"))
    document.page_count = 1
    document.document_type = "tax_assessment"
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    document.amount_due_cents = 45000
    factories.send(session, document)
    document.legal_sending_date = today() - timedelta(days=days_ago)
    document.sent_at = utcnow() - timedelta(days=days_ago)
    session.commit()
    return document


def _log_in_as_an(page: Page) -> None:
    form = page.locator("form").filter(has=page.get_by_role("heading", name=AN.name, exact=True))
    form.get_by_label("itsme", exact=False).check()
    form.get_by_role("button", name=f"Aanmelden als {AN.name}").click()


def _check(page: Page, name: str) -> None:
    """Screenshots at phone and desktop width, with axe-core at both."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"portal-{name}-{label}")
        assert_accessible(page)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def test_a_citizen_files_a_dispute_with_an_attachment_and_downloads_the_receipt(
    page: Page,
    page_console: Console,
    session: Session,
    portal_url: str,
    sandbox: Sandbox,
) -> None:
    letter = _tax_letter(session, days_ago=5)
    token = letter.public_token
    page.goto(f"{portal_url}/d/{token}")
    _log_in_as_an(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")
    panel = page.locator("#bezwaar")
    expect(panel).to_contain_text("U kunt bezwaar indienen tot en met")
    expect(panel).to_contain_text("binnen drie maanden vanaf de derde werkdag")
    _check(page, "document-dispute-open")

    panel.get_by_role("link", name="Bezwaar indienen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bezwaar indienen")
    _check(page, "dispute-form")

    # Forgetting the grounds: a clear message, and what was typed stays.
    page.get_by_label("E-mailadres").fill("an.janssens@example.org")
    page.get_by_label("Ik wil gehoord worden over mijn bezwaar").check()
    page.get_by_label("Bijlagen").set_input_files(
        [{"name": "attest-woonst.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="Verder: controleren").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Schrijf waarom u het niet eens bent met de beslissing."
    )
    expect(page.get_by_label("E-mailadres")).to_have_value("an.janssens@example.org")
    expect(page.get_by_label("Ik wil gehoord worden over mijn bezwaar")).to_be_checked()
    expect(page.get_by_text("attest-woonst.pdf")).to_be_visible()  # kept, not asked again
    # The form comes back with 422, which Chromium logs; nothing else may be logged.
    assert page_console.errors == [
        "error: Failed to load resource: the server responded with a status of 422"
        " (Unprocessable Entity)"
    ]
    page_console.errors.clear()
    _check(page, "dispute-form-error")

    page.get_by_label("Waarom bent u het niet eens met de beslissing?").fill(
        "Ik heb geen tweede verblijf: ik woon sinds 2019 zelf in het huis.\n"
        "Zie het attest van woonst in bijlage."
    )
    page.get_by_role("button", name="Verder: controleren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Controleer uw bezwaar")
    expect(page.get_by_text("Ik heb geen tweede verblijf", exact=False)).to_be_visible()
    expect(page.get_by_text("attest-woonst.pdf")).to_be_visible()
    _check(page, "dispute-confirm")

    page.get_by_role("button", name="Bezwaar indienen").click()
    expect(page.get_by_role("status")).to_contain_text("Uw bezwaar is ingediend.")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"B-{today().year}-")
    number = heading.inner_text().split()[1]
    _check(page, "dispute-receipt")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Ontvangstbewijs downloaden (PDF)").click()
    download = waiting.value
    assert download.suggested_filename == f"ontvangstbewijs-{number}.pdf"
    path = download.path()
    assert path is not None
    downloaded = path.read_bytes()
    assert downloaded.startswith(b"%PDF-")
    receipt_url = page.get_by_role("link", name="Ontvangstbewijs downloaden (PDF)").get_attribute(
        "href"
    )
    fetched = page.request.get(f"{portal_url}{receipt_url}")
    assert fetched.status == 200
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["cache-control"] == "no-store"
    assert fetched.body() == downloaded  # the same receipt every time

    # The receipt e-mail, sent by the background worker, carries the same PDF.
    sandbox.mail.clear()
    assert Worker("e2e-dispute-mail").run_pending() >= 1
    [mail] = [m for m in sandbox.mail.messages if "an.janssens@example.org" in m.recipients]
    assert mail.subject == f"Ontvangstbewijs van uw bezwaar {number}"
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content() == downloaded

    page.get_by_role("link", name="Terug naar het document").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Belasting op tweede verblijven")
    expect(page.locator(".timeline")).to_contain_text("Bezwaar ontvangen")
    expect(page.get_by_text("bezwaar ingediend", exact=True)).to_be_visible()
    expect(page.locator("#bezwaar")).to_contain_text(number)
    _check(page, "document-disputed")
    page_console.assert_clean()


def test_after_the_deadline_the_portal_says_how_to_reach_the_service(
    page: Page, page_console: Console, session: Session, portal_url: str, sandbox_url: str
) -> None:
    letter = _tax_letter(session, days_ago=200)
    page.goto(f"{portal_url}/d/{letter.public_token}")
    _log_in_as_an(page)
    panel = page.locator("#bezwaar")
    expect(panel).to_contain_text("De termijn om bezwaar in te dienen liep af op")
    expect(panel.get_by_role("link", name="Bezwaar indienen")).to_have_count(0)
    _check(page, "document-dispute-passed")

    page.goto(f"{portal_url}/d/{letter.public_token}/bezwaar")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "De termijn voor bezwaar is verstreken"
    )
    expect(page.get_by_text("09 123 45 67")).to_be_visible()
    _check(page, "dispute-passed")
    page_console.assert_clean()


def test_after_a_decision_the_form_says_so_instead_of_opening(
    page: Page, page_console: Console, session: Session, portal_url: str, sandbox_url: str
) -> None:
    letter = _tax_letter(session, days_ago=5)
    filed = disputes.file_dispute(
        session,
        letter,
        disputes.DisputeInput(grounds="Ik heb geen tweede verblijf."),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(letter),
    ).dispute
    filed.status, filed.outcome = DisputeStatus.DECIDED, DisputeOutcome.UNFOUNDED
    session.commit()
    page.goto(f"{portal_url}/d/{letter.public_token}/bezwaar")
    _log_in_as_an(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Over uw bezwaar werd al beslist")
    expect(page.get_by_role("status")).to_contain_text("beslist: uw bezwaar is ongegrond")
    _check(page, "dispute-form-after-decision")
    page_console.assert_clean()


def test_a_file_too_large_is_refused_before_the_upload_and_nothing_typed_is_lost(
    page: Page,
    page_console: Console,
    session: Session,
    portal_url: str,
    sandbox: Sandbox,
) -> None:
    letter = _tax_letter(session, days_ago=5)
    page.goto(f"{portal_url}/d/{letter.public_token}/bezwaar")
    _log_in_as_an(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Bezwaar indienen")
    grounds = page.get_by_label("Waarom bent u het niet eens met de beslissing?")
    grounds.fill("Ik woon hier sinds 2019; zie de filmpjes van de verhuis.")
    too_large = get_settings().dispute_attachment_max_bytes + 1
    page.get_by_label("Bijlagen").set_input_files(
        [{"name": "verhuis.pdf", "mimeType": "application/pdf", "buffer": b"%" * too_large}]
    )
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_role("button", name="Verder: controleren").click()

    expect(page.locator("#veld-bijlagen-browser")).to_have_text(
        "Het bestand verhuis.pdf is groter dan 10 MB."
    )
    expect(page.get_by_label("Bijlagen")).to_be_focused()
    expect(grounds).to_have_value("Ik woon hier sinds 2019; zie de filmpjes van de verhuis.")
    assert requests == []  # nothing was sent
    _check(page, "dispute-file-too-large")
    page_console.assert_clean()
