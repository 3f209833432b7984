"""The API for minutes software over HTTP: API keys (created and revoked by a beheerder, shown
once, stored hashed), idempotency by external id, problem JSON in Dutch, isolation between
organisations, and the OpenAPI schema that describes it."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.models import ApiKey, AuditEvent, Decision, Document, Organisation, StaffRole
from shared.services import api_keys, audit, registration
from shared.services.access import StaffContext
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories, intake_pdfs

URL = "/api/v1/decisions"


@pytest.fixture
def client() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def _admin(session: Session, org: Organisation) -> StaffContext:
    user = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    return StaffContext(
        user_id=user.id,
        name=user.name,
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset({StaffRole.BEHEERDER}),
        organisations=((org.id, org.name),),
    )


def _key(session: Session, org: Organisation, name: str = "Notulensoftware") -> str:
    _row, key = api_keys.create_key(session, _admin(session, org), name)
    return key


def _metadata(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_id": "gn-2026-0001",
        "body": "college",
        "session_date": (today() - timedelta(days=1)).isoformat(),
        "decision_number": "2026_CBS_00001",
        "title": "Toelating terras op het marktplein",
        "motivation": "Het terras hindert het verkeer niet.",
        "documents": [
            {
                "file": "brief-ann",
                "recipient": {
                    "kind": "citizen",
                    "name": "Ann Peeters",
                    "national_register_number": "85073003328",
                },
            },
            {
                "file": "brief-horeca",
                "title": "Toelating voor de uitbater",
                "recipient": {
                    "kind": "enterprise",
                    "name": "Café De Zon bv",
                    "enterprise_number": "0403170701",
                },
                "amount_due_cents": 15000,
                "due_date": (today() + timedelta(days=30)).isoformat(),
                "dispute_right": "municipal_tax_objection",
            },
        ],
    }
    data.update(changes)
    return data


def _files(**overrides: bytes) -> list[Any]:
    parts = {"brief-ann": intake_pdfs.letter(), "brief-horeca": intake_pdfs.letter("Terras")}
    parts.update(overrides)
    return [(name, (f"{name}.pdf", content, "application/pdf")) for name, content in parts.items()]


def _post(
    session: Session,
    client: TestClient[ZegelApp],
    key: str | None,
    metadata: dict[str, Any] | bytes | None = None,
    files: list[Any] | None = None,
) -> Any:
    session.rollback()  # SQLite: the test's reads hold the write lock until they end
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = metadata if metadata is not None else _metadata()
    data = {"decision": body if isinstance(body, bytes) else json.dumps(body)}
    return client.post(URL, headers=headers, data=data, files=_files() if files is None else files)


def _count(session: Session, model: type[Any]) -> int:
    session.rollback()
    found = session.scalar(select(func.count()).select_from(model)) or 0
    session.rollback()
    return found


def test_a_decision_is_registered_with_an_api_key(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    response = _post(session, client, key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["external_id"] == "gn-2026-0001"
    assert [d["status"] for d in body["documents"]] == ["draft", "draft"]
    assert body["documents"][1]["title"] == "Toelating voor de uitbater"
    assert body["documents"][0]["findings"] == []
    decision = session.get(Decision, uuid.UUID(body["id"]))
    assert decision is not None
    assert decision.organisation_id == org.id
    registered = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "decision.registered")
    ).one()
    assert registered.actor_type == "api"
    assert registered.actor_label == "API: Notulensoftware"
    assert registered.data["source"] == "api"
    row = session.scalars(select(ApiKey)).one()
    assert row.last_used_at is not None


def test_a_replay_gets_the_first_answer_and_creates_nothing(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    first = _post(session, client, key)
    assert first.status_code == 201
    counts = (_count(session, Decision), _count(session, Document), _count(session, AuditEvent))
    again = _post(session, client, key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert (
        _count(session, Decision),
        _count(session, Document),
        _count(session, AuditEvent),
    ) == counts


def test_the_same_external_id_with_other_content_is_a_409(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    first = _post(session, client, key)
    other_pdf = _post(session, client, key, files=_files(**{"brief-ann": intake_pdfs.letter("X")}))
    other_title = _post(session, client, key, _metadata(title="Andere titel"))
    for response in (other_pdf, other_title):
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 409
        assert problem["code"] == "external_id_conflict"
        assert "gn-2026-0001" in problem["detail"]
        assert "andere gegevens" in problem["detail"]
        assert problem["decision_id"] == first.json()["id"]
    assert _count(session, Decision) == 1


def test_a_known_decision_number_under_another_external_id_is_a_409(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    assert _post(session, client, key).status_code == 201
    response = _post(session, client, key, _metadata(external_id="gn-anders"))
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_decision"
    assert "is al geregistreerd" in response.json()["detail"]


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Geef een API-sleutel mee"),
        ("Basic dXNlcjpwYXNz", "Geef een API-sleutel mee"),
        ("Bearer zgl_000000000000_" + "0" * 64, "Deze API-sleutel is ongeldig."),
        ("Bearer niet-eens-een-sleutel", "Deze API-sleutel is ongeldig."),
    ],
)
def test_no_or_a_wrong_key_is_a_401(
    session: Session, client: TestClient[ZegelApp], authorization: str | None, detail: str
) -> None:
    org = factories.organisation(session)
    _key(session, org)
    session.commit()
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(
        URL, headers=headers, data={"decision": json.dumps(_metadata())}, files=_files()
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="zegel"'
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]
    assert _count(session, Decision) == 0


def test_a_key_with_a_wrong_secret_is_a_401(session: Session, client: TestClient[ZegelApp]) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    forged = key[:-4] + ("0000" if not key.endswith("0000") else "1111")
    assert _post(session, client, forged).status_code == 401


def test_a_staff_session_cookie_does_not_open_the_api(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=clerk, organisation=org),
    )
    session.commit()
    assert _post(session, client, None).status_code == 401


def test_bad_input_gets_dutch_problem_json_per_field(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    metadata = _metadata()
    metadata["documents"][0]["recipient"]["national_register_number"] = "85073003329"
    metadata["documents"][1]["dispute_right"] = "custom"
    response = _post(session, client, key, metadata, files=_files(**{"brief-horeca": b"tekst"}))
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Controleer uw gegevens"
    errors = {e["field"]: e["detail"] for e in problem["errors"]}
    assert errors == {
        "documents.0.recipient.national_register_number": (
            "Dit rijksregisternummer klopt niet: het controlegetal of de geboortedatum is fout."
        ),
        "documents.1.dispute_legal_text": (
            "Geef de tekst over het rechtsmiddel die in de brief moet staan."
        ),
        "documents.1.file": "Dit bestand is geen PDF-document.",
    }
    assert "Dit rijksregisternummer klopt niet" in problem["detail"]

    missing = _post(session, client, key, files=_files()[:1])
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {
            "field": "documents.1.file",
            "detail": "Het PDF-bestand ‘brief-horeca’ ontbreekt in het verzoek.",
        }
    ]
    malformed = _post(session, client, key, b"{niet json")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["detail"] == "Dit is geen geldige JSON (UTF-8)."
    unknown = _post(session, client, key, _metadata(besluit="x"))
    assert unknown.json()["errors"] == [{"field": "besluit", "detail": "Dit veld bestaat niet."}]
    no_json = client.post(
        URL, headers={"Authorization": f"Bearer {key}"}, files=_files(), data={"x": "y"}
    )
    assert no_json.status_code == 422
    assert no_json.json()["errors"][0]["field"] == "decision"
    assert _count(session, Decision) == 0


def test_organisations_never_see_each_others_decisions(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    key_a, key_b = _key(session, a), _key(session, b)
    session.commit()
    first = _post(session, client, key_a)
    # the same external id and content under B's key is B's own decision, not A's answer
    second = _post(session, client, key_b)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert {d["id"] for d in second.json()["documents"]}.isdisjoint(
        {d["id"] for d in first.json()["documents"]}
    )
    session.rollback()
    owners = {d.organisation_id for d in session.scalars(select(Decision))}
    assert owners == {a.id, b.id}
    conflict = _post(session, client, key_b, _metadata(title="Andere titel"))
    assert conflict.json()["decision_id"] == second.json()["id"]


def test_the_beheerder_creates_a_key_shown_once_and_revokes_it(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    admin_token = factories.web_session(session, "backoffice", staff=admin, organisation=org)
    clerk_token = factories.web_session(session, "backoffice", staff=clerk, organisation=org)
    session.commit()

    client.cookies.set("zegel_backoffice_session", clerk_token)
    assert client.get("/beheer/api-sleutels").status_code == 403
    client.cookies.set("zegel_backoffice_session", admin_token)
    page = client.get("/beheer/api-sleutels")
    assert page.status_code == 200
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    empty = client.post("/beheer/api-sleutels", data={"_csrf_token": token, "naam": " "})
    assert empty.status_code == 422
    assert "Geef aan voor welke toepassing de sleutel dient." in empty.text
    created = client.post(
        "/beheer/api-sleutels", data={"_csrf_token": token, "naam": "Gelinkt Notuleren"}
    )
    assert created.status_code == 200
    assert "no-store" in created.headers["cache-control"]
    key = re.search(r"zgl_[0-9a-f]{12}_[0-9a-f]{64}", created.text).group(0)  # type: ignore[union-attr]

    session.rollback()
    row = session.scalars(select(ApiKey)).one()
    row_id, prefix = row.id, row.prefix
    assert row.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert key.split("_")[2] not in json.dumps(
        [e.data for e in session.scalars(select(AuditEvent))]
    )
    session.rollback()
    listing = client.get("/beheer/api-sleutels")
    assert key not in listing.text  # shown once only
    assert f"zgl_{prefix}_…" in listing.text

    assert _post(session, client, key).status_code == 201
    revoked = client.post(
        f"/beheer/api-sleutels/{row_id}/intrekken",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    refused = _post(session, client, key, _metadata(external_id="gn-2", decision_number="2"))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Deze API-sleutel is ingetrokken."
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "api_key")
    ).all()
    assert actions == ["api_key.created", "api_key.revoked"]


def test_a_key_of_another_organisation_cannot_be_revoked(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    row, _key_b = api_keys.create_key(session, _admin(session, b), "B")
    admin_a = factories.staff_member(session, a, [StaffRole.BEHEERDER])
    client.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=admin_a, organisation=a),
    )
    session.commit()
    token = re.search(  # type: ignore[union-attr]
        r'name="_csrf_token" value="([^"]+)"', client.get("/beheer/api-sleutels").text
    ).group(1)
    response = client.post(f"/beheer/api-sleutels/{row.id}/intrekken", data={"_csrf_token": token})
    assert response.status_code == 404
    session.rollback()
    assert session.get(ApiKey, row.id).revoked_at is None  # type: ignore[union-attr]


def test_the_openapi_schema_describes_the_endpoint(client: TestClient[ZegelApp]) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert list(schema["paths"]) == [URL]  # the API only, not the pages
    operation = schema["paths"][URL]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]
    decision = body["schema"]["properties"]["decision"]
    assert body["encoding"]["decision"]["contentType"] == "application/json"
    assert decision["required"] == [
        "body",
        "session_date",
        "decision_number",
        "title",
        "documents",
        "external_id",
    ]
    recipient = decision["properties"]["documents"]["items"]["properties"]["recipient"]
    assert set(recipient["properties"]["kind"]["enum"]) == {"citizen", "enterprise", "postal"}
    assert body["schema"]["additionalProperties"]["format"] == "binary"
    assert {"200", "201", "401", "409", "422"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert "DecisionOut" in schema["components"]["schemas"]


def test_revoked_keys_are_refused_by_the_service_too(session: Session) -> None:
    org = factories.organisation(session)
    admin = _admin(session, org)
    row, key = api_keys.create_key(session, admin, "X")
    assert api_keys.authenticate(session, f"Bearer {key}").organisation_id == org.id
    api_keys.revoke_key(session, admin, row.id)
    with pytest.raises(Exception, match="ingetrokken"):
        api_keys.authenticate(session, f"Bearer {key}")
    assert audit.Actor  # the key acts as an 'api' actor (see the first test)


def test_a_call_repeated_while_the_first_commits_gets_the_first_answer(
    session: Session, client: TestClient[ZegelApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first call commits between the repeat's two look-ups (by external id, then by
    body, date and number): the repeat still gets the first registration, not a 409."""
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    first = client.post(
        URL, headers=headers, data={"decision": json.dumps(_metadata())}, files=_files()
    )
    assert first.status_code == 201
    look_ups = iter([None])  # the repeat's first look-up misses: the first had not committed
    real = registration._existing_by_external_id

    def racing(session: Session, organisation_id: uuid.UUID, external_id: str) -> Any:
        return next(look_ups, None) or real(session, organisation_id, external_id)

    monkeypatch.setattr(registration, "_existing_by_external_id", racing)
    again = client.post(
        URL, headers=headers, data={"decision": json.dumps(_metadata())}, files=_files()
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert (_count(session, Decision), _count(session, Document)) == (1, 2)


def test_the_same_call_twice_at_once_registers_once(session: Session) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    answers: list[Any] = []

    def call() -> None:
        with TestClient(create_app(), raise_server_exceptions=False) as own:
            answers.append(
                own.post(
                    URL,
                    headers={"Authorization": f"Bearer {key}"},
                    data={"decision": json.dumps(_metadata())},
                    files=_files(),
                )
            )

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert (_count(session, Decision), _count(session, Document)) == (1, 2)
