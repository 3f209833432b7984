"""The signing folder in Chromium: the general director signs two college decisions as a batch,
the mayor signs after him, and both documents end signed with two valid signatures."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.integrations.mail.sandbox import ReceivedMail
from shared.integrations.oidc.identities import staff_member
from shared.models import Document, DocumentStatus, SignerFunction, StaffRole
from shared.services import audit
from shared.services.screening import screen_document
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.e2e.conftest import Sandbox
from tests.integration.signing.conftest import draft

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

TITLES = ("Omgevingsvergunning Kerkstraat 1", "Omgevingsvergunning Molenstraat 12")


def log_in(page: Page, backoffice_url: str, subject: str) -> None:
    name = staff_member(subject).name
    page.goto(backoffice_url + "/aanmelden")
    form = page.locator("form").filter(has=page.get_by_role("heading", name=name, exact=True))
    form.get_by_role("button", name=f"Aanmelden als {name}").click()
    expect(page.get_by_role("navigation", name="Hoofdmenu")).to_contain_text(name)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Afmelden").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("afgemeld")


def sign_in_folder(page: Page, *, choose: str, expected_capacity: str) -> None:
    """From the folder: choose, confirm once, and wait for the progress page to finish."""
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
        "link", name="Handtekenmap"
    ).click()
    expect(page.get_by_role("table")).to_contain_text("2 stukken wachten op uw handtekening")
    if choose == "each":
        for title in TITLES:
            page.get_by_label(f"{title} kiezen").check()
        page.get_by_role("button", name="Gekozen stukken ondertekenen").click()
    else:
        page.get_by_role("button", name="Alles ondertekenen (2)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ondertekenen bevestigen")
    expect(page.get_by_text(f"U ondertekent 2 stukken als {expected_capacity}.")).to_be_visible()
    screenshot(page, f"signing-confirm-{choose}")
    assert_accessible(page)
    page.get_by_role("button", name="2 stukken ondertekenen").click()
    expect(page).to_have_url(re.compile(r"/handtekenmap/reeks/[0-9a-f-]{36}$"))
    # The progress section refreshes itself (htmx) until the batch is done.
    expect(page.get_by_text("2 stukken zijn ondertekend.")).to_be_visible(timeout=30_000)
    expect(page.locator("progress")).to_have_attribute("value", "2")
    screenshot(page, f"signing-done-{choose}")
    assert_accessible(page)


def _wait_for_mail(sandbox: Sandbox, address: str, timeout: float = 15) -> list[ReceivedMail]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in sandbox.mail.messages if address in m.recipients]
        if found:
            time.sleep(1.5)  # a second digest would arrive within the debounce window
            return [m for m in sandbox.mail.messages if address in m.recipients]
        time.sleep(0.2)
    raise AssertionError(f"no e-mail for {address} within {timeout} s")


def test_director_signs_a_batch_then_the_mayor_and_both_documents_are_signed(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    sandbox: Sandbox,
) -> None:
    sandbox_url = sandbox.url
    org = factories.organisation(session, "Gemeente Zegelbeek")
    issuer = sandbox_url + "/oidc"
    for subject, function in (
        ("directeur", SignerFunction.ALGEMEEN_DIRECTEUR),
        ("burgemeester", SignerFunction.BURGEMEESTER),
    ):
        factories.staff_member(
            session,
            org,
            [StaffRole.ONDERTEKENAAR],
            subject=subject,
            issuer=issuer,
            name=staff_member(subject).name,
            signer_function=function,
            email=staff_member(subject).email,
        )
    recipient = factories.citizen(session, org)
    for title in TITLES:
        document = draft(session, org, recipient, title=title)
        screen_document(session, document, actor=audit.Actor.system("secretariaat"))
    session.commit()

    # One digest e-mail for the director (not one per document), with a link to his folder.
    director_mail = staff_member("directeur").email
    digests = _wait_for_mail(sandbox, director_mail)
    assert len(digests) == 1
    assert "2 stukken wachten op uw handtekening" in digests[0].subject
    assert f"{backoffice_url}/handtekenmap" in digests[0].text()

    log_in(page, backoffice_url, "directeur")
    screenshot(page, "signing-director-dashboard")
    sign_in_folder(page, choose="each", expected_capacity="algemeen directeur")
    page.get_by_role("link", name="Terug naar de handtekenmap").first.click()
    expect(page.get_by_text("Er wacht niets op uw handtekening.")).to_be_visible()
    log_out(page)

    log_in(page, backoffice_url, "burgemeester")
    sign_in_folder(page, choose="all", expected_capacity="burgemeester")

    session.rollback()
    session.expire_all()  # the session keeps what it loaded (expire_on_commit=False)
    documents = session.scalars(select(Document).order_by(Document.title)).all()
    assert [d.status for d in documents] == [DocumentStatus.READY, DocumentStatus.READY]
    first_id = documents[0].id
    session.rollback()  # the app needs the (SQLite) write lock the test's transaction holds

    # The document page shows both signatures as valid once the validation job has run.
    page.goto(f"{backoffice_url}/stukken/{first_id}")
    page.wait_for_function("() => true")
    for _ in range(50):
        if "Handtekeningen gecontroleerd: 2 van 2 geldig" in page.content():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.get_by_text("Handtekeningen gecontroleerd: 2 van 2 geldig")).to_be_visible()
    expect(page.get_by_text("Ondertekend als algemeen directeur")).to_be_visible()
    expect(page.get_by_text("Ondertekend als burgemeester")).to_be_visible()
    screenshot(page, "signing-document-signed")
    assert_accessible(page)
    page_console.assert_clean()
