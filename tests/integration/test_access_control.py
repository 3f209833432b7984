"""Who may see what: organisations are isolated, roles gate pages, citizens see only their own
documents, and sessions end when they should. Through HTTP and the database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from portal.app import create_app as create_portal
from shared.models import AuditEvent, StaffRole, StaffRoleAssignment, StaffUser, WebSession
from shared.web import ZegelApp
from tests import factories

ANN = "85073003328"
BOB = "01010100126"


@pytest.fixture
def backoffice() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def portal() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_portal(), raise_server_exceptions=False) as client:
        yield client


def _login(client: TestClient[ZegelApp], app: str, token: str) -> None:
    client.cookies.set(f"zegel_{app}_session", token)


def _csrf(client: TestClient[ZegelApp], path: str = "/") -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def two_organisations(session: Session) -> dict[str, object]:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    doc_a = factories.document(session, a, factories.citizen(session, a), "Stuk van A")
    doc_b = factories.document(session, b, factories.citizen(session, b), "Stuk van B")
    clerk = factories.staff_member(session, a, [StaffRole.SECRETARIAAT])
    desk = factories.staff_member(session, a, [StaffRole.ONTHAAL])
    session.commit()
    return {"a": a, "b": b, "doc_a": doc_a, "doc_b": doc_b, "clerk": clerk, "desk": desk}


def test_anonymous_staff_pages_send_to_login(backoffice: TestClient[ZegelApp]) -> None:
    response = backoffice.get("/stukken?status=draft", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/aanmelden?terug=%2Fstukken%3Fstatus%3Ddraft"


def test_staff_of_a_get_404_for_an_object_of_b(
    session: Session, backoffice: TestClient[ZegelApp], two_organisations: dict[str, object]
) -> None:
    data = two_organisations
    _login(
        backoffice,
        "backoffice",
        factories.web_session(
            session,
            "backoffice",
            staff=data["clerk"],
            organisation=data["a"],  # type: ignore[arg-type]
        ),
    )
    session.commit()
    own = backoffice.get(f"/stukken/{data['doc_a'].id}")  # type: ignore[attr-defined]
    assert own.status_code == 200
    assert "Stuk van A" in own.text
    other = backoffice.get(f"/stukken/{data['doc_b'].id}")  # type: ignore[attr-defined]
    assert other.status_code == 404
    assert "Stuk van B" not in other.text
    listing = backoffice.get("/stukken")
    assert "Stuk van A" in listing.text
    assert "Stuk van B" not in listing.text


def test_a_role_without_the_permission_gets_403(
    session: Session, backoffice: TestClient[ZegelApp], two_organisations: dict[str, object]
) -> None:
    data = two_organisations
    _login(
        backoffice,
        "backoffice",
        factories.web_session(
            session,
            "backoffice",
            staff=data["desk"],
            organisation=data["a"],  # type: ignore[arg-type]
        ),
    )
    session.commit()
    for path in ("/stukken", "/beheer/medewerkers", "/handtekenmap"):
        response = backoffice.get(path)
        assert response.status_code == 403, path
        assert "Geen toegang" in response.text


def test_the_menu_shows_only_what_the_roles_allow(
    session: Session, backoffice: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    signer = factories.staff_member(
        session,
        org,
        [StaffRole.ONDERTEKENAAR],
        signer_function=factories.SignerFunction.BURGEMEESTER,
    )
    _login(
        backoffice,
        "backoffice",
        factories.web_session(session, "backoffice", staff=signer, organisation=org),
    )
    session.commit()
    page = backoffice.get("/").text
    assert 'href="/handtekenmap"' in page
    assert 'href="/stukken"' not in page
    assert 'href="/beheer/medewerkers"' not in page


def test_switching_to_an_organisation_without_a_role_is_refused(
    session: Session, backoffice: TestClient[ZegelApp], two_organisations: dict[str, object]
) -> None:
    data = two_organisations
    token = factories.web_session(
        session,
        "backoffice",
        staff=data["clerk"],
        organisation=data["a"],  # type: ignore[arg-type]
    )
    session.commit()
    _login(backoffice, "backoffice", token)
    csrf = _csrf(backoffice)
    refused = backoffice.post(
        "/organisatie",
        data={"organisatie": str(data["b"].id), "_csrf_token": csrf},  # type: ignore[attr-defined]
    )
    assert refused.status_code == 404
    session.expire_all()
    row = session.scalars(select(WebSession)).one()
    assert row.organisation_id == data["a"].id  # type: ignore[attr-defined]


def test_switching_organisation_changes_what_is_shown(
    session: Session, backoffice: TestClient[ZegelApp], two_organisations: dict[str, object]
) -> None:
    data = two_organisations
    clerk: StaffUser = data["clerk"]  # type: ignore[assignment]
    session.add(
        StaffRoleAssignment(
            organisation_id=data["b"].id,
            staff_user_id=clerk.id,
            role=StaffRole.SECRETARIAAT,  # type: ignore[attr-defined]
        )
    )
    _login(
        backoffice,
        "backoffice",
        factories.web_session(
            session,
            "backoffice",
            staff=clerk,
            organisation=data["a"],  # type: ignore[arg-type]
        ),
    )
    session.commit()
    csrf = _csrf(backoffice)
    switched = backoffice.post(
        "/organisatie",
        data={"organisatie": str(data["b"].id), "_csrf_token": csrf},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert switched.status_code == 303
    listing = backoffice.get("/stukken").text
    assert "Stuk van B" in listing
    assert "Stuk van A" not in listing


def test_citizen_a_gets_404_for_the_document_of_citizen_b(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    ann_doc = factories.send(
        session, factories.document(session, org, factories.citizen(session, org, ANN), "Voor Ann")
    )
    bob_doc = factories.send(
        session,
        factories.document(session, org, factories.citizen(session, org, BOB, "Bob"), "Voor Bob"),
    )
    _login(portal, "portal", factories.web_session(session, "portal", ssin=ANN))
    session.commit()

    assert portal.get(f"/d/{ann_doc.public_token}").status_code == 200
    other = portal.get(f"/d/{bob_doc.public_token}")
    assert other.status_code == 404
    assert "Voor Bob" not in other.text
    mine = portal.get("/mijn-documenten")
    assert mine.status_code == 200
    assert "Voor Ann" in mine.text
    assert "Voor Bob" not in mine.text
    assert mine.headers["cache-control"] == "no-store"
    assert ANN not in mine.text


def test_a_document_not_yet_sent_is_not_shown_to_its_citizen(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    draft = factories.document(session, org, factories.citizen(session, org, ANN), "Nog niet weg")
    _login(portal, "portal", factories.web_session(session, "portal", ssin=ANN))
    session.commit()
    assert portal.get(f"/d/{draft.public_token}").status_code == 404
    assert "Nog niet weg" not in portal.get("/mijn-documenten").text


def test_a_too_low_level_asks_for_a_stronger_login(
    session: Session, portal: TestClient[ZegelApp]
) -> None:
    _login(portal, "portal", factories.web_session(session, "portal", ssin=ANN, level=1))
    session.commit()
    response = portal.get("/mijn-documenten", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/aanmelden?terug=%2Fmijn-documenten&niveau=substantial"
    )


def test_an_idle_session_ends(session: Session, portal: TestClient[ZegelApp]) -> None:
    _login(
        portal,
        "portal",
        factories.web_session(session, "portal", ssin=ANN, last_seen_minutes_ago=31),
    )
    session.commit()
    response = portal.get("/mijn-documenten", follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    assert session.scalars(select(WebSession)).one().ended_at is not None


def test_a_session_past_its_lifetime_ends(session: Session, portal: TestClient[ZegelApp]) -> None:
    _login(
        portal, "portal", factories.web_session(session, "portal", ssin=ANN, expires_in_minutes=-1)
    )
    session.commit()
    assert portal.get("/mijn-documenten", follow_redirects=False).status_code == 303


def test_a_portal_session_does_not_open_the_back_office(
    session: Session, backoffice: TestClient[ZegelApp]
) -> None:
    token = factories.web_session(session, "portal", ssin=ANN)
    session.commit()
    _login(backoffice, "backoffice", token)
    assert backoffice.get("/stukken", follow_redirects=False).status_code == 303


def test_beheer_assigns_roles_with_an_audit_event_and_can_deactivate(
    session: Session, backoffice: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    clerk = factories.staff_member(session, org, [StaffRole.ONTHAAL])
    clerk_token = factories.web_session(session, "backoffice", staff=clerk, organisation=org)
    clerk_id = clerk.id
    _login(
        backoffice,
        "backoffice",
        factories.web_session(session, "backoffice", staff=admin, organisation=org),
    )
    session.commit()

    listing = backoffice.get("/beheer/medewerkers")
    assert listing.status_code == 200
    assert clerk.name in listing.text
    csrf = _csrf(backoffice, f"/beheer/medewerkers/{clerk.id}")
    changed = backoffice.post(
        f"/beheer/medewerkers/{clerk.id}/rollen",
        data={"organisatie": str(org.id), "rol": ["onthaal", "financien"], "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    session.expire_all()
    roles = set(
        session.scalars(
            select(StaffRoleAssignment.role).where(StaffRoleAssignment.staff_user_id == clerk.id)
        )
    )
    assert roles == {StaffRole.ONTHAAL, StaffRole.FINANCIEN}
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.roles_changed")
    ).one()
    assert event.data["before"] == ["onthaal"]
    assert event.data["after"] == ["financien", "onthaal"]
    assert event.actor_id == str(admin.id)
    session.rollback()  # SQLite has one writer: end the test's read before the next request

    deactivated = backoffice.post(
        f"/beheer/medewerkers/{clerk_id}/account",
        data={"actief": "nee", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert deactivated.status_code == 303
    # The deactivated member's session ends at their next request.
    with TestClient(create_backoffice()) as other:
        _login(other, "backoffice", clerk_token)
        assert other.get("/", follow_redirects=False).text.count("Aanmelden") >= 1
        assert other.get("/beheer/medewerkers", follow_redirects=False).status_code == 303


def test_a_beheerder_cannot_drop_their_own_beheerder_role(
    session: Session, backoffice: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    _login(
        backoffice,
        "backoffice",
        factories.web_session(session, "backoffice", staff=admin, organisation=org),
    )
    session.commit()
    csrf = _csrf(backoffice, f"/beheer/medewerkers/{admin.id}")
    response = backoffice.post(
        f"/beheer/medewerkers/{admin.id}/rollen",
        data={"organisatie": str(org.id), "rol": ["onthaal"], "_csrf_token": csrf},
    )
    assert response.status_code == 422
    assert "eigen rol van beheerder" in response.text


def test_beheer_of_another_organisation_is_404(
    session: Session, backoffice: TestClient[ZegelApp], two_organisations: dict[str, object]
) -> None:
    data = two_organisations
    admin_b = factories.staff_member(session, data["b"], [StaffRole.BEHEERDER])  # type: ignore[arg-type]
    _login(
        backoffice,
        "backoffice",
        factories.web_session(
            session,
            "backoffice",
            staff=admin_b,
            organisation=data["b"],  # type: ignore[arg-type]
        ),
    )
    session.commit()
    clerk: StaffUser = data["clerk"]  # type: ignore[assignment]
    assert backoffice.get(f"/beheer/medewerkers/{clerk.id}").status_code == 404
