"""Beheer › Soorten stukken over HTTP: the policy per document type, its defaults, changes
(audited, before and after), bad input with Dutch messages, and who may use it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.models import (
    AuditEvent,
    DocumentTypePolicy,
    Organisation,
    PaperDelivery,
    StaffRole,
)
from shared.services import document_types
from shared.web import ZegelApp
from tests import factories

PAGE = "/beheer/soorten-stukken"


@dataclass
class World:
    org: Organisation
    other: Organisation
    session: Session
    http: TestClient[ZegelApp]
    tokens: dict[str, str]

    def as_(self, who: str) -> None:
        self.http.cookies.set("zegel_backoffice_session", self.tokens[who])

    def get(self, path: str, **kwargs: Any) -> Any:
        self.session.rollback()
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> Any:
        self.session.rollback()
        page = self.http.get(PAGE)
        match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        token = match.group(1) if match else ""
        return self.http.post(
            path, data={"_csrf_token": token, **data}, follow_redirects=False, **kwargs
        )


@pytest.fixture
def world(session: Session) -> Iterator[World]:
    org = factories.organisation(session)
    other = factories.organisation(session, "Gemeente Buurdorp")
    admin = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    tokens = {
        "admin": factories.web_session(session, "backoffice", staff=admin, organisation=org),
        "clerk": factories.web_session(session, "backoffice", staff=clerk, organisation=org),
    }
    session.commit()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        world = World(org, other, session, client, tokens)
        world.as_("admin")
        yield world


def _rows(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(DocumentTypePolicy)) or 0


def test_every_type_of_the_catalogue_is_listed_with_its_defaults(world: World) -> None:
    page = world.get(PAGE)
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    for key in document_types.CATALOGUE:
        assert f'href="{PAGE}/{key}"' in page.text
    assert "Administratieve geldboete (GAS)" in page.text
    assert page.text.count("Aangetekend") >= 2  # GAS fines and dispute answers by default
    assert "niet op papier" in page.text
    assert 'aria-current="page"' in page.text  # the Beheer sub-navigation knows the page
    form = world.get(f"{PAGE}/gas_fine")
    assert form.status_code == 200
    assert '<option value="registered" selected>' in form.text


def test_the_beheerder_changes_a_policy_and_the_change_is_audited(world: World) -> None:
    saved = world.post(
        f"{PAGE}/college_decision",
        {
            "papier": "registered_ack",
            "papierkopie": "ja",
            "dagen": " 14 ",
            "rechtsgrond": "Beraadslaging IVC nr. 26/123",
            "opschorten": "ja",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?bewaard=college_decision"
    listing = world.get(saved.headers["location"])
    assert "De instellingen voor ‘Beslissing van het college’ zijn bewaard." in listing.text
    assert "na 14 dagen ook op papier" in listing.text
    assert "Beraadslaging IVC nr. 26/123" in listing.text

    session = world.session
    session.rollback()
    policy = document_types.policy(session, world.org.id, "college_decision")
    assert policy.paper is PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT
    assert (
        policy.ebox_fallback_days,
        policy.legal_basis,
        policy.dispute_suspends_payment,
        policy.customised,
    ) == (14, "Beraadslaging IVC nr. 26/123", True, True)
    # Another organisation keeps the defaults.
    assert not document_types.policy(session, world.other.id, "college_decision").customised
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document_type_policy.updated")
    ).one()
    assert event.organisation_id == world.org.id
    assert event.data["before"] == {
        "paper_delivery": "normal",
        "ebox_fallback_days": None,
        "legal_basis": None,
        "dispute_suspends_payment": False,
    }
    assert event.data["after"] == {
        "paper_delivery": "registered_ack",
        "ebox_fallback_days": 14,
        "legal_basis": "Beraadslaging IVC nr. 26/123",
        "dispute_suspends_payment": True,
    }

    # Switching the paper copy off forgets the days; then back to the defaults.
    world.post(f"{PAGE}/college_decision", {"papier": "normal", "dagen": "14"})
    session.rollback()
    switched = document_types.policy(session, world.org.id, "college_decision")
    assert switched.ebox_fallback_days is None
    assert not switched.dispute_suspends_payment  # an unticked box saves "no"
    reset = world.post(f"{PAGE}/college_decision/standaard", {})
    assert reset.status_code == 303
    session.rollback()
    assert _rows(session) == 0
    assert not document_types.policy(session, world.org.id, "college_decision").customised
    actions = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "document_type_policy")
            .order_by(AuditEvent.sequence)
        )
    )
    assert actions == [
        "document_type_policy.updated",
        "document_type_policy.updated",
        "document_type_policy.reset",
    ]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"papier": "normal", "papierkopie": "ja", "dagen": "-3"},
            "dagen",
            "Het aantal dagen moet minstens 1 zijn.",
        ),
        (
            {"papier": "normal", "papierkopie": "ja", "dagen": "0"},
            "dagen",
            "Het aantal dagen moet minstens 1 zijn.",
        ),
        (
            {"papier": "normal", "papierkopie": "ja", "dagen": "twee weken"},
            "dagen",
            "Geef het aantal dagen als een geheel getal, bv. 14.",
        ),
        (
            {"papier": "normal", "papierkopie": "ja", "dagen": ""},
            "dagen",
            "Geef het aantal dagen waarna het stuk ook op papier vertrekt.",
        ),
        (
            {"papier": "normal", "papierkopie": "ja", "dagen": "366"},
            "dagen",
            "Het aantal dagen mag ten hoogste 365 zijn.",
        ),
        (
            {"papier": "per duif"},
            "papier",
            "Kies hoe het stuk op papier verstuurd wordt.",
        ),
        (
            {"papier": "normal", "rechtsgrond": "x" * 1001},
            "rechtsgrond",
            "Dit veld is te lang: ten hoogste 1000 tekens.",
        ),
    ],
)
def test_bad_input_is_refused_with_a_dutch_message_and_nothing_changes(
    world: World, form: dict[str, str], field: str, message: str
) -> None:
    answer = world.post(f"{PAGE}/tax_assessment", form)
    assert answer.status_code == 422
    assert message in answer.text
    assert f'href="#veld-{field}"' in answer.text  # the error summary links to the field
    assert 'aria-invalid="true"' in answer.text
    if form.get("dagen"):
        assert f'value="{form["dagen"]}"' in answer.text  # what was typed stays
    assert _rows(world.session) == 0
    world.session.rollback()
    assert (
        world.session.scalar(
            select(func.count()).where(AuditEvent.object_type == "document_type_policy")
        )
        == 0
    )


def test_an_unknown_type_does_not_exist(world: World) -> None:
    for answer in (
        world.get(f"{PAGE}/parkeerboete"),
        world.post(f"{PAGE}/parkeerboete", {"papier": "normal"}),
        world.post(f"{PAGE}/parkeerboete/standaard", {}),
    ):
        assert answer.status_code == 404
        assert "Dit soort stuk bestaat niet." in answer.text
    assert _rows(world.session) == 0


def test_only_the_beheerder_may_see_or_change_the_policies(world: World) -> None:
    world.as_("clerk")
    for answer in (
        world.get(PAGE),
        world.get(f"{PAGE}/gas_fine"),
        world.post(f"{PAGE}/gas_fine", {"papier": "normal"}),
        world.post(f"{PAGE}/gas_fine/standaard", {}),
    ):
        assert answer.status_code == 403
        assert "Geen toegang" in answer.text
    assert _rows(world.session) == 0
    world.as_("admin")
    assert 'href="/beheer/soorten-stukken"' in world.get("/").text
