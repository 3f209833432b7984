"""The register of outgoing mail (/register) and the consultation log (/register/raadplegingen).

The register is for the secretariat and case handlers; the log of national-register look-ups
is for the data protection officer, who has no role of their own in Zegel yet: the beheerder.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.response import Stream, Template

from shared.models.dispatch import Channel, DispatchStatus
from shared.services import register
from shared.web import NO_STORE
from shared.web.params import DbSession, FromQuery, Staff
from shared.web.sessions import role_guard

REGISTER_GUARD = [role_guard(*register.REGISTER_ROLES)]
CONSULTATION_GUARD = [role_guard(*register.CONSULTATION_ROLES)]
CSV_MEDIA_TYPE = "text/csv"
"""Litestar adds `; charset=utf-8`."""


def _query(items: dict[str, str], **extra: str) -> str:
    """`?a=1&b=2` for links that keep the filter (empty string when there is nothing)."""
    merged = {**items, **extra}
    return f"?{urlencode(merged)}" if merged else ""


REGISTER_FILTER = ("van", "tot", "kanaal", "status", "soort", "zoek")
"""The register's filter fields, the same for the page and both exports."""


def _filter_form(request: Request[Any, Any, Any]) -> dict[str, str | None]:
    return {key: request.query_params.get(key) for key in REGISTER_FILTER}


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


@get(
    "/register",
    name="register",
    guards=REGISTER_GUARD,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def register_page(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    staff: Staff,
    na: FromQuery[str | None] = None,
    voor: FromQuery[str | None] = None,
) -> Template:
    parsed = register.parse_filter(_filter_form(request))
    wanted = parsed.filter
    page = register.register_page(db_session, staff, wanted, after=na, before=voor)
    items = wanted.query_items()
    return Template(
        template_name="register.html",
        context={
            "staff": staff,
            "form": _filter_form(request),
            "errors": parsed.errors,
            "page": page,
            "overview": register.overview(db_session, staff, wanted),
            "channels": list(Channel),
            "channel_name": register.channel_name,
            "status_name": register.status_name,
            "status_tone": register.STATUS_TONES,
            "document_type_name": register.document_type_name,
            "channel_options": [(c.value, register.channel_name(c)) for c in Channel],
            "status_options": [(s.value, register.status_name(s)) for s in DispatchStatus],
            "type_options": [
                (key, register.document_type_name(key)) for key in register.DOCUMENT_TYPE_NAMES
            ],
            "filtered": bool(items),
            "csv_link": "/register/export.csv" + _query(items),
            "pdf_link": "/register/export.pdf" + _query(items),
            "next_link": _query(items, na=page.next_cursor) if page.next_cursor else None,
            "previous_link": (
                _query(items, voor=page.previous_cursor) if page.previous_cursor else None
            ),
            "pdf_max_rows": register.PDF_MAX_ROWS,
        },
    )


@get(
    "/register/export.csv",
    name="register_csv",
    guards=REGISTER_GUARD,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def register_csv(request: Request[Any, Any, Any], staff: Staff) -> Stream:
    """The whole filtered register, streamed in batches (memory does not grow with rows)."""
    parsed = register.parse_filter(_filter_form(request))
    return Stream(
        register.export_csv(staff, parsed.filter),
        media_type=CSV_MEDIA_TYPE,
        headers=_attachment(register.export_file_name("register-uitgaande-post", "csv")),
    )


@get(
    "/register/export.pdf",
    name="register_pdf",
    guards=REGISTER_GUARD,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def register_pdf(
    request: Request[Any, Any, Any], db_session: DbSession, staff: Staff
) -> Response[bytes]:
    """The filtered register as a PDF list, at most `register.PDF_MAX_ROWS` rows."""
    parsed = register.parse_filter(_filter_form(request))
    return Response(
        register.export_pdf(db_session, staff, parsed.filter),
        media_type="application/pdf",
        headers=_attachment(register.export_file_name("register-uitgaande-post", "pdf")),
    )


@get(
    "/register/raadplegingen",
    name="register_consultations",
    guards=CONSULTATION_GUARD,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def consultations_page(
    db_session: DbSession,
    staff: Staff,
    van: FromQuery[str | None] = None,
    tot: FromQuery[str | None] = None,
    medewerker: FromQuery[str | None] = None,
    doel: FromQuery[str | None] = None,
    na: FromQuery[str | None] = None,
    voor: FromQuery[str | None] = None,
) -> Template:
    parsed = register.parse_consultation_filter(
        {"van": van, "tot": tot, "medewerker": medewerker, "doel": doel}
    )
    wanted = parsed.filter
    page = register.consultation_log(db_session, staff, wanted, after=na, before=voor)
    items = wanted.query_items()
    return Template(
        template_name="register_consultations.html",
        context={
            "staff": staff,
            "form": {"van": van, "tot": tot, "medewerker": medewerker, "doel": doel},
            "errors": parsed.errors,
            "page": page,
            "staff_options": [
                (str(user_id), label)
                for user_id, label in register.consulting_staff(db_session, staff)
            ],
            "masked_subject": register.masked_subject,
            "filtered": bool(items),
            "csv_link": "/register/raadplegingen/export.csv" + _query(items),
            "next_link": _query(items, na=page.next_cursor) if page.next_cursor else None,
            "previous_link": (
                _query(items, voor=page.previous_cursor) if page.previous_cursor else None
            ),
        },
    )


@get(
    "/register/raadplegingen/export.csv",
    name="register_consultations_csv",
    guards=CONSULTATION_GUARD,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def consultations_csv(
    staff: Staff,
    van: FromQuery[str | None] = None,
    tot: FromQuery[str | None] = None,
    medewerker: FromQuery[str | None] = None,
    doel: FromQuery[str | None] = None,
) -> Stream:
    """The filtered log, national register numbers masked, streamed in batches."""
    parsed = register.parse_consultation_filter(
        {"van": van, "tot": tot, "medewerker": medewerker, "doel": doel}
    )
    return Stream(
        register.export_consultations(staff, parsed.filter),
        media_type=CSV_MEDIA_TYPE,
        headers=_attachment(register.export_file_name("raadplegingen-rijksregister", "csv")),
    )
