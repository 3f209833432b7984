"""The citizen portal through HTTP: my documents with badges, the document page, its PDF, the
paper letter's access code with its guessing lock, and the accessibility statement."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.app import create_app
from shared.config import get_settings
from shared.db import utcnow
from shared.errors import Forbidden, IllegalTransition, InvalidInput, NotFound, TooManyAttempts
from shared.models import (
    AccessCodeAttempt,
    AuditEvent,
    Dispute,
    DisputeChannel,
    DisputeStatus,
    Document,
    Organisation,
    PaymentRequest,
    PaymentRequestStatus,
    Recipient,
    SignatureRequest,
    SignatureStatus,
    SignerFunction,
    StaffRole,
)
from shared.protection import ssin_digest
from shared.services import access_codes, documents
from shared.services import portal as portal_service
from shared.services.access import StaffContext
from shared.storage import get_storage
from shared.web import ZegelApp
from tests import factories

ANN = "85073003328"
BOB = "01010100126"
PDF = b"%PDF-1.7\n% a signed letter, as far as this test is concerned\n%%EOF\n"


@pytest.fixture
def portal() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _login(session: Session, portal: TestClient[ZegelApp], ssin: str = ANN) -> None:
    portal.cookies.set("zegel_portal_session", factories.web_session(session, "portal", ssin=ssin))


def _sent(session: Session, org: Organisation, ssin: str, title: str, **fields: object) -> Document:
    recipient = session.scalars(
        select(Recipient).where(
            Recipient.organisation_id == org.id, Recipient.ssin_digest == ssin_digest(ssin)
        )
    ).one_or_none() or factories.citizen(session, org, ssin=ssin)
    document = factories.document(session, org, recipient, title=title)
    for key, value in fields.items():
        setattr(document, key, value)
    factories.send(session, document)
    document.sent_at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    return document


def _payment(
    session: Session, document: Document, status: PaymentRequestStatus, ogm: str = "123456789002"
) -> PaymentRequest:
    payment = PaymentRequest(
        organisation_id=document.organisation_id,
        document_id=document.id,
        amount_cents=12550,
        due_date=date(2026, 12, 31),
        structured_communication=ogm,
        iban="BE71096123456769",
        status=status,
    )
    session.add(payment)
    session.flush()
    return payment


def test_my_documents_shows_each_with_its_badge_newest_first(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    to_pay = _sent(session, org, ANN, "Belasting op tweede verblijven", amount_due_cents=12550)
    paid = _sent(session, org, ANN, "Retributie standplaats")
    _payment(session, paid, PaymentRequestStatus.PAID, "000000000097")
    disputed = _sent(session, org, ANN, "GAS-boete")
    session.add(
        Dispute(
            organisation_id=org.id,
            document_id=disputed.id,
            number="B-2026-0001",
            channel=DisputeChannel.PORTAL,
            received_at=utcnow(),
            grounds="Ik was er niet.",
            status=DisputeStatus.RECEIVED,
            competent_service="gas",
        )
    )
    _sent(session, org, BOB, "Brief voor Bob")
    to_pay.created_at = utcnow() - timedelta(days=3)
    _login(session, portal)
    session.commit()

    page = portal.get("/mijn-documenten")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Brief voor Bob" not in text
    for title, badge in (
        ("GAS-boete", "bezwaar ingediend"),
        ("Retributie standplaats", "betaald"),
        ("Belasting op tweede verblijven", "te betalen"),
    ):
        assert title in text
        assert badge in text.split(title, 1)[1].split("</li>", 1)[0]
    assert text.index("Belasting op tweede verblijven") > text.index("GAS-boete")  # oldest last


def test_the_document_page_says_what_it_is_what_it_costs_and_who_signed(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    org.phone, org.email = "09 123 45 67", "belastingen@zegelbeek.be"
    document = _sent(session, org, ANN, "Belasting op tweede verblijven")
    document.current_sha256 = get_storage().put(PDF)
    _payment(session, document, PaymentRequestStatus.OPEN)
    mayor = factories.staff_member(session, org, [], name="Els Vermeulen")
    session.add(
        SignatureRequest(
            organisation_id=org.id,
            document_id=document.id,
            position=1,
            signer_function=SignerFunction.BURGEMEESTER,
            status=SignatureStatus.SIGNED,
            signer_id=mayor.id,
            capacity="burgemeester",
            signed_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC),
            validation={"valid": True, "document_sha256": document.current_sha256},
        )
    )
    _login(session, portal)
    token = document.public_token
    session.commit()

    page = portal.get(f"/d/{token}")
    assert page.status_code == 200
    text = page.text
    assert "Een brief van Gemeente Zegelbeek." in text
    assert "€ 125,50" in text or "€\xa0125,50" in text
    assert "31 december 2026" in text
    assert "+++123/4567/89002+++" in text
    assert "Ondertekend door Els Vermeulen als burgemeester op 18 november 2026" in text
    assert "handtekening geldig" in text
    assert 'href="tel:091234567"' in text
    assert ANN not in text


def test_a_signature_checked_on_another_version_is_not_called_valid(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org, ANN, "Besluit")
    signer = factories.staff_member(session, org, [], name="Koen Wouters")
    session.add(
        SignatureRequest(
            organisation_id=org.id,
            document_id=document.id,
            position=1,
            signer_function=SignerFunction.ALGEMEEN_DIRECTEUR,
            status=SignatureStatus.SIGNED,
            signer_id=signer.id,
            capacity="algemeen directeur",
            signed_at=utcnow(),
            validation={"valid": True, "document_sha256": "f" * 64},
        )
    )
    _login(session, portal)
    token = document.public_token
    session.commit()
    text = portal.get(f"/d/{token}").text
    assert "handtekening nog niet gecontroleerd" in text
    assert "handtekening geldig" not in text


def test_the_pdf_opens_inline_or_downloads_with_the_stored_bytes(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org, ANN, "Besluit", file_name='besluit "2026".pdf')
    document.current_sha256 = get_storage().put(PDF)
    _login(session, portal)
    token = document.public_token
    session.commit()

    inline = portal.get(f"/d/{token}/pdf")
    assert inline.status_code == 200
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.headers["content-disposition"] == 'inline; filename="besluit 2026.pdf"'
    assert inline.headers["cache-control"] == "no-store"
    assert inline.content == PDF
    download = portal.get(f"/d/{token}/pdf?download=true")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content == PDF


@pytest.mark.parametrize("path", ["/d/{token}", "/d/{token}/pdf"])
def test_another_citizens_document_looks_like_one_that_does_not_exist(
    session: Session, portal: TestClient[ZegelApp], path: str
) -> None:
    org = factories.organisation(session)
    bobs = _sent(session, org, BOB, "Brief voor Bob")
    bobs.current_sha256 = get_storage().put(PDF)
    _login(session, portal)
    token = bobs.public_token
    session.commit()
    theirs = portal.get(path.format(token=token))
    unknown = portal.get(path.format(token="onbestaand-" + uuid.uuid4().hex))
    assert theirs.status_code == unknown.status_code == 404
    assert "Brief voor Bob" not in theirs.text
    assert theirs.text.replace(token, "").count("bestaat niet") == unknown.text.count(
        "bestaat niet"
    )


# -- the access code on a paper letter ------------------------------------------------------


def test_codes_are_random_readable_and_forgiving() -> None:
    codes = {access_codes.generate() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 12
        assert access_codes.normalise(access_codes.display(code).lower()) == code
    assert access_codes.normalise("7kq2 m9xd 4tna") == "7KQ2M9XD4TNA"
    assert access_codes.normalise("OIL0-0000-0000") == "011000000000"
    assert access_codes.normalise("7KQ2-M9XD-4TN") is None
    assert access_codes.normalise("7KQ2-M9XD-4TNU") is None  # U is not in the alphabet


def _csrf(portal: TestClient[ZegelApp]) -> str:
    import re

    match = re.search(r'name="_csrf_token" value="([^"]+)"', portal.get("/code").text)
    assert match
    return match.group(1)


def test_the_code_opens_a_summary_with_how_to_pay_but_not_the_decision(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    document = _sent(session, org, ANN, "Belasting op tweede verblijven")
    document.access_code = "7KQ2M9XD4TNA"
    _payment(session, document, PaymentRequestStatus.OPEN)
    token = document.public_token
    session.commit()

    response = portal.post("/code", data={"_csrf_token": _csrf(portal), "code": "7kq2-m9xd-4tna"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "Belasting op tweede verblijven" in response.text
    assert "+++123/4567/89002+++" in response.text
    assert f'href="/d/{token}"' in response.text  # the full decision needs login
    assert "/pdf" not in response.text


def test_guessing_codes_locks_the_client_out_even_for_the_right_code(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org, ANN, "Besluit")
    document.access_code = "7KQ2M9XD4TNA"
    draft = factories.document(
        session, org, factories.citizen(session, org, ssin=BOB), "Nog in ontwerp"
    )
    draft.access_code = "AAAABBBBCCCC"
    session.commit()
    token = _csrf(portal)

    for typed in ("AAAA-BBBB-CCCC", "niet-goed", "ZZZZ-ZZZZ-ZZZZ", "1234-5678-9ABC"):
        wrong = portal.post("/code", data={"_csrf_token": token, "code": typed})
        assert wrong.status_code == 404
        assert "Deze code kennen we niet." in wrong.text
        assert "Nog in ontwerp" not in wrong.text  # a document not sent is as unknown
    locked = portal.post("/code", data={"_csrf_token": token, "code": "0000-0000-0000"})
    assert locked.status_code == 429
    assert "te vaak een verkeerde code" in locked.text
    right = portal.post("/code", data={"_csrf_token": token, "code": "7KQ2-M9XD-4TNA"})
    assert right.status_code == 429
    assert "Besluit" not in right.text.split("<main", 1)[1]
    attempt = session.scalars(select(AccessCodeAttempt)).one()
    assert attempt.failures == 5
    assert "testclient" not in attempt.client_digest  # only a keyed digest of the address


def test_the_lock_ends_and_the_window_restarts(session: Session) -> None:
    org = factories.organisation(session)
    document = _sent(session, org, ANN, "Besluit")
    document.access_code = "7KQ2M9XD4TNA"
    session.commit()
    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    code = "7KQ2M9XD4TNA"

    def wrong(minute: int) -> None:
        access_codes.open_with_code("10.0.0.1", "fout", now=start + timedelta(minutes=minute))

    # Wrong tries spread over more than the window do not add up.
    for minute in (0, 5, 10, 14, 16):  # at 16 the window restarted: one failure again
        with pytest.raises(NotFound):
            wrong(minute)
    for minute in (17, 18, 19):
        with pytest.raises(NotFound):
            wrong(minute)
    with pytest.raises(TooManyAttempts):
        wrong(20)
    with pytest.raises(TooManyAttempts):
        access_codes.open_with_code("10.0.0.1", code, now=start + timedelta(minutes=30))
    # Another client is not affected; the locked one gets in after the lock.
    assert access_codes.open_with_code("10.0.0.2", code, now=start).document.title == "Besluit"
    later = start + timedelta(minutes=20) + access_codes.LOCKOUT + timedelta(seconds=1)
    assert access_codes.open_with_code("10.0.0.1", code, now=later).document.title == "Besluit"


def test_the_accessibility_statement_is_linked_from_every_page(
    portal: TestClient[ZegelApp],
) -> None:
    statement = portal.get("/toegankelijkheid")
    assert statement.status_code == 200
    assert "WCAG" in statement.text
    assert "Vlaamse Ombudsdienst" in statement.text
    for path in ("/", "/code", "/toegankelijkheid"):
        assert 'href="/toegankelijkheid"' in portal.get(path).text


# -- "not yours", withdrawn, past retention: one answer ---------------------------------------


def _same_page(response_text: str, request_id: str, token: str) -> str:
    """The page without what differs by construction: the request id and the token asked."""
    return response_text.replace(request_id, "REQUEST-ID").replace(token, "TOKEN")


def _unknown_page(portal: TestClient[ZegelApp]) -> tuple[int, str]:
    token = "onbestaand-" + uuid.uuid4().hex
    response = portal.get(f"/d/{token}")
    return response.status_code, _same_page(response.text, response.headers["x-request-id"], token)


def _answer(portal: TestClient[ZegelApp], token: str) -> tuple[int, str]:
    response = portal.get(f"/d/{token}")
    return response.status_code, _same_page(response.text, response.headers["x-request-id"], token)


def test_not_yours_and_does_not_exist_are_the_same_page(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    bobs = _sent(session, org, BOB, "Brief voor Bob")
    _login(session, portal)
    token = bobs.public_token
    session.commit()

    status, page = _answer(portal, token)
    assert (status, page) == _unknown_page(portal)
    assert status == 404
    assert "bestaat niet of is niet aan u gericht" in page

    portal.cookies.set("zegel_taal", "en")  # the same in English, still one page for both
    status, page = _answer(portal, token)
    assert (status, page) == _unknown_page(portal)
    assert status == 404
    assert "This document does not exist or is not addressed to you." in page


def _staff(session: Session, org: Organisation, *roles: StaffRole) -> StaffContext:
    clerk = factories.staff_member(session, org, list(roles or (StaffRole.SECRETARIAAT,)))
    return StaffContext(
        user_id=clerk.id,
        name=clerk.name,
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset(roles or (StaffRole.SECRETARIAAT,)),
        organisations=((org.id, org.name),),
    )


def test_a_document_withdrawn_after_sending_no_longer_opens(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org, ANN, "Aanslag aan de verkeerde persoon")
    document.access_code = "7KQ2M9XD4TNA"
    _login(session, portal)
    token = document.public_token
    session.commit()
    assert portal.get(f"/d/{token}").status_code == 200

    documents.withdraw(
        session, _staff(session, org), document.id, "  Verstuurd aan de verkeerde burger "
    )
    session.commit()

    assert _answer(portal, token) == _unknown_page(portal)
    assert portal.get(f"/d/{token}/pdf").status_code == 404
    assert "Aanslag aan de verkeerde persoon" not in portal.get("/mijn-documenten").text
    code = portal.post("/code", data={"_csrf_token": _csrf(portal), "code": "7KQ2-M9XD-4TNA"})
    assert code.status_code == 404
    assert "Deze code kennen we niet." in code.text
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document.withdrawn")
    ).one()
    assert event.object_id == str(document.id)
    assert event.data == {"reason": "Verstuurd aan de verkeerde burger"}


def test_withdrawing_refuses_bad_input_and_changes_nothing(session: Session) -> None:
    org = factories.organisation(session)
    sent = _sent(session, org, ANN, "Besluit")
    draft = factories.document(session, org, factories.citizen(session, org, ssin=BOB), "Ontwerp")
    clerk = _staff(session, org)
    session.flush()

    with pytest.raises(InvalidInput, match="Geef een reden op"):
        documents.withdraw(session, clerk, sent.id, "   ")
    with pytest.raises(IllegalTransition, match="nog niet verstuurd"):
        documents.withdraw(session, clerk, draft.id, "fout")
    with pytest.raises(Forbidden):
        documents.withdraw(session, _staff(session, org, StaffRole.ONTHAAL), sent.id, "fout")
    with pytest.raises(NotFound):
        documents.withdraw(session, _staff(session, factories.organisation(session)), sent.id, "x")
    assert sent.withdrawn_at is None
    assert draft.withdrawn_at is None
    documents.withdraw(session, clerk, sent.id, "fout")
    with pytest.raises(IllegalTransition, match="al ingetrokken"):
        documents.withdraw(session, clerk, sent.id, "nog eens")


@pytest.fixture
def one_year_retention(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ZEGEL_PORTAL_RETENTION_YEARS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_links_and_codes_expire_with_the_retention(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    old = _sent(session, org, ANN, "Aanslag van lang geleden")
    old.sent_at = utcnow() - timedelta(days=5 * 366 + 1)  # the default: five years
    old.access_code = "7KQ2M9XD4TNA"
    recent = _sent(session, org, ANN, "Aanslag van dit jaar")
    recent.sent_at = utcnow() - timedelta(days=30)
    _login(session, portal)
    old_token, recent_token = old.public_token, recent.public_token
    session.commit()

    assert _answer(portal, old_token) == _unknown_page(portal)
    assert portal.get(f"/d/{recent_token}").status_code == 200
    listed = portal.get("/mijn-documenten").text
    assert "Aanslag van dit jaar" in listed
    assert "Aanslag van lang geleden" not in listed
    code = portal.post("/code", data={"_csrf_token": _csrf(portal), "code": "7KQ2-M9XD-4TNA"})
    assert code.status_code == 404
    assert "Deze code kennen we niet." in code.text


def test_the_retention_is_a_setting(
    session: Session, portal: TestClient[ZegelApp], one_year_retention: None
) -> None:
    org = factories.organisation(session)
    older = _sent(session, org, ANN, "Van vorig jaar")
    older.sent_at = utcnow() - timedelta(days=367)
    newer = _sent(session, org, ANN, "Van deze zomer")
    newer.sent_at = utcnow() - timedelta(days=300)
    _login(session, portal)
    older_token, newer_token = older.public_token, newer.public_token
    session.commit()

    assert portal.get(f"/d/{older_token}").status_code == 404
    assert portal.get(f"/d/{newer_token}").status_code == 200


# -- guessing the links' tokens -------------------------------------------------------------


def test_guessing_tokens_locks_the_client_out_but_not_the_others(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    mine = _sent(session, org, ANN, "Besluit")
    mine.access_code = "7KQ2M9XD4TNA"
    _login(session, portal)
    token = mine.public_token
    session.commit()

    unknown = _unknown_page(portal)  # the first wrong try
    for _ in range(access_codes.MAX_FAILURES - 2):
        assert _unknown_page(portal) == unknown
    locked = portal.get("/d/nog-een-gok")
    assert locked.status_code == 429
    assert "te vaak een link" in locked.text
    right = portal.get(f"/d/{token}")  # locked out: even the right link waits
    assert right.status_code == 429
    assert "Besluit" not in right.text.split("<main", 1)[1]
    assert portal.get(f"/d/{token}/pdf").status_code == 429

    # Another client opens its document; the paper codes keep their own count.
    session.expire_all()
    view = portal_service.citizen_document(session, ssin_digest(ANN), token, client="10.0.0.2")
    assert view.document.title == "Besluit"
    session.rollback()
    assert access_codes.open_with_code("testclient", "7KQ2-M9XD-4TNA").document.title == "Besluit"
    attempt = session.scalars(
        select(AccessCodeAttempt).where(
            AccessCodeAttempt.client_digest
            == access_codes.client_digest("testclient", access_codes.TOKEN_SCOPE)
        )
    ).one()
    assert attempt.failures == access_codes.MAX_FAILURES


def test_the_token_lock_ends(session: Session, portal: TestClient[ZegelApp]) -> None:
    org = factories.organisation(session)
    mine = _sent(session, org, ANN, "Besluit")
    _login(session, portal)
    token = mine.public_token
    session.commit()
    long_ago = utcnow() - access_codes.LOCKOUT - timedelta(minutes=5)
    for _ in range(access_codes.MAX_FAILURES - 1):
        with pytest.raises(NotFound):
            access_codes.token_failed("testclient", now=long_ago)
    with pytest.raises(TooManyAttempts):
        access_codes.token_failed("testclient", now=long_ago)

    assert portal.get(f"/d/{token}").status_code == 200
