"""The official stripe SDK against the Stripe sandbox over loopback: Checkout Sessions, refunds,
idempotency keys, Stripe-shaped errors, the hosted page, and signed webhooks with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from litestar import Litestar, Request, post

from shared.config import load_settings
from shared.integrations.stripe import signatures
from shared.integrations.stripe.client import StripeGateway
from shared.integrations.stripe.sandbox import StripeSandbox, decode_form
from shared.integrations.stripe.types import StripeFailure
from tests.live_server import bind_loopback, serving, url_of

KEY = "sk_test_zegel"
SECRET = "whsec_test"


class Receiver:
    """A webhook endpoint that fails its first `fail_first` deliveries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.received: list[tuple[bytes, str]] = []
        self.lock = threading.Lock()

    def app(self) -> Litestar:
        receiver = self

        @post("/hook", status_code=200)
        async def hook(request: Request[Any, Any, Any]) -> dict[str, bool]:
            body = await request.body()
            with receiver.lock:
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
                    from litestar.exceptions import HTTPException

                    raise HTTPException(status_code=503)
                receiver.received.append((body, request.headers.get("stripe-signature", "")))
            return {"received": True}

        return Litestar(route_handlers=[hook])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver(fail_first=2)
    with serving(r.app()) as url:
        yield r, url + "/hook"


@pytest.fixture
def stripe_server(receiver: tuple[Receiver, str]) -> Iterator[tuple[StripeSandbox, StripeGateway]]:
    sock = bind_loopback()
    base = url_of(sock) + "/stripe"
    sandbox = StripeSandbox(
        api_key=KEY,
        webhook_url=receiver[1],
        webhook_secrets=[SECRET],
        retry_base_seconds=0.05,
        public_url=base,
    )
    app = Litestar(route_handlers=[sandbox.router("/stripe")])
    with serving(app, sock):
        settings = load_settings(stripe_api_base=base, stripe_secret_key=KEY)
        yield sandbox, StripeGateway(settings, timeout=5)
    sandbox.stop()


def _create(gateway: StripeGateway, key: str = "key-1", amount: int = 12550) -> Any:
    return gateway.create_checkout_session(
        amount_cents=amount,
        description="Belasting tweede verblijven",
        payment_request_id="pr-1",
        success_url="http://portal.test/d/abc?betaling={CHECKOUT_SESSION_ID}",
        cancel_url="http://portal.test/d/abc",
        idempotency_key=key,
    )


def test_decode_form_reads_stripes_nested_encoding() -> None:
    assert decode_form(
        "line_items[0][price_data][currency]=eur&line_items[0][quantity]=1"
        "&metadata[payment_request_id]=x&expand[0]=payment_intent&expand[1]=b&types[]=card"
    ) == {
        "line_items": [{"price_data": {"currency": "eur"}, "quantity": "1"}],
        "metadata": {"payment_request_id": "x"},
        "expand": ["payment_intent", "b"],
        "types": ["card"],
    }


def test_create_retrieve_and_idempotency(
    stripe_server: tuple[StripeSandbox, StripeGateway],
) -> None:
    sandbox, gateway = stripe_server
    created = _create(gateway)
    assert created.id.startswith("cs_test_")
    assert created.status == "open"
    assert created.payment_status == "unpaid"
    assert created.amount_total == 12550
    assert created.currency == "eur"
    assert created.metadata == {"payment_request_id": "pr-1"}
    assert created.url is not None
    assert created.url.endswith("/checkout/" + created.id)
    # The same key again: the same session, not a second one.
    assert _create(gateway).id == created.id
    assert len(sandbox.sessions) == 1
    # The same key with other parameters: Stripe's idempotency_error.
    with pytest.raises(StripeFailure) as refused:
        _create(gateway, amount=100)
    assert refused.value.http_status == 400
    assert not refused.value.retryable
    assert "same parameters" in refused.value.message
    found = gateway.retrieve_checkout_session(created.id)
    assert found.id == created.id
    assert found.payment_intent_id is None


