"""The paper letter's access code: a short summary and how to pay, without logging in."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from shared.errors import NotFound, TooManyAttempts
from shared.services import access_codes, payment_view, portal
from shared.web import NO_STORE
from shared.web.params import DbSession, Form


@get("/code", name="code_form", cache_control=NO_STORE)
async def code_form() -> Template:
    return Template(template_name="code.html", context={"code": "", "error": None})


@post("/code", name="code_open", sync_to_thread=True, cache_control=NO_STORE)
def code_open(request: Request[Any, Any, Any], db_session: DbSession, data: Form) -> Template:
    typed = data.get("code", "")
    typed = typed if isinstance(typed, str) else ""
    client = request.client.host if request.client else "unknown"
    try:
        summary = access_codes.open_with_code(client, typed)
    except (NotFound, TooManyAttempts) as error:
        return Template(
            template_name="code.html",
            context={"code": typed, "error": error.message},
            status_code=error.status_code,
        )
    panel = payment_view.panel(db_session, summary.payment) if summary.payment else None
    # A letter without payment request: its amount stands unless a dispute took it away.
    no_longer_due = (
        summary.payment is None
        and bool(summary.document.amount_due_cents)
        and portal.founded_dispute(db_session, summary.document.id)
    )
    return Template(
        template_name="code_summary.html",
        context={
            "summary": summary,
            "payment_panel": panel,
            "pay_code": typed,
            "no_longer_due": no_longer_due,
        },
    )
