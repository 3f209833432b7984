"""The signing folder through HTTP: choose, confirm once, sign in the background with progress,
never twice; decline with a reason. With the real database, storage, keys and sandbox TSA."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Document,
    DocumentStatus,
    Job,
    SignatureRequest,
    SignatureStatus,
    SignerFunction,
    SigningBatch,
    StaffUser,
)
from shared.services import audit
from shared.services.screening import screen_document
from shared.web import ZegelApp
from tests import factories
from tests.integration.signing.conftest import draft, pdfsig, signer

DIRECTOR, MAYOR = SignerFunction.ALGEMEEN_DIRECTEUR, SignerFunction.BURGEMEESTER
SECRETARIAT = audit.Actor.system("secretariaat (test)")

pytestmark = pytest.mark.usefixtures("signing_settings")


@pytest.fixture
def client() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


class Folder:
    """Two screened college decisions awaiting the director, who is logged in."""

    def __init__(self, session: Session, client: TestClient[ZegelApp]) -> None:
        self.client = client
        org = factories.organisation(session)
        recipient = factories.citizen(session, org)
        self.director = signer(session, org, "directeur", DIRECTOR)
        self.mayor = signer(session, org, "burgemeester", MAYOR)
        self.documents = []
        for title in ("Omgevingsvergunning Kerkstraat 1", "Omgevingsvergunning Kerkstraat 3"):
            document = draft(session, org, recipient, title=title)
            screen_document(session, document, actor=SECRETARIAT)
            self.documents.append(document.id)
        self.requests = [
            r.id
            for r in session.scalars(
                select(SignatureRequest)
                .where(SignatureRequest.signer_function == DIRECTOR)
                .order_by(SignatureRequest.created_at)
            )
        ]
        self.org_id = org.id
        self.director_id = self.director.id
        self.mayor_id = self.mayor.id
        self.director_cookie = factories.web_session(
            session, "backoffice", staff=self.director, organisation=org
        )
        self.mayor_cookie = factories.web_session(
            session, "backoffice", staff=self.mayor, organisation=org
        )
        session.commit()
        self.login(self.director_cookie)

    def login(self, cookie: str) -> None:
        self.client.cookies.set("zegel_backoffice_session", cookie)

    def csrf(self, path: str = "/handtekenmap") -> str:
        match = re.search(r'name="_csrf_token" value="([^"]+)"', self.client.get(path).text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def confirm(self, data: dict[str, object]) -> str:
        response = self.client.post(
            "/handtekenmap/bevestigen", data={"_csrf_token": self.csrf(), **data}
        )
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def folder(session: Session, client: TestClient[ZegelApp]) -> Folder:
    return Folder(session, client)


def _batch_id(confirmation: str) -> str:
    match = re.search(r'name="reeks" value="([^"]+)"', confirmation)
    assert match, "the confirmation carries no batch id"
    return match.group(1)


def _signatures_by(session: Session, user_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(SignatureRequest)
            .where(
                SignatureRequest.signer_id == user_id,
                SignatureRequest.status == SignatureStatus.SIGNED,
            )
        )
        or 0
    )


def _run_jobs() -> int:
    return Worker("test").run_pending()


def test_the_folder_lists_what_awaits_the_signer_with_a_choice_and_a_decline_link(
    folder: Folder,
) -> None:
    page = folder.client.get("/handtekenmap")
    assert page.status_code == 200
    assert "2 stukken wachten op uw handtekening" in page.text
    for request_id in folder.requests:
        assert f'name="verzoek" value="{request_id}"' in page.text
        assert f'href="/handtekenmap/{request_id}/weigeren"' in page.text
    assert "Omgevingsvergunning Kerkstraat 1" in page.text
    # A preview of each document's first page, which the signer may open.
    for document_id in folder.documents:
        assert f'src="/stukken/{document_id}/pagina/1"' in page.text
        preview = folder.client.get(f"/stukken/{document_id}/pagina/1")
        assert preview.status_code == 200
        assert preview.headers["content-type"] == "image/png"
        assert preview.content.startswith(b"\x89PNG")
    # The mayor signs second: nothing in his folder yet.
    folder.login(folder.mayor_cookie)
    assert "Er wacht niets op uw handtekening." in folder.client.get("/handtekenmap").text


def test_a_batch_is_confirmed_once_signed_in_the_background_and_never_twice(
    session: Session, folder: Folder, tmp_path: object, nss_db: str
) -> None:
    confirmation = folder.confirm({"verzoek": [str(r) for r in folder.requests]})
    assert "U ondertekent 2 stukken als algemeen directeur." in confirmation
    batch_id = _batch_id(confirmation)
    form = {"reeks": batch_id, "verzoek": [str(r) for r in folder.requests]}

    started = folder.client.post(
        "/handtekenmap/ondertekenen",
        data={"_csrf_token": folder.csrf(), **form},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert started.headers["location"] == f"/handtekenmap/reeks/{batch_id}"
    waiting = folder.client.get(started.headers["location"])
    assert "0 van 2 stukken ondertekend" in waiting.text
    assert 'hx-trigger="every 1s"' in waiting.text  # it refreshes itself while running

    # A double click: the same confirmation again starts nothing new.
    again = folder.client.post(
        "/handtekenmap/ondertekenen",
        data={"_csrf_token": folder.csrf(), **form},
        follow_redirects=False,
    )
    assert again.headers["location"] == started.headers["location"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SigningBatch)) == 1
    assert (
        session.scalar(select(func.count()).select_from(Job).where(Job.kind == "signing.batch"))
        == 1
    )
    session.rollback()

    assert _run_jobs() >= 1
    done = folder.client.get(f"/handtekenmap/reeks/{batch_id}", headers={"HX-Request": "true"})
    assert "<html" not in done.text  # the htmx partial
    assert "2 stukken zijn ondertekend." in done.text
    assert "hx-trigger" not in done.text  # finished: it stops polling
    assert _signatures_by(session, folder.director_id) == 2
    session.rollback()

    # Posting the old confirmation after it finished still signs nothing twice.
    folder.client.post("/handtekenmap/ondertekenen", data={"_csrf_token": folder.csrf(), **form})
    _run_jobs()
    assert _signatures_by(session, folder.director_id) == 2
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "signature_request.signed")
        )
        == 2
    )
    session.rollback()

    # Now it is the mayor's turn; after him both documents are signed, with two signatures.
    folder.login(folder.mayor_cookie)
    mayor_page = folder.client.get("/handtekenmap")
    assert "2 stukken wachten op uw handtekening" in mayor_page.text
    confirmation = folder.confirm({"alles": "1"})
    assert "U ondertekent 2 stukken als burgemeester." in confirmation
    folder.client.post(
        "/handtekenmap/ondertekenen",
        data={
            "_csrf_token": folder.csrf(),
            "reeks": _batch_id(confirmation),
            "verzoek": re.findall(r'name="verzoek" value="([^"]+)"', confirmation),
        },
    )
    _run_jobs()
    for document_id in folder.documents:
        document = session.get(Document, document_id)
        assert document is not None
        assert document.status is DocumentStatus.READY
        from shared.storage import get_storage

        found = pdfsig(get_storage().get(document.current_sha256), nss_db, tmp_path)  # type: ignore[arg-type]
        assert [s.valid and s.trusted for s in found] == [True, True]

    # The document page tells the story and shows the stored verdict on each signature.
    session.rollback()
    folder.login(folder.director_cookie)
    page = folder.client.get(f"/stukken/{folder.documents[0]}").text
    assert "Ondertekend als algemeen directeur" in page
    assert "Ondertekend als burgemeester" in page
    assert "Handtekeningen gecontroleerd: 2 van 2 geldig" in page
    assert page.count("Certificaat vertrouwd") == 2


def test_nothing_chosen_is_a_clear_message(folder: Folder, session: Session) -> None:
    response = folder.client.post("/handtekenmap/bevestigen", data={"_csrf_token": folder.csrf()})
    assert response.status_code == 400
    assert "Kies minstens één stuk om te ondertekenen." in response.text
    assert session.scalar(select(func.count()).select_from(SigningBatch)) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reeks", "geen-uuid", "Deze bevestiging is ongeldig"),
        ("verzoek", "geen-uuid", "Een gekozen stuk is onbekend."),
        ("verzoek", str(uuid.uuid4()), "Een of meer gekozen stukken bestaan niet (meer)."),
    ],
)
def test_a_forged_confirmation_changes_nothing(
    folder: Folder, session: Session, field: str, value: str, message: str
) -> None:
    data = {"reeks": str(uuid.uuid4()), "verzoek": str(folder.requests[0]), field: value}
    response = folder.client.post(
        "/handtekenmap/ondertekenen", data={"_csrf_token": folder.csrf(), **data}
    )
    assert response.status_code in (404, 422)
    assert message in response.text
    assert session.scalar(select(func.count()).select_from(SigningBatch)) == 0
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_another_signers_batch_is_not_found(folder: Folder, session: Session) -> None:
    confirmation = folder.confirm({"verzoek": str(folder.requests[0])})
    batch_id = _batch_id(confirmation)
    folder.client.post(
        "/handtekenmap/ondertekenen",
        data={"_csrf_token": folder.csrf(), "reeks": batch_id, "verzoek": str(folder.requests[0])},
    )
    folder.login(folder.mayor_cookie)
    assert folder.client.get(f"/handtekenmap/reeks/{batch_id}").status_code == 404
    # Nor can he reuse its id to sign in its name.
    response = folder.client.post(
        "/handtekenmap/ondertekenen",
        data={"_csrf_token": folder.csrf(), "reeks": batch_id, "verzoek": str(folder.requests[0])},
    )
    assert response.status_code == 404


def test_a_signer_without_a_key_is_told_so_and_nothing_is_signed(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    keyless: StaffUser = signer(session, org, "zonder-sleutel", DIRECTOR)
    document = draft(session, org, factories.citizen(session, org))
    screen_document(session, document, actor=SECRETARIAT)
    request_id = session.scalars(
        select(SignatureRequest.id).where(SignatureRequest.signer_function == DIRECTOR)
    ).one()
    keyless_id = keyless.id
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=keyless, organisation=org),
    )
    session.commit()
    page = client.get("/handtekenmap").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert token
    batch_id = str(uuid.uuid4())
    client.post(
        "/handtekenmap/ondertekenen",
        data={"_csrf_token": token.group(1), "reeks": batch_id, "verzoek": str(request_id)},
    )
    _run_jobs()
    result = client.get(f"/handtekenmap/reeks/{batch_id}").text
    assert "1 stuk is niet ondertekend" in result
    assert _signatures_by(session, keyless_id) == 0
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "signing.key_not_opened")
        )
        == 1
    )


def test_declining_needs_a_reason_and_returns_the_document(
    folder: Folder, session: Session
) -> None:
    request_id = folder.requests[0]
    form = folder.client.get(f"/handtekenmap/{request_id}/weigeren")
    assert form.status_code == 200
    assert "Waarom ondertekent u niet?" in form.text

    empty = folder.client.post(
        f"/handtekenmap/{request_id}/weigeren",
        data={"_csrf_token": folder.csrf(), "reden": "   "},
    )
    assert empty.status_code == 400
    assert "Geef een reden op waarom u niet ondertekent." in empty.text
    assert session.get(Document, folder.documents[0]).status is DocumentStatus.AWAITING_SIGNATURE  # type: ignore[union-attr]
    session.rollback()

    declined = folder.client.post(
        f"/handtekenmap/{request_id}/weigeren",
        data={"_csrf_token": folder.csrf(), "reden": "Het bedrag klopt niet met het besluit."},
    )
    assert declined.status_code == 200
    assert "is teruggestuurd naar het secretariaat" in declined.text
    assert "1 stuk wacht op uw handtekening" in declined.text
    document = session.get(Document, folder.documents[0])
    assert document is not None
    assert document.status is DocumentStatus.DRAFT
    request = session.get(SignatureRequest, request_id)
    assert request is not None
    assert request.decline_reason == "Het bedrag klopt niet met het besluit."


def test_a_request_of_another_function_cannot_be_declined(folder: Folder, session: Session) -> None:
    folder.login(folder.mayor_cookie)
    assert folder.client.get(f"/handtekenmap/{folder.requests[0]}/weigeren").status_code == 404
