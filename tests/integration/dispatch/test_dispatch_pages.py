"""Verzenden through HTTP: the button on the document page, the selection on the list of ready
documents, the live progress of a run, and a double post that sends nothing twice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.integrations.magda import testdata
from shared.jobs import Worker
from shared.models import (
    Dispatch,
    Document,
    DocumentStatus,
    EboxStatus,
    Organisation,
    Recipient,
    RecipientKind,
    StaffRole,
)
from shared.protection import seal, ssin_digest
from shared.web import ZegelApp
from tests import factories
from tests.integration.dispatch.conftest import Magda, ready_document

AN = testdata.person_by_key("an-janssens")
PIETER = testdata.person_by_key("pieter-de-smet")


@pytest.fixture
def client() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _citizen(
    session: Session, org: Organisation, person: testdata.SandboxPerson, ebox: EboxStatus
) -> Recipient:
    assert person.address is not None
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(person.ssin),
        ssin_sealed=seal(person.ssin),
        name=person.name,
        street=person.address.street_line,
        postal_code=person.address.postal_code,
        city=person.address.municipality,
        ebox_status=ebox,
    )
    session.add(recipient)
    session.flush()
    return recipient


class Desk:
    def __init__(self, session: Session, client: TestClient[ZegelApp]) -> None:
        self.org = factories.organisation(session)
        handler = factories.staff_member(session, self.org, [StaffRole.DOSSIERBEHANDELAAR])
        self.to_ebox = ready_document(
            session, self.org, _citizen(session, self.org, AN, EboxStatus.ACTIVATED)
        ).id
        self.to_paper = ready_document(
            session, self.org, _citizen(session, self.org, PIETER, EboxStatus.NOT_ACTIVATED)
        ).id
        client.cookies.set(
            "zegel_backoffice_session",
            factories.web_session(session, "backoffice", staff=handler, organisation=self.org),
        )
        session.commit()
        self.client = client

    def form(self, path: str) -> dict[str, str]:
        page = self.client.get(path).text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
        run = re.search(r'name="run" value="([^"]+)"', page)
        assert token, f"no CSRF token on {path}"
        assert run, f"no send form on {path}"
        return {"_csrf_token": token.group(1), "run": run.group(1)}


@pytest.fixture
def desk(session: Session, client: TestClient[ZegelApp], magda: Magda) -> Desk:
    return Desk(session, client)


def _dispatches(session: Session) -> int:
    count = session.scalar(select(func.count()).select_from(Dispatch)) or 0
    session.rollback()
    return count


def test_the_button_sends_once_and_the_run_shows_its_progress(
    session: Session, desk: Desk, magda: Magda
) -> None:
    form = desk.form(f"/stukken/{desk.to_ebox}")
    data = {**form, "document": str(desk.to_ebox)}
    first = desk.client.post("/verzenden", data=data)
    assert first.status_code == 200
    assert "1 van 1" not in first.text  # nothing went out yet: it waits for the worker
    assert 'hx-trigger="every 1s"' in first.text
    again = desk.client.post("/verzenden", data=data, follow_redirects=False)  # a double click
    assert again.status_code == 303
    assert again.headers["location"] == f"/verzending/{form['run']}"
    assert _dispatches(session) == 1

    Worker("test").run_pending()
    done = desk.client.get(f"/verzending/{form['run']}", headers={"HX-Request": "true"})
    assert "<html" not in done.text
    assert "Alles is vertrokken" in done.text
    assert "hx-trigger" not in done.text
    assert len(magda.sandbox.messages) == 1
    page = desk.client.get(f"/stukken/{desk.to_ebox}").text
    assert "Verzending en bezorging" in page
    assert re.search(r"\d{4}/\d{6}", page), "the register number is on the document page"
    assert 'action="/verzenden"' not in page  # sent: no button any more


def test_a_selection_of_ready_documents_goes_in_one_run(
    session: Session, desk: Desk, magda: Magda
) -> None:
    form = desk.form("/stukken?status=ready")
    response = desk.client.post(
        "/verzenden", data={**form, "document": [str(desk.to_ebox), str(desk.to_paper)]}
    )
    assert response.status_code == 200
    assert "0 van 2 documenten verwerkt" in response.text
    Worker("test").run_pending()
    done = desk.client.get(f"/verzending/{form['run']}").text
    assert "2 van 2 documenten verwerkt" in done
    session.expire_all()
    channels = {d.channel.value for d in session.scalars(select(Dispatch))}
    assert channels == {"ebox", "paper"}
    assert {d.status for d in session.scalars(select(Document))} == {DocumentStatus.DISPATCHED}


def test_what_cannot_go_is_listed_with_its_reason_and_nothing_is_queued(
    session: Session, desk: Desk
) -> None:
    draft = factories.document(
        session,
        desk.org,
        factories.citizen(session, desk.org, ssin="01010100126"),
        "Nog niet ondertekend",
    )
    draft_id = draft.id
    session.commit()
    form = desk.form("/stukken?status=ready")
    response = desk.client.post("/verzenden", data={**form, "document": str(draft_id)})
    assert response.status_code == 422
    assert "Nog niet ondertekend" in response.text
    assert _dispatches(session) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"run": "geen-uuid"}, "Dit formulier is ongeldig"),
        ({"kanaal": "duif"}, "Onbekend kanaal."),
        ({"kanaal": "paper", "reden": ""}, "Geef een reden op om het kanaal te wijzigen."),
    ],
)
def test_a_bad_form_changes_nothing(
    session: Session, desk: Desk, data: dict[str, str], message: str
) -> None:
    form = desk.form(f"/stukken/{desk.to_ebox}")
    response = desk.client.post("/verzenden", data={**form, "document": str(desk.to_ebox), **data})
    assert response.status_code == 422
    assert message in response.text
    assert _dispatches(session) == 0


def test_another_organisations_run_is_not_found(
    session: Session, desk: Desk, client: TestClient[ZegelApp]
) -> None:
    form = desk.form(f"/stukken/{desk.to_ebox}")
    desk.client.post("/verzenden", data={**form, "document": str(desk.to_ebox)})
    other = factories.organisation(session, "Ander bestuur")
    stranger = factories.staff_member(session, other, [StaffRole.DOSSIERBEHANDELAAR])
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=stranger, organisation=other),
    )
    session.commit()
    assert client.get(f"/verzending/{form['run']}").status_code == 404


def test_a_returned_letter_asks_to_check_the_address_and_can_go_again(
    session: Session, client: TestClient[ZegelApp], magda: Magda
) -> None:
    from shared.models import RegisterConsultation
    from shared.services import dispatch as dispatching

    org = factories.organisation(session)
    handler = factories.staff_member(session, org, [StaffRole.DOSSIERBEHANDELAAR])
    recipient = _citizen(session, org, testdata.UNDELIVERABLE, EboxStatus.NOT_ACTIVATED)
    document_id = ready_document(session, org, recipient, title="Brief die terugkomt").id
    dispatching.send_one(session, org.id, document_id, actor=factories.SYSTEM)
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=handler, organisation=org),
    )
    session.commit()
    Worker("test").run_pending()
    dispatching.poll_statuses()

    dashboard = client.get("/").text
    assert "Adres controleren" in dashboard
    assert "1 brief kwam terug naar de afzender." in dashboard
    page = client.get(f"/stukken/{document_id}").text
    assert "Deze brief kwam terug naar de afzender." in page
    assert 'action="/verzenden"' in page  # it can go again
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert token
    before = session.scalar(select(func.count()).select_from(RegisterConsultation)) or 0
    session.rollback()
    checked = client.post(f"/stukken/{document_id}/adres", data={"_csrf_token": token.group(1)})
    assert checked.status_code == 200
    assert "Het rijksregister" in checked.text
    after = session.scalar(select(func.count()).select_from(RegisterConsultation)) or 0
    assert after > before  # the look-up was logged with its legal basis
    assert (testdata.UNDELIVERABLE.ssin) not in checked.text


def test_the_address_of_a_letter_that_did_not_come_back_is_not_asked(
    session: Session, desk: Desk
) -> None:
    form = desk.form(f"/stukken/{desk.to_ebox}")
    response = desk.client.post(
        f"/stukken/{desk.to_ebox}/adres", data={"_csrf_token": form["_csrf_token"]}
    )
    assert response.status_code == 422
    assert "Alleen voor een brief die teruggekeerd is" in response.text
