"""The secretariat registers a decision with two letters through the form, in Chromium: a
mistake is shown next to its field (with the PDFs kept), corrected, and the decision, its
letters, their checks and previews appear; a letter is screened."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.jobs import Worker
from shared.models import Decision, Document, DocumentStatus, StaffRole
from shared.timeutil import today
from tests import factories, intake_pdfs
from tests.e2e.browser import Console, assert_accessible, log_in_to_the_back_office, screenshot

pytestmark = pytest.mark.e2e


def _pdf(name: str, content: bytes) -> dict[str, object]:
    return {"name": name, "mimeType": "application/pdf", "buffer": content}


def test_the_secretariat_registers_a_decision_with_two_letters(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    log_in_to_the_back_office(page, session, clerk, org, backoffice_url)

    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Nieuwe beslissing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nieuwe beslissing")
    screenshot(page, "intake-new-decision")
    assert_accessible(page)

    page.get_by_label("Bestuursorgaan").select_option("college")
    page.get_by_label("Datum van de zitting").fill((today() - timedelta(days=3)).isoformat())
    page.get_by_label("Nummer van de beslissing").fill("2026_CBS_01500")
    page.get_by_label("Titel", exact=True).fill("Subsidie voor het buurtfeest in de Kerkstraat")
    page.get_by_label("Rechtsgrond").fill("Subsidiereglement van 17 december 2024")

    first = page.locator("#brief-1")
    first.get_by_label("PDF-bestand").set_input_files(
        _pdf("ann.pdf", intake_pdfs.letter("Subsidie", "Ann Peeters"))
    )
    first.get_by_label("Burger, met rijksregisternummer").check()
    first.get_by_label("Naam", exact=True).fill("Ann Peeters")
    first.get_by_label("Rijksregisternummer", exact=True).fill("85.07.30-033.29")  # a typo
    page.get_by_role("button", name="Nog een brief toevoegen").click()

    second = page.locator("#brief-2")
    expect(second).to_be_visible()
    expect(first.get_by_text("Al gekozen: ann.pdf")).to_be_visible()
    second.get_by_label("PDF-bestand").set_input_files(
        _pdf("comite.pdf", intake_pdfs.letter("Subsidie", "Feestcomité vzw"))
    )
    second.get_by_label("Titel van de brief").fill("Kopie voor het feestcomité")
    second.get_by_label("Onderneming, met KBO-nummer").check()
    second.get_by_label("Naam", exact=True).fill("Feestcomité vzw")
    second.get_by_label("Ondernemingsnummer (KBO)", exact=True).fill("0403.170.701")
    second.get_by_label("Te betalen bedrag").fill("125,50")
    second.get_by_label("Vervaldag").fill((today() + timedelta(days=30)).isoformat())
    second.get_by_role("combobox", name="Rechtsmiddel").select_option("custom")
    page.get_by_role("button", name="Beslissing registreren").click()

    # the typo is shown at the top and next to its field; nothing has to be chosen again
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Brief 1: Dit rijksregisternummer klopt niet")
    expect(summary).to_contain_text("Brief 2: Geef de tekst over het rechtsmiddel")
    expect(page.locator("#brief-1").get_by_text("Al gekozen: ann.pdf")).to_be_visible()
    expect(page.locator("#brief-2").get_by_text("Al gekozen: comite.pdf")).to_be_visible()
    screenshot(page, "intake-new-decision-errors")
    assert_accessible(page)
    summary.get_by_role("link", name="Brief 1: Dit rijksregisternummer klopt niet").click()
    number = page.locator("#brief-1").get_by_label("Rijksregisternummer", exact=True)
    expect(number).to_be_focused()
    number.fill("85.07.30-033.28")
    page.locator("#brief-2").get_by_label("Tekst over het rechtsmiddel").fill(
        "U kunt binnen 30 dagen beroep instellen bij de provinciegouverneur."
    )
    page.get_by_role("button", name="Beslissing registreren").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Subsidie voor het buurtfeest in de Kerkstraat"
    )
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text("Ann Peeters")
    expect(table).to_contain_text("Kopie voor het feestcomité")
    expect(table.get_by_text("in orde")).to_have_count(2)
    screenshot(page, "intake-decision")
    assert_accessible(page)

    page.get_by_role("link", name="Kopie voor het feestcomité").click()
    expect(page.get_by_text("De PDF doorstond alle controles")).to_be_visible()
    preview = page.get_by_role("img", name="Voorbeeld van pagina 1.")
    expect(preview).to_be_visible()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 100", arg=preview.element_handle()
    )
    screenshot(page, "intake-document-draft")
    assert_accessible(page)
    page.get_by_role("button", name="Screenen").click()
    expect(page.get_by_text("wacht op handtekening").first).to_be_visible()
    screenshot(page, "intake-document-screened")
    # the form that came back with problems answered 422 (on purpose); nothing else failed
    assert [e for e in page_console.errors if "status of 422" not in e] == []
    assert page_console.csp_violations == []

    session.rollback()
    decision = session.scalars(select(Decision)).one()
    assert decision.organisation_id == org.id
    documents = session.scalars(select(Document).order_by(Document.title)).all()
    assert [d.status for d in documents] == [
        DocumentStatus.AWAITING_SIGNATURE,
        DocumentStatus.DRAFT,
    ]
    assert documents[0].amount_due_cents == 12550
    session.rollback()


def test_a_pdf_with_findings_shows_them_per_page_with_a_preview(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    log_in_to_the_back_office(page, session, clerk, org, backoffice_url)
    page.goto(backoffice_url + "/brieven/nieuw")
    page.get_by_label("PDF-bestand").set_input_files(
        _pdf("venster.pdf", intake_pdfs.with_ink_in_window())
    )
    page.get_by_label("Titel van de brief").fill("Herinnering retributie")
    page.get_by_label("Soort stuk").select_option("reminder")
    page.get_by_label("Alleen naam en adres").check()
    page.get_by_label("Naam", exact=True).fill("Luc Maes")
    page.get_by_label("Straat en huisnummer").fill("Beekstraat 88")
    page.get_by_label("Postcode").fill("9999")
    page.get_by_label("Gemeente", exact=True).fill("Zegelbeek")
    page.get_by_role("button", name="Brief registreren").click()

    expect(page.get_by_role("heading", name="Pagina 1")).to_be_visible()
    finding = "In het venster van de envelop mag alleen het adres staan"
    expect(page.get_by_text(finding)).to_be_visible()
    outlined = "Voorbeeld van pagina 1; wat niet klopt, is rood omlijnd."
    preview = page.get_by_role("img", name=outlined)
    expect(preview).to_be_visible()
    expect(page.get_by_text("Screenen kan zodra de PDF alle controles doorstaat.")).to_be_visible()
    screenshot(page, "intake-document-findings")
    assert_accessible(page)

    page.get_by_label("Vervangen door een verbeterde PDF").set_input_files(
        _pdf("goed.pdf", intake_pdfs.letter("Herinnering", "Luc Maes"))
    )
    page.get_by_role("button", name="Vervangen", exact=True).click()
    expect(page.get_by_text("De PDF doorstond alle controles")).to_be_visible()
    page_console.assert_clean()
    session.rollback()


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_an_import_shows_its_progress_as_a_worker_registers_it(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    log_in_to_the_back_office(page, session, clerk, org, backoffice_url)
    day = (today() - timedelta(days=2)).isoformat()
    manifest = (
        "body;session_date;decision_number;title;file;recipient_kind;name;"
        "national_register_number\n"
        f"college;{day};2026_CBS_02001;Vergunning;a.pdf;citizen;Ann;85.07.30-033.28\n"
        f"college;{day};2026_CBS_02002;Vergunning;b.pdf;citizen;Bob;85.07.30-033.29\n"
    )
    content = _zip(
        {
            "manifest.csv": manifest.encode(),
            "a.pdf": intake_pdfs.letter(),
            "b.pdf": intake_pdfs.letter(),
        }
    )
    page.goto(backoffice_url + "/import")
    screenshot(page, "intake-import")
    assert_accessible(page)
    page.get_by_label("ZIP-bestand").set_input_files(
        {"name": "export.zip", "mimeType": "application/zip", "buffer": content}
    )
    page.get_by_role("button", name="Importeren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import van export.zip")
    expect(page.get_by_text("0 van 2 verwerkt")).to_be_visible()
    page.wait_for_function("() => window.htmx !== undefined")
    screenshot(page, "intake-import-waiting")
    assert_accessible(page)

    worker = threading.Thread(target=Worker("e2e").run_pending, daemon=True)
    worker.start()
    # htmx polls the progress partial and swaps it in: no reload
    expect(page.get_by_text("De import is klaar.")).to_be_visible(timeout=20_000)
    worker.join(timeout=20)
    expect(
        page.get_by_text("Kolom national_register_number: Dit rijksregisternummer")
    ).to_be_visible()
    expect(page.get_by_role("link", name="regel 2")).to_be_visible()
    screenshot(page, "intake-import-done")
    assert_accessible(page)
    page_console.assert_clean()
    session.rollback()


def test_a_beheerder_creates_an_api_key(
    page: Page, page_console: Console, backoffice_url: str, session: Session
) -> None:
    org = factories.organisation(session)
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    log_in_to_the_back_office(page, session, admin, org, backoffice_url)
    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="API-sleutels").click()
    page.get_by_label("Waarvoor dient de sleutel?").fill("Gelinkt Notuleren")
    page.get_by_role("button", name="Sleutel aanmaken").click()
    key = page.locator("#nieuwe-sleutel")
    expect(key).to_have_text(re.compile(r"^zgl_[0-9a-f]{12}_[0-9a-f]{64}$"))
    screenshot(page, "intake-api-key")
    assert_accessible(page)
    page.get_by_role("button", name="Intrekken Gelinkt Notuleren").click()
    expect(page.get_by_text("ingetrokken")).to_be_visible()
    expect(page.locator("#nieuwe-sleutel")).to_have_count(0)
    page_console.assert_clean()
    session.rollback()
