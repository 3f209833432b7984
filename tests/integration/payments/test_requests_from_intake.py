"""The intake API makes the payment request of a letter with an amount due, and refuses the
amount (nothing registered) when the organisation has no account number."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.models import Document, PaymentRequest
from shared.services.payment_references import is_valid_ogm
from shared.web import ZegelApp
from tests import factories
from tests.integration.test_intake_api import _key, _post


@pytest.fixture
def client() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_letter_with_an_amount_gets_its_payment_request(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    key = _key(session, org)
    session.commit()
    response = _post(session, client, key)
    assert response.status_code == 201, response.text
    documents = response.json()["documents"]
    with_amount = session.get(Document, uuid.UUID(documents[1]["id"]))
    assert with_amount is not None
    assert with_amount.amount_due_cents == 15000
    request = session.scalars(
        select(PaymentRequest).where(PaymentRequest.document_id == with_amount.id)
    ).one()
    assert request.amount_cents == 15000
    assert request.iban == "BE71096123456769"
    assert is_valid_ogm(request.structured_communication)
    assert session.scalar(select(func.count()).select_from(PaymentRequest)) == 1
    session.rollback()


def test_without_an_iban_the_amount_is_refused_and_nothing_registered(
    session: Session, client: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    org.iban = None
    key = _key(session, org)
    session.commit()
    response = _post(session, client, key)
    assert response.status_code == 422, response.text
    problem = response.json()
    fields = {e["field"]: e["detail"] for e in problem["errors"]}
    assert "geen IBAN-rekeningnummer" in fields["documents.1.amount_due"]
    assert session.scalar(select(func.count()).select_from(Document)) == 0
    session.rollback()
