"""Bezwaren: the queue per competent service, one dispute with its actions, and the report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.orm import Session

from backoffice.charts import BarChart, bar_chart
from shared.errors import FieldErrors, IllegalTransition, InvalidInput
from shared.i18n import format_date
from shared.i18n import gettext as _
from shared.models.disputes import DisputeOutcome, DisputeStatus
from shared.services import dispute_office
from shared.services.access import StaffContext
from shared.timeutil import BRUSSELS
from shared.web import NO_STORE
from shared.web.params import (
    DbSession,
    Form,
    FromPath,
    FromQuery,
    MultipartForm,
    Staff,
    form_value,
)
from shared.web.sessions import role_guard

HANDLERS = [role_guard(*dispute_office.HANDLER_ROLES)]
REPORTERS = [role_guard(*dispute_office.REPORT_ROLES)]
FILTER_KEYS = ("status", "dienst", "mij", "overtijd", "laattijdig", "pagina")


def _link(items: dict[str, str], **extra: str) -> str:
    merged = {**items, **extra}
    return "/bezwaren" + (f"?{urlencode(merged)}" if merged else "")


@get("/bezwaren", name="disputes", guards=HANDLERS, sync_to_thread=True, cache_control=NO_STORE)
def dispute_queue(request: Request[Any, Any, Any], db_session: DbSession, staff: Staff) -> Template:
    form = {key: request.query_params.get(key) for key in FILTER_KEYS}
    parsed = dispute_office.parse_filter(form)
    wanted = parsed.filter
    page = dispute_office.queue(db_session, staff, wanted)
    items = wanted.query_items()
    return Template(
        template_name="disputes.html",
        context={
            "staff": staff,
            "form": form,
            "wanted": wanted,
            "errors": parsed.errors,
            "page": page,
            "services": dispute_office.services(db_session, staff),
            "service_label": dispute_office.service_label,
            "status_label": dispute_office.status_label,
            "outcome_label": dispute_office.outcome_label,
            "channel_label": dispute_office.channel_label,
            "status_options": [(s.value, dispute_office.status_label(s)) for s in DisputeStatus],
            "filtered": bool(items),
            "service_link": lambda key: _link({**items, "dienst": key} if key else {}),
            "next_link": _link(items, pagina=str(page.page + 1))
            if page.page < page.pages
            else None,
            "previous_link": _link(items, pagina=str(page.page - 1)) if page.page > 1 else None,
        },
    )


def dispute_page(
    session: Session,
    staff: StaffContext,
    dispute_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    view = dispute_office.dispute_view(session, staff, dispute_id)
    return Template(
        template_name="dispute.html",
        context={
            "staff": staff,
            "view": view,
            "dispute": view.dispute,
            "errors": errors or {},
            "message": message,
            "values": values or {},
            "service_label": dispute_office.service_label,
            "status_label": dispute_office.status_label,
            "outcome_label": dispute_office.outcome_label,
            "channel_label": dispute_office.channel_label,
            "outcome_options": [(o.value, dispute_office.outcome_label(o)) for o in DisputeOutcome],
            "statuses": DisputeStatus,
            "handler_options": [(str(i), name) for i, name in view.handlers],
        },
        status_code=status_code,
    )


def _done(dispute_id: uuid.UUID, what: str) -> Redirect:
    return Redirect(f"/bezwaren/{dispute_id}?gedaan={what}", status_code=HTTP_303_SEE_OTHER)


DONE_MESSAGES = {
    "toegewezen": "Het bezwaar is toegewezen.",
    "behandeling": "Het bezwaar is in behandeling.",
    "hoorzitting": "De hoorzitting is gepland.",
    "ingetrokken": "Het bezwaar is als ingetrokken geregistreerd.",
    "notitie": "De notitie is bewaard.",
    "beslist": "De beslissing is geregistreerd. De antwoordbrief staat klaar om te screenen.",
}


@get(
    "/bezwaren/{dispute_id:uuid}",
    name="dispute",
    guards=HANDLERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_detail(
    db_session: DbSession,
    staff: Staff,
    dispute_id: FromPath[uuid.UUID],
    gedaan: FromQuery[str | None] = None,
) -> Template:
    message = _(DONE_MESSAGES[gedaan]) if gedaan in DONE_MESSAGES else None
    return dispute_page(db_session, staff, dispute_id, message=message)


def _refused(
    session: Session,
    staff: StaffContext,
    dispute_id: uuid.UUID,
    error: InvalidInput | IllegalTransition,
    values: dict[str, str] | None = None,
) -> Template:
    """Show the dispute again with what went wrong; nothing was changed."""
    session.rollback()
    if isinstance(error, FieldErrors):
        errors = dict(error.errors)
        status = 422
    else:
        errors = {"actie": error.message}
        status = 409 if isinstance(error, IllegalTransition) else 422
    return dispute_page(
        session, staff, dispute_id, errors=errors, values=values, status_code=status
    )


@post(
    "/bezwaren/{dispute_id:uuid}/toewijzen",
    name="dispute_assign",
    guards=HANDLERS,
    sync_to_thread=True,
)
def dispute_assign(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    raw = form_value(data, "behandelaar")
    try:
        assignee = uuid.UUID(raw) if raw else None
    except ValueError:
        assignee = uuid.UUID(int=0)  # not a handler: refused below with a clear message
    try:
        dispute_office.assign(db_session, staff, dispute_id, assignee)
    except (InvalidInput, IllegalTransition) as error:
        return _refused(db_session, staff, dispute_id, error)
    return _done(dispute_id, "toegewezen")


@post(
    "/bezwaren/{dispute_id:uuid}/status",
    name="dispute_status",
    guards=HANDLERS,
    sync_to_thread=True,
)
def dispute_status(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    """Move the dispute on: in behandeling, hoorzitting gepland (with its moment), ingetrokken.
    Deciding has its own form (it makes the answer)."""
    target = form_value(data, "naar")
    values = {"hoorzitting": form_value(data, "hoorzitting"), "reden": form_value(data, "reden")}
    try:
        if target == DisputeStatus.IN_PROGRESS.value:
            dispute_office.start_handling(db_session, staff, dispute_id)
            done = "behandeling"
        elif target == DisputeStatus.HEARING_PLANNED.value:
            dispute_office.plan_hearing(
                db_session, staff, dispute_id, _moment(values["hoorzitting"])
            )
            done = "hoorzitting"
        elif target == DisputeStatus.WITHDRAWN.value:
            dispute_office.withdraw(db_session, staff, dispute_id, values["reden"])
            done = "ingetrokken"
        else:
            raise InvalidInput(_("Kies een geldige volgende stap voor dit bezwaar."))
    except (InvalidInput, IllegalTransition) as error:
        return _refused(db_session, staff, dispute_id, error, values)
    return _done(dispute_id, done)


def _moment(raw: str) -> datetime | None:
    """A datetime-local value (2026-12-01T10:30), in Brussels time."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=BRUSSELS)
    except ValueError:
        raise FieldErrors(
            {
                "hoorzitting": _(
                    "Geef de datum en het uur van de hoorzitting, bv. 1 december 2026 om 10.30 uur."
                )
            }
        ) from None