def test_errors_are_stripe_shaped(stripe_server: tuple[StripeSandbox, StripeGateway]) -> None:
    sandbox, gateway = stripe_server
    with pytest.raises(StripeFailure) as missing:
        gateway.retrieve_checkout_session("cs_test_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    wrong_key = StripeGateway(
        load_settings(stripe_api_base=sandbox.public_url, stripe_secret_key="sk_test_wrong"),
        timeout=5,
    )
    with pytest.raises(StripeFailure) as unauthorised:
        wrong_key.retrieve_checkout_session("cs_test_nope")
    assert unauthorised.value.http_status == 401
    raw = httpx.post(
        sandbox.public_url + "/v1/checkout/sessions",
        headers={"authorization": f"Bearer {KEY}"},
        data={"mode": "payment"},
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Missing required param: success_url.",
            "param": "success_url",
        }
    }


def test_pay_on_the_hosted_page_refund_and_webhooks(
    stripe_server: tuple[StripeSandbox, StripeGateway], receiver: tuple[Receiver, str]
) -> None:
    sandbox, gateway = stripe_server
    created = _create(gateway)
    assert created.url is not None
    page = httpx.get(created.url)
    assert page.status_code == 200
    assert "Bancontact" in page.text
    assert "€ 125,50" in page.text
    declined = httpx.post(created.url, data={"keuze": "weigeren-card"})
    assert "geweigerd" in declined.text
    assert gateway.retrieve_checkout_session(created.id).status == "open"
    paid = httpx.post(created.url, data={"keuze": "bancontact"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://portal.test/d/abc?betaling={created.id}"
    session = gateway.retrieve_checkout_session(created.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.payment_method_type == "bancontact"
    assert session.payment_intent_id is not None
    assert session.paid_at is not None
    assert [s.id for s in gateway.sessions_for_payment_intent(session.payment_intent_id)] == [
        created.id
    ]

    refund = gateway.create_refund(
        payment_intent_id=session.payment_intent_id, amount_cents=5000, idempotency_key="r-1"
    )
    assert refund.amount == 5000
    assert refund.status == "succeeded"
    again = gateway.create_refund(
        payment_intent_id=session.payment_intent_id, amount_cents=5000, idempotency_key="r-1"
    )
    assert again.id == refund.id  # the same key: refunded once
    with pytest.raises(StripeFailure) as too_much:
        gateway.create_refund(
            payment_intent_id=session.payment_intent_id, amount_cents=9000, idempotency_key="r-2"
        )
    assert too_much.value.code == "amount_too_large"

    # Webhooks: delivered despite the receiver's first two failures, each signed.
    assert sandbox.wait_for_deliveries(timeout=10)
    r, _url = receiver
    types = [json.loads(body)["type"] for body, _sig in r.received]
    assert sorted(types) == ["charge.refunded", "checkout.session.completed"]
    assert any(d.status == 503 for d in sandbox.deliveries)
    for body, header in r.received:
        assert signatures.verify(body, header, [SECRET]) > 0
        # The SDK's own verification agrees with the sandbox's signature.
        event = stripe.Webhook.construct_event(body, header, SECRET)
        assert event["id"].startswith("evt_")


def test_expire(stripe_server: tuple[StripeSandbox, StripeGateway]) -> None:
    sandbox, gateway = stripe_server
    created = _create(gateway)
    expired = gateway.expire_checkout_session(created.id)
    assert expired.status == "expired"
    with pytest.raises(StripeFailure, match="can be expired"):
        gateway.expire_checkout_session(created.id)
    assert [e["type"] for e in sandbox.events] == ["checkout.session.expired"]


def test_signature_scheme() -> None:
    body = b'{"id": "evt_1"}'
    header = signatures.sign(body, ["whsec_new", "whsec_old"], timestamp=1_700_000_000)
    assert signatures.verify(body, header, ["whsec_old"], now=1_700_000_100) == 1_700_000_000
    # Stripe's SDK accepts what we sign, and we accept what the SDK would check.
    stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_new", tolerance=None)
    for bad_header, secrets_, now, reason in [
        (header, ["whsec_other"], 1_700_000_100, "no signature matches"),
        (header, ["whsec_new"], 1_700_000_301, "tolerance"),
        ("", ["whsec_new"], 1_700_000_000, "no Stripe-Signature"),
        ("t=abc,v1=00", ["whsec_new"], 1_700_000_000, "malformed"),
        ("t=1700000000", ["whsec_new"], 1_700_000_000, "no v1"),
        (header, [], 1_700_000_000, "no webhook secret"),
    ]:
        with pytest.raises(signatures.SignatureError, match=reason):
            signatures.verify(body, bad_header, secrets_, now=now)
    with pytest.raises(signatures.SignatureError):
        signatures.verify(body + b" ", header, ["whsec_new"], now=1_700_000_000)
