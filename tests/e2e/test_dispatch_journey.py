"""Sending in Chromium: a case handler sends three signed documents — to a citizen with an
eBox, to one without (paper), and a registered letter — and follows them to delivery; the
citizen's sandbox eBox holds the message, whose link opens the document in the portal."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.integrations.magda import testdata
from shared.integrations.oidc.identities import staff_member
from shared.models import Dispatch, EboxStatus, Recipient, RecipientKind, StaffRole
from shared.protection import seal, ssin_digest
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.e2e.conftest import Sandbox
from tests.integration.dispatch.conftest import ready_document

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

LETTERS = {
    "an-janssens": ("Omgevingsvergunning Kerkstraat 12", "college_decision"),
    "pieter-de-smet": ("Belasting op tweede verblijven", "college_decision"),
    "luc-maes": ("Administratieve geldboete", "gas_fine"),
}


def test_a_case_handler_sends_three_documents_and_follows_them(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    portal_url: str,
    sandbox: Sandbox,
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    handler = staff_member("dossierbehandelaar")
    factories.staff_member(
        session,
        org,
        [StaffRole.DOSSIERBEHANDELAAR],
        subject=handler.subject,
        issuer=sandbox.url + "/oidc",
        name=handler.name,
    )
    tokens = {}
    for key, (title, kind) in LETTERS.items():
        person = testdata.person_by_key(key)
        assert person.address is not None
        recipient = Recipient(
            organisation_id=org.id,
            kind=RecipientKind.CITIZEN,
            ssin_digest=ssin_digest(person.ssin),
            ssin_sealed=seal(person.ssin),
            name=person.name,
            street=person.address.street_line,
            postal_code=person.address.postal_code,
            city=person.address.municipality,
            ebox_status=EboxStatus.UNKNOWN,  # Zegel asks MAGDA (a logged consultation)
        )
        session.add(recipient)
        session.flush()
        tokens[key] = ready_document(
            session, org, recipient, title=title, document_type=kind
        ).public_token
    session.commit()

    page.goto(backoffice_url + "/aanmelden")
    page.locator("form").filter(
        has=page.get_by_role("heading", name=handler.name, exact=True)
    ).get_by_role("button").click()
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    menu.get_by_role("link", name="Stukken", exact=True).click()
    page.get_by_label("Status").select_option("ready")
    page.get_by_role("button", name="Tonen").click()
    expect(page.get_by_role("table")).to_contain_text("3 stukken")
    screenshot(page, "dispatch-ready-list")
    assert_accessible(page)

    page.get_by_role("button", name="Gekozen documenten verzenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verzending")
    expect(page.get_by_text("Alles is vertrokken")).to_be_visible(timeout=30_000)  # htmx polling
    expect(page.locator("#verzending")).to_contain_text("3 van 3 documenten verwerkt")
    screenshot(page, "dispatch-run-done")
    assert_accessible(page)

    session.expire_all()
    channels = {d.recipient_name: d.channel.value for d in session.scalars(select(Dispatch))}
    session.rollback()
    assert channels == {"An Janssens": "ebox", "Pieter De Smet": "paper", "Luc Maes": "registered"}

    # The eBox letter moves on to delivered in its timeline (the worker polls MAGDA).
    page.goto(backoffice_url + "/stukken")
    page.get_by_role("link", name="Omgevingsvergunning Kerkstraat 12").click()
    deliveries = page.locator(
        "section", has=page.get_by_role("heading", name="Verzending en bezorging")
    )
    for _ in range(60):
        if "afgeleverd in de eBox" in deliveries.inner_text():
            break
        time.sleep(0.5)
        page.reload()
    expect(deliveries).to_contain_text("afgeleverd in de eBox")
    expect(deliveries).to_contain_text(re.compile(r"\d{4}/\d{6}"))
    expect(deliveries).to_contain_text("Waarom dit kanaal:")
    screenshot(page, "dispatch-document-timeline")
    assert_accessible(page)
    page_console.assert_clean()

    # The citizen's eBox in the sandbox holds the message; its link opens the portal.
    page.goto(f"{sandbox.url}/magda/ebox/an-janssens")
    expect(page.get_by_role("heading", name="Omgevingsvergunning Kerkstraat 12")).to_be_visible()
    page.get_by_role("link", name="Bekijk het document in het portaal").first.click()
    citizen = page.locator("form").filter(
        has=page.get_by_role("heading", name="An Janssens", exact=True)
    )
    citizen.get_by_role("button").click()
    expect(page).to_have_url(f"{portal_url}/d/{tokens['an-janssens']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Omgevingsvergunning Kerkstraat 12")
    screenshot(page, "dispatch-citizen-opens-link")
