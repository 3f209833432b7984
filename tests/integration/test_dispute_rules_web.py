"""Beheer › Bezwaartermijnen over HTTP: the organisation's own terms per dispute right, shown
next to the standard, saved (audited, other rights untouched), bad input refused in Dutch with
everything typed kept, and only for an administrator. A saved term is what new documents get."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from httpx import Response
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.models import AuditEvent, DisputeRight, Organisation, StaffRole
from shared.services import dispute_deadlines
from shared.web import ZegelApp
from tests import factories

PAGE = "/beheer/bezwaartermijnen"
GAS = f"{PAGE}/gas_appeal"


@pytest.fixture
def http() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _post(http: TestClient[ZegelApp], path: str, data: dict[str, str]) -> Response:
    page = http.get(path)
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match is not None, page.text
    return http.post(path, data={"_csrf_token": match.group(1), **data}, follow_redirects=False)


def _log_in(session: Session, http: TestClient[ZegelApp], role: StaffRole) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    member = factories.staff_member(session, org, [role])
    http.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=member, organisation=org),
    )
    session.commit()


def _organisation_id(session: Session) -> uuid.UUID:
    found = session.scalars(
        select(Organisation.id).where(Organisation.name == "Gemeente Zegelbeek")
    )
    org_id = found.one()
    session.rollback()
    return org_id


def test_an_administrator_sets_a_term_that_new_documents_get(
    session: Session, http: TestClient[ZegelApp]
) -> None:
    _log_in(session, http, StaffRole.BEHEERDER)
    listing = http.get(PAGE)
    assert listing.status_code == 200
    assert "Beroep tegen een GAS-boete" in listing.text
    assert "1 maand" in listing.text  # the standard GAS term
    assert "standaard" in listing.text

    form = http.get(GAS)
    assert form.status_code == 200
    assert "Standaard: 1." in form.text
    saved = _post(
        http,
        GAS,
        {
            "maanden": "2",
            "dagen": "",
            "startdagen": "",
            "werkdagen": "",
            "antwoordmaanden": "4",
            "dienst": "secretariaat",
            "tekst": "  Beroep bij de politierechtbank binnen twee maanden. ",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?bewaard=gas_appeal"
    listing = http.get(saved.headers["location"])
    assert "De termijn voor ‘Beroep tegen een GAS-boete’ is bewaard." in listing.text
    assert "2 maanden" in listing.text
    assert "aangepast" in listing.text

    org_id = _organisation_id(session)
    rules = dispute_deadlines.organisation_rules(session, org_id)
    assert rules == {
        "gas_appeal": {
            "months": 2,
            "answer_months": 4,
            "competent_service": "secretariaat",
            "legal_text": "Beroep bij de politierechtbank binnen twee maanden.",
        }
    }
    rule = dispute_deadlines.rule_for(DisputeRight.GAS_APPEAL, rules)
    assert rule is not None
    assert dispute_deadlines.last_day(rule, date(2026, 3, 2)) == date(2026, 5, 4)  # 3/5 - 1, Mon
    # a document not sent yet gets the new term (one sent keeps its own: test_dispatch_service)
    org = session.get(Organisation, org_id)
    assert org is not None
    fine = factories.document(session, org, factories.citizen(session, org), title="GAS-boete")
    fine.dispute_right = DisputeRight.GAS_APPEAL
    fine.legal_sending_date = date(2026, 3, 2)
    deadline = dispute_deadlines.deadline_for(session, fine)
    assert deadline is not None
    assert deadline.last_day == date(2026, 5, 4)
    assert deadline.legal_text == "Beroep bij de politierechtbank binnen twee maanden."
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "organisation.dispute_rules_changed")
    ).one()
    assert event.data["before"] == {}
    assert event.data["after"] == rules
    session.rollback()

    # Emptying every field returns the right to the standard; the other rights never moved.
    back = _post(
        http,
        GAS,
        {
            "maanden": "",
            "dagen": "",
            "startdagen": "",
            "werkdagen": "",
            "antwoordmaanden": "",
            "dienst": "",
            "tekst": "",
        },
    )
    assert back.status_code == 303
    assert dispute_deadlines.organisation_rules(session, org_id) == {}
    session.rollback()


def test_bad_input_is_refused_in_dutch_and_everything_typed_stays(
    session: Session, http: TestClient[ZegelApp]
) -> None:
    _log_in(session, http, StaffRole.BEHEERDER)
    refused = _post(
        http,
        GAS,
        {
            "maanden": "veel",
            "dagen": "-3",
            "startdagen": "40",
            "werkdagen": "misschien",
            "antwoordmaanden": "0",
            "dienst": "brandweer",
            "tekst": "Mijn eigen tekst",
        },
    )
    assert refused.status_code == 422
    text = refused.text
    assert "Vul een geheel getal van 0 tot 24 in, of laat leeg." in text
    assert "Vul een geheel getal van 0 tot 730 in, of laat leeg." in text
    assert "Vul een geheel getal van 0 tot 30 in, of laat leeg." in text
    assert "Vul een geheel getal van 1 tot 36 in, of laat leeg." in text
    assert "Kies werkdagen, kalenderdagen of de standaard." in text
    assert "Kies een dienst uit de lijst." in text
    assert 'value="veel"' in text
    assert "Mijn eigen tekst" in text
    nothing = _post(
        http,
        GAS,
        {
            "maanden": "0",
            "dagen": "0",
            "startdagen": "",
            "werkdagen": "",
            "antwoordmaanden": "",
            "dienst": "",
            "tekst": "",
        },
    )
    assert nothing.status_code == 422
    assert "Een termijn van 0 maanden en 0 dagen bestaat niet." in nothing.text
    org_id = _organisation_id(session)
    assert dispute_deadlines.organisation_rules(session, org_id) == {}
    session.rollback()
    assert http.get(f"{PAGE}/none").status_code == 404
    assert http.get(f"{PAGE}/iets").status_code == 404


def test_only_an_administrator_may_change_the_terms(
    session: Session, http: TestClient[ZegelApp]
) -> None:
    _log_in(session, http, StaffRole.SECRETARIAAT)
    assert http.get(PAGE).status_code == 403
    assert http.get(GAS).status_code == 403
