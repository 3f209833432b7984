"""Paying: "Betalen" on the document page (and on the paper code's summary, without login),
the return from Stripe Checkout, and Stripe's webhook."""

from __future__ import annotations

import functools
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.config import get_settings
from shared.errors import DomainError, NotFound, TooManyAttempts
from shared.integrations.stripe.types import StripeFailure
from shared.services import access, access_codes, online_payments, payments
from shared.services.audit import Actor
from shared.web import NO_STORE
from shared.web.params import Citizen, DbSession, Form, FromPath, FromQuery, form_value
from shared.web.sessions import citizen_guard, citizen_session

CITIZEN = {"citizen": Provide(citizen_session)}
CITIZEN_ACTOR = Actor(type="citizen", id=None, label="burger")

OUTCOMES = {
    "paid": "betaald",
    "pending": "verwerking",
    "open": "open",
    "expired": "verlopen",
    "failed": "mislukt",
    "amount_mismatch": "controle",
    "refused": "controle",
    "unknown": "onbekend",
}
"""Fulfilment outcome → the `betaling` query parameter the document page explains."""


def _portal() -> str:
    return get_settings().portal_base_url.rstrip("/")


def _digest(citizen: Citizen) -> str:
    assert citizen.citizen_ssin_digest is not None
    return citizen.citizen_ssin_digest


def _back(token: str, notice: str) -> Redirect:
    return Redirect(f"/d/{token}?betaling={notice}#betalen", status_code=HTTP_303_SEE_OTHER)


def _refusal_notice(error: DomainError) -> str:
    if isinstance(error, online_payments.PaymentProviderUnavailable):
        return "storing"
    message = error.message
    if "opgeschort" in message:
        return "opgeschort"
    if "volledig betaald" in message:
        return "al-betaald"
    return "niet-nodig"


@post(
    "/d/{token:str}/betalen",
    name="pay",
    guards=[citizen_guard("pay")],
    dependencies=CITIZEN,
    sync_to_thread=True,
)
def pay(db_session: DbSession, citizen: Citizen, token: FromPath[str]) -> Redirect:
    """Start Stripe Checkout for what is still due; back to the document when it cannot."""
    document = access.document_for_citizen(db_session, _digest(citizen), token)
    try:
        url = online_payments.start_checkout(
            db_session,
            document=document,
            success_url=f"{_portal()}/d/{token}/betaald?sessie={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{_portal()}/d/{token}?betaling=geannuleerd#betalen",
            actor=CITIZEN_ACTOR,
        )
    except (online_payments.PaymentProviderUnavailable, payments.NotPayable) as e:
        return _back(token, _refusal_notice(e))
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


@get(
    "/d/{token:str}/betaald",
    name="paid_return",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def paid_return(
    db_session: DbSession, citizen: Citizen, token: FromPath[str], sessie: FromQuery[str] = ""
) -> Redirect:
    """Back from Stripe: record the payment now (the webhook may come later, or earlier —
    the fulfilment counts it once either way) and show the document."""
    document = access.document_for_citizen(db_session, _digest(citizen), token)
    notice = _fulfil(db_session, sessie, document.id)
    return _back(token, notice)


def _fulfil(db_session: Any, checkout_session_id: str, document_id: Any) -> str:
    if not checkout_session_id.startswith("cs_"):
        return "onbekend"
    try:
        result = online_payments.fulfil_checkout(db_session, checkout_session_id)
    except StripeFailure:
        return "verwerking"  # the webhook will tell
    if result.payment_request is None or result.payment_request.document_id != document_id:
        return "onbekend"
    return OUTCOMES.get(result.outcome, "onbekend")


# -- without login: the paper letter's code ---------------------------------------------------


@post("/code/betalen", name="code_pay", sync_to_thread=True, cache_control=NO_STORE)
def code_pay(request: Request[Any, Any, Any], db_session: DbSession, data: Form) -> Response[Any]:
    """Betalen from the code's summary: the code is checked again (and counted like any try)."""
    typed = form_value(data, "code")
    client = request.client.host if request.client else "unknown"
    try:
        summary = access_codes.open_with_code(client, typed)
    except (NotFound, TooManyAttempts) as error:
        return Template(
            template_name="code.html",
            context={"code": typed, "error": error.message},
            status_code=error.status_code,
        )
    try:
        url = online_payments.start_checkout(
            db_session,
            document=summary.document,
            success_url=f"{_portal()}/betaling/{{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{_portal()}/code",
            actor=CITIZEN_ACTOR,
        )
    except (online_payments.PaymentProviderUnavailable, payments.NotPayable) as e:
        return Template(
            template_name="payment_result.html",
            context={"notice": _refusal_notice(e), "message": e.message},
            status_code=e.status_code,
        )
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


@get(
    "/betaling/{session_id:str}",
    name="code_paid_return",
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def code_paid_return(db_session: DbSession, session_id: FromPath[str]) -> Template:
    """Back from Stripe without login: the outcome only (the session id is Stripe's random
    id, known to whoever paid)."""
    notice = "onbekend"
    if session_id.startswith("cs_"):
        try:
            result = online_payments.fulfil_checkout(db_session, session_id)
            notice = OUTCOMES.get(result.outcome, "onbekend")
        except StripeFailure:
            notice = "verwerking"
    return Template(
        template_name="payment_result.html",
        context={"notice": notice, "message": None},
        status_code=404 if notice == "onbekend" else 200,
    )


# -- Stripe's webhook -----------------------------------------------------------------------


@post("/webhooks/stripe", name="stripe_webhook", status_code=200)
async def stripe_webhook(
    request: Request[Any, Any, Any], db_session: DbSession
) -> Response[dict[str, Any]]:
    """Signed by Stripe (no cookie, no CSRF token): the signature over the raw body is the
    authentication. 400 when it does not hold (nothing changed); 503 when Stripe's API cannot
    be asked (Stripe delivers again later); 200 otherwise, also for a replay."""
    payload = await request.body()
    handle = functools.partial(
        online_payments.handle_webhook,
        db_session,
        payload,
        request.headers.get("stripe-signature"),
    )
    try:
        outcome = await anyio.to_thread.run_sync(handle)
    except online_payments.WebhookRefused as refused:
        return Response({"error": refused.message}, status_code=400)
    except StripeFailure:
        return Response({"error": "Stripe API unavailable, retry later"}, status_code=503)
    return Response({"received": True, "outcome": outcome}, status_code=200)
