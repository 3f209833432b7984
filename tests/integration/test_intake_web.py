"""Intake through the back office over HTTP: the decision and letter forms, the document page
with its findings, previews, replacement and screening, and who may do what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.models import (
    AuditEvent,
    Decision,
    Document,
    DocumentStatus,
    Organisation,
    Recipient,
    SignatureRequest,
    StaffRole,
    StaffUser,
)
from shared.protection import ssin_digest
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories, intake_pdfs

ANN = "85073003328"


@dataclass
class World:
    """The test's session, and a client that first ends the session's transaction (on
    SQLite even a read holds the write lock until then)."""

    org: Organisation
    clerk: StaffUser
    session: Session
    http: TestClient[ZegelApp]

    def get(self, path: str, **kwargs: Any) -> Any:
        self.session.rollback()
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        self.session.rollback()
        return self.http.post(path, **kwargs)

    def login(self, token: str) -> None:
        self.http.cookies.set("zegel_backoffice_session", token)


@pytest.fixture
def world(session: Session) -> Iterator[World]:
    org = factories.organisation(session)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    token = factories.web_session(session, "backoffice", staff=clerk, organisation=org)
    session.commit()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        world = World(org, clerk, session, client)
        world.login(token)
        yield world


def csrf(world: World, path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', world.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def decision_form(**changes: str) -> dict[str, str]:
    session_date = (today() - timedelta(days=2)).isoformat()
    form = {
        "aantal": "2",
        "body": "college",
        "session_date": session_date,
        "decision_number": "2026_CBS_00777",
        "title": "Subsidie voor het buurtfeest",
        "legal_basis": "Subsidiereglement van 2024",
        "documents.0.recipient.kind": "citizen",
        "documents.0.recipient.name": "Ann Peeters",
        "documents.0.recipient.national_register_number": "85.07.30-033.28",
        "documents.0.amount_due": "",
        "documents.0.dispute_right": "none",
        "documents.1.recipient.kind": "enterprise",
        "documents.1.recipient.name": "Feestcomité vzw",
        "documents.1.recipient.enterprise_number": "0403.170.701",
        "documents.1.title": "Kopie voor het feestcomité",
        "documents.1.amount_due": "125,50",
        "documents.1.due_date": (today() + timedelta(days=30)).isoformat(),
        "documents.1.dispute_right": "custom",
        "documents.1.dispute_legal_text": "Beroep binnen 30 dagen bij de gouverneur.",
    }
    form.update(changes)
    return form


def pdfs(first: bytes | None = None, second: bytes | None = None) -> list[Any]:
    return [
        ("documents.0.file", ("ann.pdf", first or intake_pdfs.letter(), "application/pdf")),
        (
            "documents.1.file",
            (
                "comite.pdf",
                second or intake_pdfs.letter(recipient="Feestcomité"),
                "application/pdf",
            ),
        ),
    ]


def count(session: Session, model: type[Any]) -> int:
    session.rollback()
    found = session.scalar(select(func.count()).select_from(model)) or 0
    session.rollback()
    return found


def post_decision(world: World, form: dict[str, str], files: list[Any] | None = None) -> Any:
    token = csrf(world, "/beslissingen/nieuw")
    return world.post(
        "/beslissingen/nieuw",
        data={**form, "_csrf_token": token},
        files=pdfs() if files is None else files,
        follow_redirects=False,
    )


def test_the_secretariat_registers_a_decision_with_two_letters(
    session: Session, world: World
) -> None:
    page = world.get("/beslissingen/nieuw")
    assert page.status_code == 200
    assert "Nieuwe beslissing" in page.text
    response = post_decision(world, decision_form())
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/beslissingen/")

    decision = session.scalars(select(Decision)).one()
    assert decision.organisation_id == world.org.id
    assert decision.decision_number == "2026_CBS_00777"
    documents = session.scalars(select(Document).order_by(Document.created_at)).all()
    assert [d.status for d in documents] == [DocumentStatus.DRAFT, DocumentStatus.DRAFT]
    assert documents[1].amount_due_cents == 12550
    assert documents[1].dispute_legal_text == "Beroep binnen 30 dagen bij de gouverneur."
    ann = session.scalars(select(Recipient).where(Recipient.ssin_digest == ssin_digest(ANN))).one()
    assert ann.name == "Ann Peeters"
    events = session.scalars(select(AuditEvent.action)).all()
    assert events.count("document.registered") == 2
    assert "decision.registered" in events
    assert all(
        e.actor_id == str(world.clerk.id)
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "document.registered")
        )
    )

    overview = world.get(location)
    assert overview.status_code == 200
    assert "Subsidie voor het buurtfeest" in overview.text
    assert "Kopie voor het feestcomité" in overview.text
    assert overview.text.count("in orde") == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (intake_pdfs.NOT_A_PDF, "Dit bestand is geen PDF-document."),
        (intake_pdfs.corrupt(), "beschadigd of onvolledig"),
        (intake_pdfs.encrypted(), "versleuteld of met een wachtwoord beveiligd"),
    ],
)
def test_an_unusable_upload_is_refused_with_its_reason_and_nothing_changes(
    session: Session, world: World, content: bytes, message: str
) -> None:
    events = count(session, AuditEvent)
    response = post_decision(world, decision_form(), pdfs(second=content))
    assert response.status_code == 422
    assert message in response.text
    assert "Brief 2:" in response.text  # the summary says which letter
    # what was typed is still there, and the good PDF need not be chosen again
    assert 'value="Subsidie voor het buurtfeest"' in response.text
    assert 'value="85.07.30-033.28"' in response.text
    assert "Al gekozen: ann.pdf" in response.text
    assert "Al gekozen: comite.pdf" not in response.text
    assert (count(session, Decision), count(session, Document)) == (0, 0)
    assert count(session, AuditEvent) == events


def test_an_oversized_upload_is_refused(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings

    monkeypatch.setenv("ZEGEL_PDF_MAX_BYTES", "4096")
    get_settings.cache_clear()
    try:
        response = post_decision(world, decision_form())
    finally:
        monkeypatch.delenv("ZEGEL_PDF_MAX_BYTES")
        get_settings.cache_clear()
    assert response.status_code == 422
    assert "de grens is 4 kB" in response.text
    assert count(session, Document) == 0


def test_wrong_numbers_and_a_missing_legal_text_are_shown_next_to_their_fields(
    session: Session, world: World
) -> None:
    response = post_decision(
        world,
        decision_form(
            **{
                "documents.0.recipient.national_register_number": "85.07.30-033.29",
                "documents.1.recipient.enterprise_number": "0403.170.702",
                "documents.1.dispute_legal_text": "",
                "session_date": "31/02/2026",
            }
        ),
    )
    assert response.status_code == 422
    text = response.text
    for field, message in [
        (
            "documents.0.recipient.national_register_number",
            "Dit rijksregisternummer klopt niet",
        ),
        ("documents.1.recipient.enterprise_number", "Dit ondernemingsnummer klopt niet"),
        ("documents.1.dispute_legal_text", "Geef de tekst over het rechtsmiddel"),
        ("session_date", "Geef een geldige datum"),
    ]:
        error = re.search(rf'id="veld-{re.escape(field)}-fout">(.*?)</p>', text, re.S)
        assert error, field
        assert message in error.group(1)
        assert f'href="#veld-{field}"' in text  # the summary links to the field
    assert 'value="85.07.30-033.29"' in text  # kept as typed, to correct it
    assert "Al gekozen: ann.pdf" in text
    assert "Al gekozen: comite.pdf" in text
    assert count(session, Document) == 0

    # correct the fields without choosing the PDFs again: the remembered files are used
    tokens = dict(re.findall(r'name="(documents\.\d\.upload)" value="([^"]+)"', text))
    response = post_decision(world, {**decision_form(), **tokens}, files=[])
    assert response.status_code == 303, response.text
    assert count(session, Document) == 2


def test_a_duplicate_decision_gets_a_clear_message(session: Session, world: World) -> None:
    assert post_decision(world, decision_form()).status_code == 303
    again = post_decision(world, decision_form())
    assert again.status_code == 409
    assert "Beslissing 2026_CBS_00777 van het college van burgemeester en schepenen" in again.text
    assert "is al geregistreerd" in again.text
    assert count(session, Decision) == 1


def test_adding_and_leaving_out_letters_keeps_what_was_typed(world: World) -> None:
    form = decision_form(aantal="2", actie="toevoegen")
    page = post_decision(world, form)
    assert page.status_code == 200
    assert 'name="aantal" value="3"' in page.text
    assert "Brief 3" in page.text
    assert "Al gekozen: comite.pdf" in page.text
    page = post_decision(world, decision_form(aantal="2", actie="weglaten-0"))
    assert 'name="aantal" value="1"' in page.text
    assert 'value="Feestcomité vzw"' in page.text  # letter 2 moved up
    assert 'value="Ann Peeters"' not in page.text


def test_a_letter_on_its_own(session: Session, world: World) -> None:
    token = csrf(world, "/brieven/nieuw")
    response = world.post(
        "/brieven/nieuw",
        data={
            "_csrf_token": token,
            "title": "Herinnering retributie",
            "document_type": "reminder",
            "recipient.kind": "postal",
            "recipient.name": "Luc Maes",
            "recipient.street": "Beekstraat 88",
            "recipient.postal_code": "9999",
            "recipient.city": "Testdorp",
            "amount_due": "35",
            "due_date": (today() + timedelta(days=14)).isoformat(),
            "dispute_right": "none",
        },
        files=[("file", ("herinnering.pdf", intake_pdfs.letter("Herinnering"), "application/pdf"))],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    document = session.scalars(select(Document)).one()
    assert document.decision_id is None
    assert document.amount_due_cents == 3500
    page = world.get(response.headers["location"])
    assert "Herinnering retributie" in page.text
    assert "De PDF doorstond alle controles" in page.text
    assert "Herinnering: geen beslissing, dus geen handtekening nodig." in page.text


def test_findings_per_page_with_a_preview_then_replace_and_screen(
    session: Session, world: World
) -> None:
    response = post_decision(world, decision_form(), pdfs(first=intake_pdfs.with_ink_in_window()))
    assert response.status_code == 303
    document = session.scalars(select(Document).where(Document.file_name == "ann.pdf")).one()
    page = world.get(f"/stukken/{document.id}")
    assert page.status_code == 200
    assert "Pagina 1" in page.text
    assert "In het venster van de envelop mag alleen het adres staan" in page.text
    assert f'src="/stukken/{document.id}/pagina/1"' in page.text
    assert "Screenen kan zodra de PDF alle controles doorstaat." in page.text
    preview = world.get(f"/stukken/{document.id}/pagina/1")
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG")
    assert world.get(f"/stukken/{document.id}/pagina/7").status_code == 404

    token = csrf(world, f"/stukken/{document.id}")
    refused = world.post(
        f"/stukken/{document.id}/vervangen",
        data={"_csrf_token": token},
        files=[("bestand", ("x.pdf", intake_pdfs.encrypted(), "application/pdf"))],
    )
    assert refused.status_code == 422
    assert "versleuteld" in refused.text
    replaced = world.post(
        f"/stukken/{document.id}/vervangen",
        data={"_csrf_token": token},
        files=[("bestand", ("verbeterd.pdf", intake_pdfs.letter("Verbeterd"), "application/pdf"))],
        follow_redirects=False,
    )
    assert replaced.status_code == 303
    page = world.get(f"/stukken/{document.id}")
    assert "De PDF doorstond alle controles" in page.text
    assert "algemeen directeur" in page.text  # the default rule of a college decision

    no_reason = world.post(
        f"/stukken/{document.id}/screenen",
        data={"_csrf_token": token, "keuze": "afwijken", "ondertekenaar-1": "burgemeester"},
    )
    assert no_reason.status_code == 422
    assert "Geef een reden" in no_reason.text
    screened = world.post(
        f"/stukken/{document.id}/screenen",
        data={
            "_csrf_token": token,
            "keuze": "afwijken",
            "ondertekenaar-1": "burgemeester",
            "reden": "Dringend: de burgemeester tekent alleen.",
        },
        follow_redirects=False,
    )
    assert screened.status_code == 303
    session.expire_all()
    assert session.get(Document, document.id).status is DocumentStatus.AWAITING_SIGNATURE  # type: ignore[union-attr]
    requests = session.scalars(
        select(SignatureRequest).where(SignatureRequest.document_id == document.id)
    ).all()
    assert [r.signer_function.value for r in requests] == ["burgemeester"]


def test_other_roles_and_organisations_cannot_use_the_intake(
    session: Session, world: World
) -> None:
    post_decision(world, decision_form())
    document = session.scalars(select(Document)).first()
    assert document is not None
    other_org = factories.organisation(session, "Gemeente B")
    stranger = factories.staff_member(session, other_org, [StaffRole.SECRETARIAAT])
    desk = factories.staff_member(session, world.org, [StaffRole.ONTHAAL])
    stranger_token = factories.web_session(
        session, "backoffice", staff=stranger, organisation=other_org
    )
    desk_token = factories.web_session(session, "backoffice", staff=desk, organisation=world.org)
    session.commit()
    world.login(stranger_token)
    assert world.get(f"/stukken/{document.id}").status_code == 404
    assert world.get(f"/stukken/{document.id}/pagina/1").status_code == 404
    assert world.get(f"/beslissingen/{document.decision_id}").status_code == 404
    world.login(desk_token)
    for path in ("/beslissingen/nieuw", "/brieven/nieuw", "/import"):
        assert world.get(path).status_code == 403, path
    page = world.get("/")
    assert 'href="/beslissingen/nieuw"' not in page.text


def test_the_menu_offers_the_intake_to_the_secretariat(world: World) -> None:
    page = world.get("/").text
    for href in ("/beslissingen/nieuw", "/brieven/nieuw", "/import"):
        assert f'href="{href}"' in page
    assert 'href="/beheer/api-sleutels"' not in page


def test_the_intake_pages_follow_the_language(world: World) -> None:
    world.http.cookies.set("zegel_taal", "en")
    page = world.get("/beslissingen/nieuw")
    assert "<h1>New decision</h1>" in page.text
    assert "Register decision" in page.text
    assert "National register number" in page.text
    token = csrf(world, "/beslissingen/nieuw")
    refused = world.post(
        "/beslissingen/nieuw",
        data={
            **decision_form(**{"documents.1.recipient.enterprise_number": "1"}),
            "_csrf_token": token,
        },
        files=pdfs(),
    )
    assert "An enterprise number has 10 digits" in refused.text
