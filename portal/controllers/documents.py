"""The citizen's documents: the list, one document, and its PDF."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.services import experience as experience_service
from shared.services import payment_view, portal, portal_disputes
from shared.web import NO_STORE
from shared.web.params import Citizen, DbSession, Form, FromPath, FromQuery, form_value
from shared.web.sessions import citizen_guard, citizen_in_handler, citizen_session

CITIZEN = {"citizen": Provide(citizen_session)}


def _digest(citizen: Citizen) -> str:
    assert citizen.citizen_ssin_digest is not None  # citizen_guard lets only citizens in
    return citizen.citizen_ssin_digest


@get(
    "/mijn-documenten",
    name="my_documents",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def my_documents(db_session: DbSession, citizen: Citizen) -> Template:
    return Template(
        template_name="my_documents.html",
        context={
            "documents": portal.my_documents(db_session, _digest(citizen)),
            "citizen_name": citizen.display_name,
        },
    )


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


@get("/d/{token:str}", name="document", sync_to_thread=True, cache_control=NO_STORE)
def document(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    token: FromPath[str],
    bedankt: FromQuery[bool] = False,
    betaling: FromQuery[str] = "",
) -> Template:
    """The document page: the busiest of the portal, so the login check (the same as
    `citizen_guard("view")`) runs here, in this handler's thread and transaction."""
    citizen = citizen_in_handler(request, db_session, "view")
    view = portal.citizen_document(db_session, _digest(citizen), token, client=_client(request))
    dispute_panel = portal_disputes.panel(db_session, view.document)
    payment_panel = (
        payment_view.panel(
            db_session, view.payment, outcome=view.dispute_outcome, totals=view.payment_balance
        )
        if view.payment
        else None
    )
    # The page only reads (and may touch the login session): end the transaction here, in
    # this worker thread, so that answering needs no second thread to commit it.
    db_session.commit()
    return Template(
        template_name="document.html",
        context={
            "view": view,
            "dispute_panel": dispute_panel,
            "citizen_name": citizen.display_name,
            "thanked": bedankt,
            # Paying (portal/templates/_payment.html); `betaling` is what came back from it.
            "payment_panel": payment_panel,
            "payment_notice": betaling,
        },
    )


@get(
    "/d/{token:str}/pdf",
    name="document_pdf",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document_pdf(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    citizen: Citizen,
    token: FromPath[str],
    download: FromQuery[bool] = False,
) -> Response[bytes]:
    """The signed PDF: shown in the browser, or saved with `?download=true`."""
    content, name = portal.document_pdf(
        db_session, _digest(citizen), token, client=_client(request)
    )
    disposition = "attachment" if download else "inline"
    return Response(
        content,
        media_type="application/pdf",
        headers={"content-disposition": f'{disposition}; filename="{_safe(name)}"'},
    )


def _safe(name: str) -> str:
    """A file name that cannot break out of the header's quotes."""
    cleaned = "".join(c for c in name if c.isalnum() or c in "._- ")
    return cleaned.strip() or "document.pdf"


@post(
    "/ervaring",
    name="experience",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
)
def experience(
    request: Request[Any, Any, Any], db_session: DbSession, citizen: Citizen, data: Form
) -> Response[Any]:
    """An anonymous rating from the document page; the document only tells which organisation
    it is about (and that it is really this citizen's)."""
    token = form_value(data, "document")
    organisation_id = portal.citizen_document(
        db_session, _digest(citizen), token, client=_client(request)
    ).document.organisation_id
    experience_service.rate(
        db_session,
        organisation_id,
        form_value(data, "fase"),
        form_value(data, "score"),
        form_value(data, "opmerking"),
    )
    if request.headers.get("hx-request") == "true":
        return Template(template_name="_experience.html", context={"thanked": True})
    return Redirect(f"/d/{token}?bedankt=1#ervaring", status_code=HTTP_303_SEE_OTHER)
