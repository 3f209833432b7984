"""A world for the payment tests: two organisations, finance and desk staff, and requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from litestar.testing import TestClient
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from shared.models import Organisation, PaymentRequest, StaffRole, StaffUser
from shared.services import payments
from shared.services.access import StaffContext
from shared.web import ZegelApp
from tests import factories
from tests.integration.payments.conftest import stripe, stripe_server  # noqa: F401 - fixtures

IBAN_A = "BE71096123456769"
IBAN_B = "BE94735001234514"


@dataclass
class World:
    a: Organisation
    b: Organisation
    finance: StaffUser
    desk: StaffUser
    clerk: StaffUser
    finance_b: StaffUser

    def context(
        self, user: StaffUser | None = None, org: Organisation | None = None
    ) -> StaffContext:
        user = user or self.finance
        org = org or self.a
        roles = {
            self.finance.id: {StaffRole.FINANCIEN},
            self.desk.id: {StaffRole.ONTHAAL},
            self.clerk.id: {StaffRole.SECRETARIAAT},
            self.finance_b.id: {StaffRole.FINANCIEN},
        }[user.id]
        return StaffContext(
            user_id=user.id,
            name=user.name,
            organisation_id=org.id,
            organisation_name=org.name,
            roles=frozenset(roles),
            organisations=((org.id, org.name),),
        )


@pytest.fixture
def world(session: Session) -> World:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    a.iban, a.bic, a.city = IBAN_A, "GKCCBEBB", "Testdorp"
    b.iban = IBAN_B
    found = World(
        a=a,
        b=b,
        finance=factories.staff_member(session, a, [StaffRole.FINANCIEN], name="Fien Financiën"),
        desk=factories.staff_member(session, a, [StaffRole.ONTHAAL], name="Otto Onthaal"),
        clerk=factories.staff_member(session, a, [StaffRole.SECRETARIAAT], name="Sara Clerk"),
        finance_b=factories.staff_member(session, b, [StaffRole.FINANCIEN]),
    )
    session.flush()
    return found


@pytest.fixture
def backoffice() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client


def login(
    session: Session, client: TestClient[ZegelApp], staff: StaffUser, org: Organisation
) -> None:
    token = factories.web_session(session, "backoffice", staff=staff, organisation=org)
    client.cookies.set("zegel_backoffice_session", token)


def payment_request(
    session: Session,
    org: Organisation,
    *,
    amount_cents: int = 12550,
    due: date | None = None,
    name: str = "Jan Peeters",
    title: str = "Belasting op tweede verblijven",
    document_type: str = "tax_assessment",
) -> PaymentRequest:
    """A sent document with an amount due, and its payment request (pay-core's service)."""
    recipient = factories.citizen(session, org, ssin=_next_ssin(), name=name)
    document = factories.document(session, org, recipient, title)
    document.document_type = document_type
    document.amount_due_cents = amount_cents
    document.due_date = due or date(2026, 12, 31)
    request = payments.create_for_document(session, document, actor=factories.SYSTEM)
    assert request is not None
    return request


_counter = iter(range(10**6))


def _next_ssin() -> str:
    """A valid national number per call (check digits mod 97), so recipients differ."""
    base = 850730000 + next(_counter)
    return f"{base:09d}{97 - base % 97:02d}"
