"""Intrekken through HTTP: the secretariat withdraws a sent document from its page, with a
reason; bad input and the wrong role change nothing; the citizen's link stops opening."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from httpx import Response
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.errors import NotFound
from shared.models import AuditEvent, Document, Organisation, StaffRole
from shared.protection import ssin_digest
from shared.services import access
from shared.web import ZegelApp
from tests import factories

ANN = "85073003328"


@pytest.fixture
def client() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _sent(session: Session, org: Organisation) -> Document:
    recipient = factories.citizen(session, org, ssin=ANN)
    document = factories.document(session, org, recipient, title="Aanslag aan de verkeerde")
    factories.send(session, document)
    return document


def _log_in(
    session: Session, client: TestClient[ZegelApp], org: Organisation, role: StaffRole
) -> None:
    member = factories.staff_member(session, org, [role])
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=member, organisation=org),
    )


def _post(client: TestClient[ZegelApp], document_id: uuid.UUID, reason: str) -> Response:
    page = client.get(f"/stukken/{document_id}").text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match is not None
    return client.post(
        f"/stukken/{document_id}/intrekken",
        data={"reden": reason, "_csrf_token": match.group(1)},
        follow_redirects=False,
    )


def _withdrawals(session: Session) -> int:
    """Counted in a transaction of its own, ended before the app's next request (SQLite has
    one writer)."""
    session.expire_all()
    count = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "document.withdrawn")
    )
    session.rollback()
    return count or 0


def test_the_secretariat_withdraws_a_sent_document_with_a_reason(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org)
    _log_in(session, client, org, StaffRole.SECRETARIAAT)
    token = document.public_token or ""
    session.commit()

    page = client.get(f"/stukken/{document.id}")
    assert "Document intrekken" in page.text
    assert 'action="/stukken/' + str(document.id) + '/intrekken"' in page.text

    answer = _post(client, document.id, "  Verstuurd aan de verkeerde burger ")
    assert answer.status_code == 303
    page = client.get(f"/stukken/{document.id}")
    assert "Ingetrokken op" in page.text
    assert "Reden: Verstuurd aan de verkeerde burger" in page.text  # the timeline
    assert 'action="/stukken/' + str(document.id) + '/intrekken"' not in page.text
    assert _withdrawals(session) == 1
    with pytest.raises(NotFound):  # the citizen's link no longer opens
        access.document_for_citizen(session, ssin_digest(ANN), token)


def test_withdrawing_without_a_reason_or_twice_changes_nothing(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document_id = _sent(session, org).id
    _log_in(session, client, org, StaffRole.SECRETARIAAT)
    session.commit()

    refused = _post(client, document_id, "   ")
    assert refused.status_code == 422
    assert "Geef een reden op waarom u het document intrekt." in refused.text
    assert _withdrawals(session) == 0
    assert session.scalar(select(Document.withdrawn_at).where(Document.id == document_id)) is None
    session.rollback()

    assert _post(client, document_id, "fout").status_code == 303
    page = client.get(f"/stukken/{document_id}").text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match is not None
    again = client.post(  # a second tab, or the back button and a double click
        f"/stukken/{document_id}/intrekken",
        data={"reden": "nog eens", "_csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert again.status_code == 409
    assert "Dit document is al ingetrokken." in again.text
    assert _withdrawals(session) == 1


def test_a_case_handler_cannot_withdraw_and_a_draft_offers_no_withdrawal(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    document = _sent(session, org)
    draft_id = factories.document(
        session, org, factories.citizen(session, org, ssin="90020199711"), title="Ontwerp"
    ).id
    _log_in(session, client, org, StaffRole.DOSSIERBEHANDELAAR)
    session.commit()

    page = client.get(f"/stukken/{document.id}").text
    assert "Aanslag aan de verkeerde" in page
    assert "Document intrekken" not in page
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match is not None
    answer = client.post(
        f"/stukken/{document.id}/intrekken",
        data={"reden": "fout", "_csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert _withdrawals(session) == 0

    _log_in(session, client, org, StaffRole.SECRETARIAAT)
    session.commit()
    draft_page = client.get(f"/stukken/{draft_id}")
    assert draft_page.status_code == 200
    assert "Ontwerp" in draft_page.text
    assert "Document intrekken" not in draft_page.text
