"""The Stripe sandbox on a loopback port, Zegel's settings pointing the real SDK at it, and a
portal to pay in."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.app import create_app
from shared.config import get_settings
from shared.integrations.stripe.client import reset_gateway
from shared.integrations.stripe.sandbox import StripeSandbox
from shared.models import Document, Organisation, PaymentRequest, Recipient
from shared.protection import ssin_digest
from shared.services import audit, payments
from shared.web import ZegelApp
from tests import factories
from tests.live_server import bind_loopback, serving, url_of

API_KEY = "sk_test_payments"
WEBHOOK_SECRET = "whsec_payments_test"
OLD_SECRET = "whsec_payments_old"
ANN = "85073003328"
ACTOR = audit.Actor.system("test")


@dataclass
class Stripe:
    sandbox: StripeSandbox
    base_url: str


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[Stripe]:
    sock = bind_loopback()
    base = url_of(sock) + "/stripe"
    sandbox = StripeSandbox(
        api_key=API_KEY,
        webhook_url=None,  # tests that want deliveries set it
        webhook_secrets=[WEBHOOK_SECRET],
        retry_base_seconds=0.05,
        public_url=base,
    )
    with serving(Litestar(route_handlers=[sandbox.router("/stripe")]), sock):
        yield Stripe(sandbox, base)
    sandbox.stop()


@pytest.fixture
def stripe(stripe_server: Stripe, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stripe]:
    """A fresh sandbox and settings to use it (two webhook secrets: a rotation under way)."""
    stripe_server.sandbox.reset()
    stripe_server.sandbox.webhook_url = None
    monkeypatch.setenv("ZEGEL_STRIPE_API_BASE", stripe_server.base_url)
    monkeypatch.setenv("ZEGEL_STRIPE_SECRET_KEY", API_KEY)
    monkeypatch.setenv("ZEGEL_STRIPE_WEBHOOK_SECRETS", f'["{WEBHOOK_SECRET}", "{OLD_SECRET}"]')
    get_settings.cache_clear()
    reset_gateway()
    yield stripe_server
    stripe_server.sandbox.webhook_url = None
    stripe_server.sandbox.reset()
    get_settings.cache_clear()
    reset_gateway()


@pytest.fixture
def portal(stripe: Stripe) -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def login(session: Session, portal: TestClient[ZegelApp], ssin: str = ANN) -> None:
    portal.cookies.set("zegel_portal_session", factories.web_session(session, "portal", ssin=ssin))


def document_to_pay(
    session: Session,
    org: Organisation,
    amount_cents: int = 12550,
    *,
    ssin: str = ANN,
    title: str = "Belasting op tweede verblijven",
) -> tuple[Document, PaymentRequest]:
    recipient = session.scalars(
        select(Recipient).where(
            Recipient.organisation_id == org.id, Recipient.ssin_digest == ssin_digest(ssin)
        )
    ).one_or_none() or factories.citizen(session, org, ssin=ssin)
    document = factories.document(session, org, recipient, title=title)
    document.amount_due_cents = amount_cents
    document.due_date = date(2026, 12, 31)
    factories.send(session, document)
    request = payments.create_for_document(session, document, actor=ACTOR)
    assert request is not None
    return document, request


def shuffled(items: list[object], seed: int = 7) -> list[object]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy
