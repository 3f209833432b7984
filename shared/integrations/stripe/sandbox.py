"""A local Stripe at /stripe: the subset of the API Zegel calls, a hosted checkout page, and
signed webhooks.

- `POST /v1/checkout/sessions` (form-encoded, as the SDK sends it), `GET /v1/checkout/sessions`
  (`payment_intent` filter), `GET /v1/checkout/sessions/{id}` (`expand[]` of `payment_intent`
  and `payment_intent.latest_charge`), `POST /v1/checkout/sessions/{id}/expire`;
  `POST /v1/refunds`, `GET /v1/refunds` (`payment_intent` filter), `GET /v1/refunds/{id}`.
  Bearer authentication with the configured secret key. `Idempotency-Key` honoured: a repeat
  gets the first answer (`Idempotent-Replayed: true`), the same key with other parameters an
  `idempotency_error`. Errors are Stripe's error objects (`{"error": {"type", "code",
  "message", "param"}}`) with Stripe's status codes.
- `GET /checkout/{id}`: the hosted checkout page where the tester pays by card or Bancontact,
  lets the payment fail (the page says so; the session stays open, as at Stripe) or cancels
  (back to the cancel URL).
- Webhooks: every event (`checkout.session.completed`, `checkout.session.expired`,
  `charge.refunded`, ...) is POSTed to the configured endpoint with a `Stripe-Signature`
  header made with the endpoint's secret(s), from a background thread, retried with
  exponential backoff while the endpoint does not answer 2xx — as Stripe does.

State lives in memory. A development and test tool: it refuses to exist in production.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl

import httpx
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from shared.config import get_settings
from shared.errors import ConfigError
from shared.integrations.stripe import signatures

METHODS = ("card", "bancontact")
SESSION_LIFETIME_SECONDS = 24 * 3600
"""Stripe's default: a Checkout Session expires 24 hours after it was created."""


class _StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type_, "message": message}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param


def decode_form(raw: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`, `expand[]=x`) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if match is None:
            raise _StripeError(400, f"Invalid parameter: {key}", param=key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":  # a[]=x: append
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    result: dict[str, Any] = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


@dataclass
class Delivery:
    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    at: float


@dataclass(order=True)
class _Pending:
    due: float
    sequence: int
    event: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)


class StripeSandbox:
    """The sandbox's state and behaviour; `router()` serves it. Tests drive it directly too
    (`pay`, `expire`, `events`, `deliveries`)."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_url: str | None,
        webhook_secrets: Sequence[str],
        retry_base_seconds: float = 1.0,
        max_attempts: int = 8,
        public_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secrets = list(webhook_secrets)
        self.retry_base_seconds = retry_base_seconds
        self.max_attempts = max_attempts
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every API call, for tests."""
        self._idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._queue: list[_Pending] = []
        self._sequence = 0
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopped = False

    def reset(self) -> None:
        """Forget every object, event and delivery (between tests)."""
        with self._wake:
            for store in (self.sessions, self.intents, self.charges, self.refunds):
                store.clear()
            self.events.clear()
            self.deliveries.clear()
            self.requests.clear()
            self._idempotency.clear()
            self._queue.clear()

    # -- the API ---------------------------------------------------------------------------

    def _check_key(self, authorization: str | None) -> None:
        scheme, _sp, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise _StripeError(401, "You did not provide an API key. Provide it as a Bearer token.")
        if key != self.api_key:
            raise _StripeError(401, f"Invalid API Key provided: {key[:8]}***")

    def _idempotent(
        self, key: str | None, fingerprint: str, produce: Callable[[], tuple[int, dict[str, Any]]]
    ) -> tuple[int, dict[str, Any], bool]:
        with self._lock:
            if key:
                seen = self._idempotency.get(key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise _StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same"
                            " parameters they were first used with. Try using a key other"
                            " than '" + key + "' if you meant to execute a different request.",
                            type_="idempotency_error",
                        )
                    return seen[1], copy.deepcopy(seen[2]), True
            status, body = produce()
            if key and status < 500:
                self._idempotency[key] = (fingerprint, status, copy.deepcopy(body))
            return status, body, False

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        for required in ("success_url", "cancel_url"):
            if not params.get(required):
                raise _StripeError(400, f"Missing required param: {required}.", param=required)
        if params.get("mode") != "payment":
            raise _StripeError(400, "The sandbox supports mode=payment only.", param="mode")
        items = _as_list(params.get("line_items"))
        if not items:
            raise _StripeError(400, "Missing required param: line_items.", param="line_items")
        amount = 0
        currency = None
        names = []
        for index, item in enumerate(items):
            price = item.get("price_data") or {}
            try:
                unit = int(price.get("unit_amount", ""))
                quantity = int(item.get("quantity", "1"))
            except ValueError:
                raise _StripeError(
                    400, "Invalid integer.", param=f"line_items[{index}][price_data][unit_amount]"
                ) from None
            if unit < 1 or quantity < 1:
                raise _StripeError(
                    400,
                    "This value must be greater than or equal to 1.",
                    param=f"line_items[{index}][price_data][unit_amount]",
                )
            currency = str(price.get("currency", "")).lower()
            amount += unit * quantity
            names.append(str((price.get("product_data") or {}).get("name", "")))
        methods = [str(m) for m in _as_list(params.get("payment_method_types"))] or ["card"]
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise _StripeError(
                400,
                f"The payment method type provided: {unknown[0]} is invalid.",
                param="payment_method_types",
            )
        if "bancontact" in methods and currency != "eur":
            raise _StripeError(
                400,
                "The currency provided (" + str(currency) + ") is invalid for bancontact,"
                " which supports eur.",
                code="payment_method_currency_mismatch",
                param="payment_method_types",
            )
        now = int(self.clock())
        session_id = _new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": int(params.get("expires_at") or now + SESSION_LIFETIME_SECONDS),
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": dict(params.get("metadata") or {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": methods,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{self.public_url}/checkout/{session_id}",
            "_description": ", ".join(names),
            "_intent_metadata": dict(
                (params.get("payment_intent_data") or {}).get("metadata") or {}
            ),
            "_error": None,
        }
        self.sessions[session_id] = session
        return self._public_session(session, [])

    def _public_session(self, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        public = {k: copy.deepcopy(v) for k, v in session.items() if not k.startswith("_")}
        intent_id = session["payment_intent"]
        if intent_id and "payment_intent" in expand:
            intent = copy.deepcopy(self.intents[intent_id])
            if "payment_intent.latest_charge" in expand and intent.get("latest_charge"):
                intent["latest_charge"] = copy.deepcopy(self.charges[intent["latest_charge"]])
            public["payment_intent"] = intent
        return public

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise _StripeError(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
            )
        self._expire_if_due(session)
        return session

    def _expire_if_due(self, session: dict[str, Any]) -> None:
        if session["status"] == "open" and session["expires_at"] <= self.clock():
            self._set_expired(session)

    def _set_expired(self, session: dict[str, Any]) -> None:
        session["status"] = "expired"
        self._emit("checkout.session.expired", self._public_session(session, []))

    def expire(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise _StripeError(
                    400, 'Only Checkout Sessions with a status in ["open"] can be expired.'
                )
            self._set_expired(session)
            return self._public_session(session, [])

    def pay(self, session_id: str, method: str, *, delayed: bool = False) -> dict[str, Any]:
        """The tester paid on the hosted page: the session completes and is paid. `delayed`:
        a method that confirms later (the session completes unpaid; `settle` decides)."""
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise _StripeError(400, "This Checkout Session is no longer open.")
            if method not in session["payment_method_types"]:
                raise _StripeError(400, f"{method} is not offered by this session.")
            now = int(self.clock())
            intent_id, charge_id = _new_id("pi"), _new_id("ch")
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": session["amount_total"],
                "amount_captured": session["amount_total"],
                "amount_refunded": 0,
                "captured": True,
                "created": now,
                "currency": session["currency"],
                "livemode": False,
                "metadata": dict(session["_intent_metadata"]),
                "paid": True,
                "payment_intent": intent_id,
                "payment_method_details": {"type": method},
                "refunded": False,
                "refunds": {"object": "list", "data": [], "has_more": False},
                "status": "succeeded",
            }
            self.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_received": session["amount_total"],
                "created": now,
                "currency": session["currency"],
                "latest_charge": charge_id,
                "livemode": False,
                "metadata": dict(session["_intent_metadata"]),
                "payment_method_types": [method],
                "status": "succeeded",
            }
            if delayed:
                self.charges[charge_id].update(status="pending", paid=False)
                self.intents[intent_id]["status"] = "processing"
            session.update(
                status="complete",
                payment_status="unpaid" if delayed else "paid",
                payment_intent=intent_id,
                _error=None,
            )
            public = self._public_session(session, [])
            self._emit("checkout.session.completed", public)
            return public

    def settle(self, session_id: str, *, succeeded: bool) -> dict[str, Any]:
        """A delayed payment is confirmed or fails: checkout.session.async_payment_succeeded
        or _failed."""
        with self._lock:
            session = self._session(session_id)
            intent = self.intents[session["payment_intent"]]
            charge = self.charges[intent["latest_charge"]]
            if succeeded:
                charge.update(status="succeeded", paid=True)
                intent["status"] = "succeeded"
                session["payment_status"] = "paid"
            else:
                charge.update(status="failed", paid=False)
                intent["status"] = "requires_payment_method"
            public = self._public_session(session, [])
            kind = "succeeded" if succeeded else "failed"
            self._emit(f"checkout.session.async_payment_{kind}", public)
            return public

    def decline(self, session_id: str, method: str) -> None:
        """The payment failed on the hosted page: it says so; the session stays open."""
        with self._lock:
            session = self._session(session_id)
            session["_error"] = (
                "Uw kaart werd geweigerd. / Your card was declined."
                if method == "card"
                else "De Bancontact-betaling werd niet bevestigd. / The Bancontact payment"
                " was not authorised."
            )

    def create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        charge: dict[str, Any] | None = None
        if params.get("payment_intent"):
            intent = self.intents.get(str(params["payment_intent"]))
            if intent is None:
                raise _StripeError(
                    404,
                    f"No such payment_intent: '{params['payment_intent']}'",
                    code="resource_missing",
                    param="payment_intent",
                )
            charge = self.charges[intent["latest_charge"]]
        elif params.get("charge"):
            charge = self.charges.get(str(params["charge"]))
            if charge is None:
                raise _StripeError(
                    404,
                    f"No such charge: '{params['charge']}'",
                    code="resource_missing",
                    param="charge",
                )
        else:
            raise _StripeError(
                400,
                "One of the following params should be provided for this"
                " request: payment_intent or charge.",
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        try:
            amount = int(params.get("amount", remaining))
        except ValueError:
            raise _StripeError(400, "Invalid integer.", param="amount") from None
        if amount < 1:
            raise _StripeError(400, "Invalid positive integer.", param="amount")
        if amount > remaining:
            raise _StripeError(
                400,
                f"Refund amount ({amount / 100:.2f}) is greater than unrefunded amount on"
                f" charge ({remaining / 100:.2f})",
                code="amount_too_large",
                param="amount",
            )
        refund_id = _new_id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(self.clock()),
            "currency": charge["currency"],
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        self._emit("charge.refunded", copy.deepcopy(charge))
        return copy.deepcopy(refund)

    # -- webhooks --------------------------------------------------------------------------

    def _emit(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(self.clock()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        if self.webhook_url:
            self._enqueue(event, 1, self.clock())
        return event

    def _enqueue(self, event: dict[str, Any], attempt: int, due: float) -> None:
        with self._wake:
            self._sequence += 1
            heapq.heappush(self._queue, _Pending(due, self._sequence, event, attempt))
            if self._thread is None or not self._thread.is_alive():
                self._stopped = False
                self._thread = threading.Thread(
                    target=self._deliver_loop, daemon=True, name="stripe-sandbox-webhooks"
                )
                self._thread.start()
            self._wake.notify()

    def signed(self, event: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, str]:
        """The body and Stripe-Signature header of an event, as the sandbox sends it."""
        body = json.dumps(event, indent=2).encode()
        return body, signatures.sign(body, self.webhook_secrets, timestamp)

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=30.0) as client:
            while True:
                with self._wake:
                    while not self._stopped and (
                        not self._queue or self._queue[0].due > time.time()
                    ):
                        wait = self._queue[0].due - time.time() if self._queue else None
                        self._wake.wait(timeout=wait)
                    if self._stopped:
                        return
                    pending = heapq.heappop(self._queue)
                self._deliver(client, pending)

    def _deliver(self, client: httpx.Client, pending: _Pending) -> None:
        url = self.webhook_url
        if not url:
            return
        body, header = self.signed(pending.event)
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(
                url,
                content=body,
                headers={
                    "content-type": "application/json; charset=utf-8",
                    "stripe-signature": header,
                    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            status = response.status_code
        except httpx.HTTPError as failure:
            error = type(failure).__name__
        self.deliveries.append(
            Delivery(
                pending.event["id"],
                pending.event["type"],
                pending.attempt,
                status,
                error,
                time.time(),
            )
        )
        if status is not None and 200 <= status < 300:
            return
        if pending.attempt < self.max_attempts:
            delay = self.retry_base_seconds * 2 ** (pending.attempt - 1)
            self._enqueue(pending.event, pending.attempt + 1, time.time() + delay)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """True once every event was delivered successfully (or given up on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                done = not self._queue and all(
                    any(
                        d.event_id == e["id"] and (d.status is not None and 200 <= d.status < 300)
                        for d in self.deliveries
                    )
                    for e in self.events
                )
            if done or not self.webhook_url:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()

    # -- HTTP ------------------------------------------------------------------------------

    def router(self, path: str = "/stripe") -> Router:
        sandbox = self

        def error_response(error: _StripeError) -> Response[dict[str, Any]]:
            return Response({"error": error.body}, status_code=error.status)

        async def api(
            request: Request[Any, Any, Any], action: Callable[[dict[str, Any]], dict[str, Any]]
        ) -> Response[dict[str, Any]]:
            try:
                sandbox._check_key(request.headers.get("authorization"))
                raw = (await request.body()).decode() if request.method == "POST" else ""
                query = request.url.query or ""
                params = decode_form(raw if request.method == "POST" else query)
                sandbox.requests.append((request.method, request.url.path))
                key = request.headers.get("idempotency-key") if request.method == "POST" else None
                fingerprint = hashlib.sha256(
                    f"{request.method} {request.url.path} {raw}".encode()
                ).hexdigest()

                def produce() -> tuple[int, dict[str, Any]]:
                    try:
                        return 200, action(params)
                    except _StripeError as error:
                        return error.status, {"error": error.body}

                status, body, replayed = sandbox._idempotent(key, fingerprint, produce)
            except _StripeError as error:
                return error_response(error)
            headers = {"request-id": "req_" + secrets.token_hex(7)}
            if key:
                headers["idempotency-key"] = key
            if replayed:
                headers["idempotent-replayed"] = "true"
            return Response(body, status_code=status, headers=headers)

        @post("/v1/checkout/sessions", status_code=200)
        async def create_session(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            return await api(request, sandbox.create_session)

        @get("/v1/checkout/sessions")
        async def list_sessions(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            def action(params: dict[str, Any]) -> dict[str, Any]:
                expand = [str(e).removeprefix("data.") for e in _as_list(params.get("expand"))]
                wanted = params.get("payment_intent")
                with sandbox._lock:
                    found = [
                        sandbox._public_session(s, expand)
                        for s in reversed(list(sandbox.sessions.values()))
                        if not wanted or s["payment_intent"] == wanted
                    ]
                return {
                    "object": "list",
                    "data": found[: int(params.get("limit", 10))],
                    "has_more": len(found) > int(params.get("limit", 10)),
                    "url": "/v1/checkout/sessions",
                }

            return await api(request, action)

        @get("/v1/checkout/sessions/{session_id:str}")
        async def retrieve_session(
            request: Request[Any, Any, Any], session_id: FromPath[str]
        ) -> Response[dict[str, Any]]:
            def action(params: dict[str, Any]) -> dict[str, Any]:
                with sandbox._lock:
                    session = sandbox._session(session_id)
                    return sandbox._public_session(
                        session, [str(e) for e in _as_list(params.get("expand"))]
                    )

            return await api(request, action)

        @post("/v1/checkout/sessions/{session_id:str}/expire", status_code=200)
        async def expire_session(
            request: Request[Any, Any, Any], session_id: FromPath[str]
        ) -> Response[dict[str, Any]]:
            return await api(request, lambda _params: sandbox.expire(session_id))

        @post("/v1/refunds", status_code=200)
        async def create_refund(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            def action(params: dict[str, Any]) -> dict[str, Any]:
                with sandbox._lock:
                    return sandbox.create_refund(params)

            return await api(request, action)

        @get("/v1/refunds")
        async def list_refunds(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            def action(params: dict[str, Any]) -> dict[str, Any]:
                wanted = params.get("payment_intent")
                limit = int(params.get("limit", 10))
                with sandbox._lock:
                    found = [
                        copy.deepcopy(r)
                        for r in reversed(list(sandbox.refunds.values()))
                        if not wanted or r["payment_intent"] == wanted
                    ]
                return {
                    "object": "list",
                    "data": found[:limit],
                    "has_more": len(found) > limit,
                    "url": "/v1/refunds",
                }

            return await api(request, action)

        @get("/v1/refunds/{refund_id:str}")
        async def retrieve_refund(
            request: Request[Any, Any, Any], refund_id: FromPath[str]
        ) -> Response[dict[str, Any]]:
            def action(_params: dict[str, Any]) -> dict[str, Any]:
                refund = sandbox.refunds.get(refund_id)
                if refund is None:
                    raise _StripeError(
                        404, f"No such refund: '{refund_id}'", code="resource_missing"
                    )
                return copy.deepcopy(refund)

            return await api(request, action)

        @get("/checkout/{session_id:str}", media_type="text/html", sync_to_thread=False)
        def checkout_page(session_id: FromPath[str]) -> Response[str]:
            with sandbox._lock:
                session = sandbox.sessions.get(session_id)
                if session is not None:
                    sandbox._expire_if_due(session)
                return _page(session)

        @post("/checkout/{session_id:str}", media_type="text/html", status_code=200)
        async def checkout_choice(
            request: Request[Any, Any, Any], session_id: FromPath[str]
        ) -> Response[str]:
            form = dict(parse_qsl((await request.body()).decode()))
            choice = form.get("keuze", "")
            with sandbox._lock:
                session = sandbox.sessions.get(session_id)
                if session is None or session["status"] != "open":
                    return _page(session)
                if choice in METHODS and choice in session["payment_method_types"]:
                    sandbox.pay(session_id, choice)
                    target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
                    return Response("", status_code=303, headers={"location": target})
                if choice.startswith("weigeren-"):
                    sandbox.decline(session_id, choice.removeprefix("weigeren-"))
                    return _page(session)
                if choice == "annuleren":
                    target = session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
                    return Response("", status_code=303, headers={"location": target})
                session["_error"] = "Kies hoe u betaalt. / Choose how to pay."
                return _page(session)

        return Router(
            path=path,
            route_handlers=[
                create_session,
                list_sessions,
                retrieve_session,
                expire_session,
                create_refund,
                list_refunds,
                retrieve_refund,
                checkout_page,
                checkout_choice,
            ],
            include_in_schema=False,
        )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a}fieldset{border:1px solid #595959;padding:1rem;margin:1rem 0}"
    "label{display:block;padding:.5rem 0}button{font-size:1rem;padding:.6rem 1.2rem;"
    "background:#1d4f91;color:#fff;border:0}.error{border-left:4px solid #b00020;"
    "padding:.5rem 1rem;background:#fdecee}.amount{font-size:1.6rem;font-weight:bold}"
)


def _page(session: dict[str, Any] | None) -> Response[str]:
    title = "Betalen — Stripe-zandbak"
    if session is None:
        body = "<h1>Onbekende betaalsessie</h1><p>Deze betaalsessie bestaat niet.</p>"
        return Response(_html(title, body), status_code=404, media_type="text/html")
    if session["status"] != "open":
        state = "betaald" if session["status"] == "complete" else "verlopen"
        body = (
            f"<h1>Deze betaalsessie is {state}</h1>"
            f'<p><a href="{escape(session["cancel_url"])}">Terug naar de website</a></p>'
        )
        return Response(_html(title, body), media_type="text/html")
    amount = session["amount_total"]
    error = (
        f'<div class="error" role="alert"><p>{escape(session["_error"])}</p></div>'
        if session["_error"]
        else ""
    )
    options = []
    for method in session["payment_method_types"]:
        label = "Kaart (Visa, Mastercard)" if method == "card" else "Bancontact"
        options.append(
            f'<label><input type="radio" name="keuze" value="{method}" required> {label}:'
            " betaling lukt</label>"
        )
        options.append(
            f'<label><input type="radio" name="keuze" value="weigeren-{method}"> {label}:'
            " betaling mislukt</label>"
        )
    options.append(
        '<label><input type="radio" name="keuze" value="annuleren"> Annuleren en teruggaan</label>'
    )
    body = (
        "<h1>Betalen</h1>"
        "<p>Dit is de betaalpagina van de Stripe-zandbak: er wordt geen echt geld betaald."
        ' <span lang="en">Sandbox checkout: no real money moves.</span></p>'
        f"<p>{escape(session['_description'])}</p>"
        f'<p class="amount">€ {amount // 100},{amount % 100:02d}</p>'
        f"{error}"
        f'<form method="post" action="{escape(session["url"])}">'
        "<fieldset><legend>Hoe wilt u betalen?</legend>"
        + "".join(options)
        + '</fieldset><button type="submit">Bevestigen</button></form>'
    )
    return Response(_html(title, body), media_type="text/html")


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def create_stripe_sandbox(public_url: str | None = None) -> StripeSandbox:
    """The sandbox configured from the settings: the secret key it accepts, and the webhook
    endpoint (ZEGEL_STRIPE_SANDBOX_WEBHOOK_URL, default the portal's /webhooks/stripe) with
    the secrets of ZEGEL_STRIPE_WEBHOOK_SECRETS. Raises ConfigError in production."""
    settings = get_settings()
    if settings.is_production:
        raise ConfigError("The Stripe sandbox is never served when ZEGEL_ENV=production")
    webhook_url = settings.stripe_sandbox_webhook_url or (
        settings.portal_base_url.rstrip("/") + "/webhooks/stripe"
    )
    return StripeSandbox(
        api_key=settings.stripe_secret_key.get_secret_value(),
        webhook_url=webhook_url,
        webhook_secrets=[s.get_secret_value() for s in settings.stripe_webhook_secrets[:1]],
        public_url=public_url or settings.stripe_api_base,
    )
