"""Issue 4's journey in Chromium: the secretariat registers a college decision with two letters
and screens them; the general director gets one digest e-mail, signs both as a batch; the mayor
signs after him; both documents end signed with two valid signatures."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.integrations.mail.sandbox import ReceivedMail
from shared.integrations.oidc.identities import citizen, staff_member
from shared.models import Document, DocumentStatus, SignerFunction, StaffRole
from shared.pdf.validation import validate_signatures
from shared.services.signing import trust_roots
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories, intake_pdfs
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.e2e.conftest import Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

TITLES = ("Omgevingsvergunning Kerkstraat 1", "Omgevingsvergunning Molenstraat 12")
AN, PIETER = citizen("an-janssens"), citizen("pieter-de-smet")


def log_in(page: Page, backoffice_url: str, subject: str) -> None:
    name = staff_member(subject).name
    page.goto(backoffice_url + "/aanmelden")
    form = page.locator("form").filter(has=page.get_by_role("heading", name=name, exact=True))
    form.get_by_role("button", name=f"Aanmelden als {name}").click()
    expect(page.get_by_role("navigation", name="Hoofdmenu")).to_contain_text(name)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Afmelden").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("afgemeld")


def _documents(count: int) -> str:
    return "1 stuk" if count == 1 else f"{count} stukken"


def sign_in_folder(
    page: Page, *, choose: str, expected_capacity: str, titles: Sequence[str] = TITLES
) -> None:
    """From the folder: choose, confirm once, and wait for the progress page to finish.
    `titles`: the documents waiting in the folder (the two letters of this journey unless
    another journey says otherwise)."""
    count = len(titles)
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
        "link", name="Handtekenmap"
    ).click()
    waiting = "wacht" if count == 1 else "wachten"
    expect(page.get_by_role("table")).to_contain_text(
        f"{_documents(count)} {waiting} op uw handtekening"
    )
    for title in titles:
        expect(page.get_by_role("img", name=f"Eerste pagina van {title}")).to_be_visible()
    screenshot(page, f"signing-folder-{choose}")
    assert_accessible(page)
    if choose == "each":
        for title in titles:
            page.get_by_label(f"{title} kiezen").check()
        page.get_by_role("button", name="Gekozen stukken ondertekenen").click()
    else:
        page.get_by_role("button", name=f"Alles ondertekenen ({count})").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ondertekenen bevestigen")
    expect(
        page.get_by_text(f"U ondertekent {_documents(count)} als {expected_capacity}.")
    ).to_be_visible()
    screenshot(page, f"signing-confirm-{choose}")
    assert_accessible(page)
    page.get_by_role("button", name=f"{_documents(count)} ondertekenen").click()
    expect(page).to_have_url(re.compile(r"/handtekenmap/reeks/[0-9a-f-]{36}$"))
    # The progress section refreshes itself (htmx) until the batch is done.
    done = "is ondertekend" if count == 1 else "zijn ondertekend"
    expect(page.get_by_text(f"{_documents(count)} {done}.")).to_be_visible(timeout=30_000)
    expect(page.locator("progress")).to_have_attribute("value", str(count))
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


def _pdf(name: str, content: bytes) -> dict[str, object]:
    return {"name": name, "mimeType": "application/pdf", "buffer": content}


def register_decision_with_two_letters(page: Page, backoffice_url: str) -> None:
    """As the secretariat: the decision with a letter to each neighbour, then screen both."""
    log_in(page, backoffice_url, "secretariaat")
    page.get_by_role("main").get_by_role("link", name="Nieuwe beslissing").click()
    page.get_by_label("Bestuursorgaan").select_option("college")
    page.get_by_label("Datum van de zitting").fill((today() - timedelta(days=2)).isoformat())
    page.get_by_label("Nummer van de beslissing").fill("2026_CBS_02001")
    page.get_by_label("Titel", exact=True).fill("Omgevingsvergunning voor een verbouwing")
    page.get_by_label("Rechtsgrond").fill("Omgevingsvergunningsdecreet van 25 april 2014")
    for number, (title, person) in enumerate(zip(TITLES, (AN, PIETER), strict=True), start=1):
        if number > 1:
            page.get_by_role("button", name="Nog een brief toevoegen").click()
        letter = page.locator(f"#brief-{number}")
        expect(letter).to_be_visible()
        letter.get_by_label("PDF-bestand").set_input_files(
            _pdf(f"brief-{number}.pdf", intake_pdfs.letter(title, person.name))
        )
        letter.get_by_label("Titel van de brief").fill(title)
        letter.get_by_label("Burger, met rijksregisternummer").check()
        letter.get_by_label("Naam", exact=True).fill(person.name)
        letter.get_by_label("Rijksregisternummer", exact=True).fill(person.rrn or "")
    page.get_by_role("button", name="Beslissing registreren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Omgevingsvergunning voor een verbouwing"
    )
    screenshot(page, "journey-decision-registered")
    for title in TITLES:
        page.get_by_role("link", name=title).click()
        page.get_by_role("button", name="Screenen").click()
        expect(page.get_by_text("wacht op handtekening").first).to_be_visible()
        page.go_back()
        page.go_back()
        page.reload()
    log_out(page)


def test_decision_registered_screened_signed_by_director_as_batch_then_by_mayor(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    sandbox: Sandbox,
) -> None:
    """Issue 4's journey: registration → screening → the director's folder and one digest
    e-mail → he signs both as a batch → the mayor signs → both signed, two valid signatures."""
    org = factories.organisation(session, "Gemeente Zegelbeek")
    issuer = sandbox.url + "/oidc"
    for subject, roles, function in (
        ("secretariaat", [StaffRole.SECRETARIAAT], None),
        ("directeur", [StaffRole.ONDERTEKENAAR], SignerFunction.ALGEMEEN_DIRECTEUR),
        ("burgemeester", [StaffRole.ONDERTEKENAAR], SignerFunction.BURGEMEESTER),
    ):
        factories.staff_member(
            session,
            org,
            roles,
            subject=subject,
            issuer=issuer,
            name=staff_member(subject).name,
            signer_function=function,
            email=staff_member(subject).email,
        )
    session.commit()

    register_decision_with_two_letters(page, backoffice_url)

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
    signed = [get_storage().get(d.current_sha256) for d in documents]
    session.rollback()  # the app needs the (SQLite) write lock the test's transaction holds
    for pdf in signed:  # pyHanko's validator, independently of the stored verdicts
        results = validate_signatures(pdf, trust_roots=trust_roots(), crls=[], allow_fetching=False)
        assert [(r.valid, r.capacity) for r in results] == [
            (True, "algemeen directeur"),
            (True, "burgemeester"),
        ]

    # The document page shows both signatures as valid once the validation job has run.
    page.goto(f"{backoffice_url}/stukken/{first_id}")
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
    assert [e for e in page_console.errors if "status of 422" not in e] == []
    assert page_console.csp_violations == []


def test_the_director_declines_with_a_reason_and_the_document_goes_back(
    page: Page, page_console: Console, session: Session, backoffice_url: str, sandbox: Sandbox
) -> None:
    from shared.services import audit
    from shared.services.screening import screen_document
    from tests.integration.signing.conftest import draft

    org = factories.organisation(session, "Gemeente Zegelbeek")
    factories.staff_member(
        session,
        org,
        [StaffRole.ONDERTEKENAAR],
        subject="directeur",
        issuer=sandbox.url + "/oidc",
        name=staff_member("directeur").name,
        signer_function=SignerFunction.ALGEMEEN_DIRECTEUR,
    )
    document = draft(session, org, factories.citizen(session, org), title=TITLES[0])
    screen_document(session, document, actor=audit.Actor.system("secretariaat"))
    document_id = document.id
    session.commit()

    log_in(page, backoffice_url, "directeur")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
        "link", name="Handtekenmap"
    ).click()
    page.get_by_role("link", name=f"Weigeren — {TITLES[0]}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("niet ondertekenen")
    page.get_by_label("Waarom ondertekent u niet?").fill("   ")  # only spaces: no reason
    page.get_by_role("button", name="Terugsturen met deze reden").click()
    expect(page.get_by_role("alert")).to_contain_text("Geef een reden op")
    screenshot(page, "signing-decline-error")
    assert_accessible(page)
    page.get_by_label("Waarom ondertekent u niet?").fill("Het bedrag klopt niet met het besluit.")
    page.get_by_role("button", name="Terugsturen met deze reden").click()
    expect(page.get_by_role("status")).to_contain_text("is teruggestuurd naar het secretariaat")
    expect(page.get_by_text("Er wacht niets op uw handtekening.")).to_be_visible()
    screenshot(page, "signing-declined")
    assert_accessible(page)

    session.expire_all()
    declined = session.get(Document, document_id)
    assert declined is not None
    assert declined.status is DocumentStatus.DRAFT
    session.rollback()
    assert [e for e in page_console.errors if "status of 400" not in e] == []
