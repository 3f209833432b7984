"""Disputing through the portal over HTTP: the deadline on the document page, the form with its
confirmation step, the receipt page and PDF, and every kind of bad input."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.app import create_app
from shared.config import get_settings
from shared.db import utcnow
from shared.models import (
    AuditEvent,
    Dispute,
    DisputeChannel,
    DisputeOutcome,
    DisputeRight,
    DisputeStatus,
    Document,
    Job,
)
from shared.services import auth, disputes
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories
from tests.integration.test_disputes import (
    jpeg_with_exif,
    pdf_bytes,
    pdf_with_javascript,
)

ANN = "85073003328"
BOB = "01010100126"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"


@pytest.fixture
def portal() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _login(session: Session, portal: TestClient[ZegelApp], ssin: str = ANN, level: int = 3) -> None:
    token = factories.web_session(session, "portal", ssin=ssin, level=level)
    portal.cookies.set("zegel_portal_session", token)


def _document(session: Session, *, days_ago: int = 5, ssin: str = ANN) -> Document:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    org.phone = "050 12 34 56"
    org.email = "belastingen@zegelbeek.example"
    recipient = factories.citizen(session, org, ssin=ssin)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    document.document_type = "tax_assessment"
    factories.send(session, document)
    document.legal_sending_date = today() - timedelta(days=days_ago)
    document.sent_at = utcnow() - timedelta(days=days_ago)
    session.flush()
    return document


def _hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', html)


def _form(portal: TestClient[ZegelApp], token: str) -> dict[str, str]:
    page = portal.get(f"/d/{token}/bezwaar")
    assert page.status_code == 200, page.text
    return {
        "_csrf_token": _hidden(page.text, "_csrf_token")[0],
        "sleutel": _hidden(page.text, "sleutel")[0],
    }


def _post(
    portal: TestClient[ZegelApp],
    token: str,
    fields: dict[str, str | list[str]],
    files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> object:
    multipart = [
        ("bijlagen", (name, content, "application/octet-stream")) for name, content in files
    ]
    if not multipart:
        multipart = [("bijlagen", ("", b"", "application/octet-stream"))]
    return portal.post(f"/d/{token}/bezwaar", data=fields, files=multipart, follow_redirects=False)


def test_the_document_page_shows_the_deadline_and_the_legal_text(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session)
    _login(session, portal)
    token = document.public_token
    session.commit()
    page = portal.get(f"/d/{token}")
    assert page.status_code == 200
    assert "U kunt bezwaar indienen tot en met" in page.text
    assert "binnen drie maanden vanaf de derde werkdag" in page.text  # the legal text
    assert f'href="/d/{token}/bezwaar"' in page.text
    assert "Bezwaar indienen" in page.text


def test_a_citizen_files_a_dispute_with_an_attachment_and_gets_a_receipt(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session)
    _login(session, portal)
    token = document.public_token
    session.commit()

    form = _form(portal, token)
    fields = {
        **form,
        "gronden": "Ik heb geen tweede verblijf:\nik woon er zelf sinds 2019.",
        "hoorzitting": "ja",
        "email": "an@example.org",
        "telefoon": "0470 12 34 56",
        "actie": "controleren",
    }
    check = _post(portal, token, fields, [("attest.pdf", pdf_bytes())])
    assert check.status_code == 200, check.text
    assert "Controleer uw bezwaar" in check.text
    assert "ik woon er zelf sinds 2019." in check.text
    assert "attest.pdf" in check.text
    assert session.scalars(select(Dispute)).all() == []  # nothing filed yet
    session.rollback()  # SQLite: the test's read took the write lock

    kept = _hidden(check.text, "bewaard")
    assert len(kept) == 1
    submit = {**fields, "actie": "indienen", "bewaard": kept}
    response = _post(portal, token, submit)
    assert response.status_code == 303
    receipt_url = response.headers["location"]
    assert receipt_url.startswith(f"/d/{token}/bezwaar/")

    receipt = portal.get(receipt_url)
    assert receipt.status_code == 200
    assert receipt.headers["cache-control"] == "no-store"
    session.expire_all()
    dispute = session.scalars(select(Dispute)).one()
    assert dispute.channel is DisputeChannel.PORTAL
    assert dispute.hearing_requested is True
    assert dispute.grounds.endswith("sinds 2019.")
    assert [a.file_name for a in dispute.attachments] == ["attest.pdf"]
    number = dispute.number
    session.rollback()
    assert number in receipt.text
    assert "an@example.org" in receipt.text

    pdf = portal.get(f"{receipt_url}/ontvangstbewijs")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert f"ontvangstbewijs-{number}.pdf" in pdf.headers["content-disposition"]
    assert pdf.content.startswith(b"%PDF-")

    page = portal.get(f"/d/{token}")
    assert "Bezwaar ontvangen" in page.text  # the timeline
    assert "bezwaar ingediend" in page.text  # the badge
    assert number in page.text
    assert session.scalars(select(Job).where(Job.kind == disputes.RECEIPT_MAIL_JOB)).one()
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "dispute.received")).one()


def test_a_second_submission_of_the_same_form_returns_the_first_dispute(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session)
    _login(session, portal)
    token = document.public_token
    session.commit()
    fields = {**_form(portal, token), "gronden": "Dubbel geklikt.", "actie": "indienen"}
    first = _post(portal, token, fields)
    second = _post(portal, token, fields)  # double click, back button, a second tab
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    session.expire_all()
    assert len(session.scalars(select(Dispute)).all()) == 1


@pytest.mark.parametrize("grounds", ["", "    "])
def test_empty_grounds_re_show_the_form_with_everything_typed(
    session: Session, portal: TestClient[ZegelApp], grounds: str
) -> None:
    document = _document(session)
    _login(session, portal)
    token = document.public_token
    session.commit()
    fields = {
        **_form(portal, token),
        "gronden": grounds,
        "email": "an@example.org",
        "telefoon": "0470 12 34 56",
        "hoorzitting": "ja",
        "actie": "controleren",
    }
    response = _post(portal, token, fields, [("foto.jpg", jpeg_with_exif())])
    assert response.status_code == 422
    assert "Schrijf waarom u het niet eens bent met de beslissing." in response.text
    assert 'value="an@example.org"' in response.text
    assert 'value="0470 12 34 56"' in response.text
    assert 'name="hoorzitting" value="ja" checked' in response.text
    assert "foto.jpg" in response.text  # the file is kept, not asked again
    assert len(_hidden(response.text, "bewaard")) == 1
    assert _hidden(response.text, "sleutel") == [fields["sleutel"]]
    session.expire_all()
    assert session.scalars(select(Dispute)).all() == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("factuur.pdf", EXE, "is geen PDF, JPEG of PNG"),
        ("bewijs.pdf", pdf_with_javascript(), "bevat actieve inhoud"),
        ("groot.pdf", b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024), "is groter dan 10 MB"),
    ],
    ids=["executable-renamed-pdf", "pdf-with-javascript", "oversized"],
)
def test_bad_attachments_are_refused_and_the_text_is_kept(
    session: Session, portal: TestClient[ZegelApp], name: str, content: bytes, message: str
) -> None:
    document = _document(session)
    _login(session, portal)
    token = document.public_token
    session.commit()
    grounds = "Mijn motivering, die ik niet opnieuw wil typen."
    fields = {**_form(portal, token), "gronden": grounds, "actie": "indienen"}
    response = _post(portal, token, fields, [(name, content), ("goed.pdf", pdf_bytes())])
    assert response.status_code == 422
    assert message in response.text
    assert grounds in response.text
    assert "goed.pdf" in response.text  # the good file next to it is kept
    session.expire_all()
    assert session.scalars(select(Dispute)).all() == []


def test_after_the_deadline_the_portal_explains_and_refuses(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session, days_ago=200)
    _login(session, portal)
    token = document.public_token
    session.commit()
    page = portal.get(f"/d/{token}")
    assert "De termijn om bezwaar in te dienen liep af op" in page.text
    assert "neem dan contact op met Gemeente Zegelbeek" in page.text
    assert f'href="/d/{token}/bezwaar"' not in page.text
    closed = portal.get(f"/d/{token}/bezwaar")
    assert closed.status_code == 200
    assert "De termijn voor bezwaar is verstreken" in closed.text
    assert "050 12 34 56" in closed.text
    assert "<form" not in closed.text.split("<main", 1)[-1].split("</main>")[0]
    posted = _post(
        portal,
        token,
        {
            "_csrf_token": _form_token(portal),
            "sleutel": "x" * 32,
            "gronden": "Toch nog",
            "actie": "indienen",
        },
    )
    assert posted.status_code == 200
    assert "De termijn voor bezwaar is verstreken" in posted.text
    session.expire_all()
    assert session.scalars(select(Dispute)).all() == []


def test_after_a_decision_the_form_no_longer_opens_and_files_nothing(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session)
    filed = disputes.file_dispute(
        session,
        document,
        disputes.DisputeInput(grounds="Ik heb geen tweede verblijf."),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(document),
    ).dispute
    filed.status = DisputeStatus.DECIDED
    filed.outcome = DisputeOutcome.UNFOUNDED
    number = filed.number
    _login(session, portal)
    token = document.public_token
    session.commit()

    key = _form_token(portal)  # a form that was opened before the decision …
    page = portal.get(f"/d/{token}/bezwaar")
    assert page.status_code == 200
    assert "Over uw bezwaar werd al beslist" in page.text
    assert f"(dossiernummer {number}) werd beslist." in page.text
    assert "<form" not in page.text.split("<main", 1)[-1].split("</main>")[0]
    posted = _post(  # … and sent afterwards
        portal,
        token,
        {"_csrf_token": key, "sleutel": "y" * 32, "gronden": "Nog eens", "actie": "indienen"},
    )
    assert posted.status_code == 200
    assert "Over uw bezwaar werd al beslist" in posted.text
    session.expire_all()
    assert len(session.scalars(select(Dispute)).all()) == 1


def _form_token(portal: TestClient[ZegelApp]) -> str:
    return _hidden(portal.get("/code").text, "_csrf_token")[0]


@pytest.mark.parametrize(
    "path",
    [
        "/d/{token}/bezwaar",
        "/d/{token}/bezwaar/{dispute}",
        "/d/{token}/bezwaar/{dispute}/ontvangstbewijs",
    ],
)
def test_another_citizens_document_or_dispute_looks_like_one_that_does_not_exist(
    session: Session, portal: TestClient[ZegelApp], path: str
) -> None:
    bobs = _document(session, ssin=BOB)
    dispute = disputes.file_dispute(
        session,
        bobs,
        disputes.DisputeInput(grounds="Bob is het niet eens."),
        channel=DisputeChannel.PORTAL,
        actor=disputes.citizen_actor(bobs),
    ).dispute
    _login(session, portal, ANN)
    token, dispute_id = bobs.public_token, dispute.id
    session.commit()
    theirs = portal.get(path.format(token=token, dispute=dispute_id))
    unknown = portal.get(path.format(token="onbestaand-" + uuid.uuid4().hex, dispute=uuid.uuid4()))
    assert theirs.status_code == unknown.status_code == 404
    assert "Bob is het niet eens" not in theirs.text
    assert "Belasting op tweede verblijven" not in theirs.text


def test_posting_a_dispute_on_another_citizens_document_files_nothing(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    bobs = _document(session, ssin=BOB)
    _login(session, portal, ANN)
    token = bobs.public_token
    session.commit()
    response = _post(
        portal,
        token,
        {
            "_csrf_token": _form_token(portal),
            "sleutel": "s" * 32,
            "gronden": "x",
            "actie": "indienen",
        },
    )
    assert response.status_code == 404
    session.expire_all()
    assert session.scalars(select(Dispute)).all() == []


def test_disputing_needs_a_login_the_paper_code_is_not_enough(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    document = _document(session)
    document.access_code = "7KQ2M9XD4TNA"
    token = document.public_token
    session.commit()
    summary = portal.post(
        "/code", data={"_csrf_token": _form_token(portal), "code": "7KQ2M9XD4TNA"}
    )
    assert summary.status_code == 200
    assert "/bezwaar" not in summary.text
    response = portal.get(f"/d/{token}/bezwaar", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/aanmelden?terug=")


def test_disputing_asks_for_the_configured_level(
    session: Session, portal: TestClient[ZegelApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZEGEL_CITIZEN_LEVEL_DISPUTE", "high")
    get_settings.cache_clear()
    auth.citizen_levels.cache_clear()
    try:
        document = _document(session)
        _login(session, portal, level=2)
        token = document.public_token
        session.commit()
        assert portal.get(f"/d/{token}").status_code == 200  # reading is fine
        response = portal.get(f"/d/{token}/bezwaar", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].endswith("niveau=high")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        auth.citizen_levels.cache_clear()
