"""The Stripe client: the official SDK (`stripe.StripeClient`) with its API base from
`ZEGEL_STRIPE_API_BASE`, so the sandbox and Stripe itself differ only in configuration.

Only what Zegel uses: Checkout Sessions (create, retrieve, expire, list by payment intent)
and Refunds. Every result is a typed value from `types`; every failure is a StripeFailure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import stripe

from shared.config import Settings, get_settings
from shared.integrations.stripe.types import CheckoutSession, Refund, StripeFailure

API_VERSION = "2026-10-28.endive"
"""Pinned, so a new SDK does not silently change the objects Zegel reads."""

_EXPAND = ["payment_intent", "payment_intent.latest_charge"]


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _get(obj: Any, key: str) -> Any:
    """A member of an SDK object (a dict underneath), or None."""
    if obj is None or isinstance(obj, str):
        return None
    try:
        return obj[key]
    except (KeyError, TypeError):
        return None


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = _get(value, "id")
    return str(found) if found else None


def _plain(obj: Any) -> Any:
    """SDK objects as plain dicts (they refuse dict())."""
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def checkout_session_from(obj: Any) -> CheckoutSession:
    """A typed CheckoutSession from the SDK object (or the plain dict in a webhook event)."""
    obj = _plain(obj)
    intent = _get(obj, "payment_intent")
    charge = _get(intent, "latest_charge")
    details = _get(charge, "payment_method_details")
    metadata = _get(obj, "metadata") or {}
    return CheckoutSession(
        id=str(obj["id"]),
        url=_get(obj, "url"),
        status=str(_get(obj, "status") or ""),
        payment_status=str(_get(obj, "payment_status") or ""),
        amount_total=_get(obj, "amount_total"),
        currency=_get(obj, "currency"),
        payment_intent_id=_id(intent),
        payment_method_type=_get(details, "type"),
        paid_at=_time(_get(charge, "created")),
        expires_at=_time(_get(obj, "expires_at")),
        metadata={str(k): str(v) for k, v in dict(metadata).items()},
    )


def refund_from(obj: Any) -> Refund:
    obj = _plain(obj)
    return Refund(
        id=str(obj["id"]),
        amount=int(obj["amount"]),
        status=str(_get(obj, "status") or ""),
        payment_intent_id=_id(_get(obj, "payment_intent")),
        charge_id=_id(_get(obj, "charge")),
        created=_time(_get(obj, "created")),
    )


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeFailure(str(error.user_message or error), retryable=True) from error
    except stripe.StripeError as error:
        status = error.http_status
        raise StripeFailure(
            str(error.user_message or error),
            retryable=status is None or status >= 500,
            code=error.code,
            http_status=status,
        ) from error


class StripeGateway:
    """One configured SDK client. Thread-safe; make one per process (`gateway()`)."""

    def __init__(self, settings: Settings | None = None, *, timeout: float = 20.0) -> None:
        settings = settings or get_settings()
        self._client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base.rstrip("/")},
            stripe_version=API_VERSION,
            http_client=stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True),
            max_network_retries=2,
        )

    def create_checkout_session(
        self,
        *,
        amount_cents: int,
        description: str,
        payment_request_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        locale: str = "nl",
        customer_email: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> CheckoutSession:
        """A Checkout Session for card and Bancontact, in euro, with the payment request's
        id in its metadata (and its payment intent's)."""
        meta = {"payment_request_id": payment_request_id, **(metadata or {})}
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": ["card", "bancontact"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": amount_cents,
                        "product_data": {"name": description[:250]},
                    },
                }
            ],
            "metadata": meta,
            "payment_intent_data": {"metadata": meta},
            "client_reference_id": payment_request_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "locale": locale,
        }
        if customer_email:
            params["customer_email"] = customer_email
        with _translated():
            created = self._client.v1.checkout.sessions.create(
                cast(Any, params), {"idempotency_key": idempotency_key}
            )
        return checkout_session_from(created)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session as Stripe has it now, with its payment intent and charge (the payment
        method actually used)."""
        with _translated():
            found = self._client.v1.checkout.sessions.retrieve(
                session_id, cast(Any, {"expand": _EXPAND})
            )
        return checkout_session_from(found)

    def sessions_for_payment_intent(self, payment_intent_id: str) -> list[CheckoutSession]:
        with _translated():
            page = self._client.v1.checkout.sessions.list(
                cast(Any, {"payment_intent": payment_intent_id, "expand": ["data.payment_intent"]})
            )
        return [checkout_session_from(item) for item in page.data]

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        with _translated():
            expired = self._client.v1.checkout.sessions.expire(session_id)
        return checkout_session_from(expired)

    def refunds_for_payment_intent(self, payment_intent_id: str) -> list[Refund]:
        """Every refund of the payment intent, newest first (up to 100)."""
        with _translated():
            page = self._client.v1.refunds.list(
                cast(Any, {"payment_intent": payment_intent_id, "limit": 100})
            )
        return [refund_from(item) for item in page.data]

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount_cents: int,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "amount": amount_cents}
        if metadata:
            params["metadata"] = dict(metadata)
        with _translated():
            created = self._client.v1.refunds.create(
                cast(Any, params), {"idempotency_key": idempotency_key}
            )
        return refund_from(created)


_gateway: StripeGateway | None = None


def gateway() -> StripeGateway:
    """The process's gateway, built from the settings on first use."""
    global _gateway
    if _gateway is None:
        _gateway = StripeGateway()
    return _gateway


def reset_gateway() -> None:
    """Forget the gateway (tests that change the settings)."""
    global _gateway
    _gateway = None
