"""A secretary filters the register of outgoing mail in Chromium and downloads the CSV; the
data protection officer (beheerder) opens the consultation log. Both pages pass axe-core."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.db import get_session_factory
from shared.models import Channel, DispatchStatus, RegisterConsultation, StaffRole
from shared.protection import seal, ssin_digest
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot
from tests.register_data import T0, add_dispatches

pytestmark = pytest.mark.e2e


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
    page.context.add_cookies(
        [{"name": "zegel_backoffice_session", "value": token, "domain": host, "path": "/"}]
    )


def test_a_secretary_filters_the_register_and_downloads_the_csv(
    page: Page, page_console: Console, backoffice_url: str, db: Session
) -> None:
    org = factories.organisation(db, "Gemeente Zegelzele")
    clerk = factories.staff_member(db, org, [StaffRole.SECRETARIAAT], name="Sara Peeters")
    add_dispatches(db, org, 40, step=timedelta(hours=20), recipient_name="Jan Janssens")
    add_dispatches(
        db,
        org,
        12,
        first_sequence=41,
        start=T0 + timedelta(days=3),
        step=timedelta(days=2),
        channel=Channel.PAPER,
        status=DispatchStatus.POSTED,
        recipient_name="Marie Claes",
        title="Aanslagbiljet belasting op tweede verblijven",
        document_type="tax_assessment",
    )
    add_dispatches(
        db,
        org,
        6,
        first_sequence=53,
        start=T0 + timedelta(days=5),
        step=timedelta(days=4),
        channel=Channel.REGISTERED,
        status=DispatchStatus.RETURNED,
        recipient_name="Luc Maes",
        document_type="gas_fine",
        title="Beslissing GAS-boete",
    )
    add_dispatches(
        db,
        org,
        2,
        first_sequence=59,
        start=T0 + timedelta(days=12),
        channel=Channel.PAPER,
        status=DispatchStatus.FAILED,
        recipient_name="Els Wouters",
    )
    token = factories.web_session(db, "backoffice", staff=clerk, organisation=org)
    db.commit()
    _log_in(page, backoffice_url, token)

    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register uitgaande post")
    expect(page.locator(".register-table__number").first).to_have_text("2026/000060")
    page.get_by_label("Verzonden vanaf").fill("2026-03-01")
    page.get_by_label("Verzonden tot en met").fill("2026-04-15")
    page.get_by_role("button", name="Toepassen").click()
    expect(page.get_by_role("heading", name="Overzicht van de selectie")).to_be_visible()
    screenshot(page, "backoffice-register")
    assert_accessible(page)

    page.get_by_label("Kanaal", exact=True).select_option("paper")
    page.get_by_role("button", name="Toepassen").click()
    expect(page.get_by_label("Kanaal", exact=True)).to_have_value("paper")
    numbers = page.locator(".register-table__number").all_inner_texts()
    assert numbers == [f"2026/{n:06d}" for n in (60, 59, *range(52, 40, -1))]
    expect(page.get_by_text("Adres onbekend bij bpost").first).to_be_visible()
    screenshot(page, "backoffice-register-paper")

    page.get_by_label("Zoeken", exact=True).fill("2026/000045")
    page.get_by_role("button", name="Toepassen").click()
    expect(page.locator(".register-table__number")).to_have_text(["2026/000045"])
    page.get_by_label("Zoeken", exact=True).fill("")
    page.get_by_role("button", name="Toepassen").click()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Downloaden als CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("register-uitgaande-post-")
    text = download.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "registernummer"
    assert [r[0] for r in rows[1:]] == numbers
    assert {r[2] for r in rows[1:]} == {"paper"}

    page.get_by_role("link", name="Filters wissen").click()
    page.get_by_role("link", name="Oudere ›").click()
    expect(page.locator(".register-table__number").first).to_have_text("2026/000010")
    expect(page.locator(".register-table__number")).to_have_count(10)
    screenshot(page, "backoffice-register-page-2")
    page_console.assert_clean()


def test_the_dpo_reads_the_consultation_log(
    page: Page, page_console: Console, backoffice_url: str, db: Session
) -> None:
    org = factories.organisation(db, "Gemeente Zegelzele")
    admin = factories.staff_member(db, org, [StaffRole.BEHEERDER], name="Bea Beheer")
    clerk = factories.staff_member(db, org, [StaffRole.SECRETARIAAT], name="Sara Peeters")
    for index, purpose in enumerate(("Verzending van een beslissing", "Controle eBox") * 3):
        db.add(
            RegisterConsultation(
                organisation_id=org.id,
                staff_user_id=clerk.id if index % 2 == 0 else None,
                actor_label="Sara Peeters" if index % 2 == 0 else "Zegel (verzending)",
                subject_digest=ssin_digest("85073003328"),
                subject_sealed=seal("85073003328"),
                service="GeefPersoon" if index % 2 == 0 else "citizenEboxConsents",
                purpose=purpose,
                legal_basis="Beraadslaging IVC nr. 26/000",
                occurred_at=T0 + timedelta(hours=index),
                outcome="found",
            )
        )
    token = factories.web_session(db, "backoffice", staff=admin, organisation=org)
    db.commit()
    _log_in(page, backoffice_url, token)
    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Raadplegingen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Raadplegingen van het rijksregister")
    page.get_by_label("Medewerker").select_option(label="Sara Peeters")
    page.get_by_role("button", name="Toepassen").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_text("85.07.30-***.**").first).to_be_visible()
    assert "85073003328" not in page.content()
    screenshot(page, "backoffice-register-consultations")
    assert_accessible(page)
    page_console.assert_clean()