@post(
    "/bezwaren/{dispute_id:uuid}/notities",
    name="dispute_note",
    guards=HANDLERS,
    sync_to_thread=True,
)
def dispute_note(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    text = form_value(data, "notitie")
    try:
        dispute_office.add_note(db_session, staff, dispute_id, text)
    except (InvalidInput, IllegalTransition) as error:
        return _refused(db_session, staff, dispute_id, error, {"notitie": text})
    return _done(dispute_id, "notitie")


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.strip() if isinstance(value, str) else ""


@post(
    "/bezwaren/{dispute_id:uuid}/beslissen",
    name="dispute_decide",
    guards=HANDLERS,
    sync_to_thread=True,
)
def dispute_decide(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID], data: MultipartForm
) -> Redirect | Template:
    upload = data.get("brief")
    content: bytes | None = None
    name = ""
    if isinstance(upload, UploadFile) and upload.filename:
        content = upload.file.read()
        name = upload.filename
    values = {
        "uitkomst": _text(data, "uitkomst"),
        "motivering": _text(data, "motivering"),
        "bedrag": _text(data, "bedrag"),
    }
    try:
        decided = dispute_office.decide(
            db_session,
            staff,
            dispute_id,
            dispute_office.DecisionInput(
                outcome=values["uitkomst"],
                motivation=values["motivering"],
                reduced_amount=values["bedrag"],
                upload_name=name,
                upload=content or None,
            ),
        )
    except (InvalidInput, IllegalTransition) as error:
        return _refused(db_session, staff, dispute_id, error, values)
    return _done(decided.dispute.id, "beslist")


@get(
    "/bezwaren/{dispute_id:uuid}/bijlagen/{attachment_id:uuid}",
    name="dispute_attachment",
    guards=[role_guard(*dispute_office.HANDLER_ROLES, *dispute_office.FRONT_OFFICE_ROLES)],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_attachment(
    db_session: DbSession,
    staff: Staff,
    dispute_id: FromPath[uuid.UUID],
    attachment_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    content, content_type, name = dispute_office.attachment(
        db_session, staff, dispute_id, attachment_id
    )
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "bijlage"
    return Response(
        content,
        media_type=content_type,
        headers={"content-disposition": f'inline; filename="{safe}"'},
    )


# -- report ------------------------------------------------------------------------------------


def month_chart(months: list[dispute_office.MonthCount]) -> BarChart:
    """Received behind, decided in front, per month."""
    return bar_chart(
        [
            (format_date(m.month, "MMM"), str(m.month.year) if i == 0 or m.month.month == 1 else "")
            for i, m in enumerate(months)
        ],
        [float(m.received) if m.received else None for m in months],
        [float(m.decided) if m.decided else None for m in months],
        axis_label=_("bezwaren"),
    )


REPORT_PERIODS = (6, 12, 24)


@get(
    "/bezwaren/rapport",
    name="dispute_report",
    guards=REPORTERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_report(db_session: DbSession, staff: Staff, maanden: FromQuery[int] = 12) -> Template:
    if maanden not in REPORT_PERIODS:
        raise InvalidInput(_("Kies een periode van 6, 12 of 24 maanden."))
    found = dispute_office.report(db_session, staff, months=maanden)
    return Template(
        template_name="dispute_report.html",
        context={
            "staff": staff,
            "report": found,
            "chart": month_chart(found.months),
            "periods": REPORT_PERIODS,
            "period": maanden,
            "outcomes": list(DisputeOutcome),
            "service_label": dispute_office.service_label,
            "outcome_label": dispute_office.outcome_label,
            "days": lambda value: "—" if value is None else f"{value:.1f}".replace(".", ","),
        },
    )
