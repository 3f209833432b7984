"""Onthaal (front office): find a sent document by a number on the letter, its QR code or the
recipient's name; then register a paper dispute against it, with the scan, and hand over or
e-mail the receipt."""

from __future__ import annotations

import uuid

from litestar import get
from litestar.response import Template

from shared.errors import InvalidInput
from shared.services import document_search
from shared.web import NO_STORE
from shared.web.params import DbSession, FromPath, FromQuery, Staff
from shared.web.sessions import role_guard

FRONT_OFFICE = [role_guard(*document_search.SEARCH_ROLES)]


@get(
    "/onthaal",
    name="front_office",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def front_office_search(
    db_session: DbSession, staff: Staff, zoek: FromQuery[str | None] = None
) -> Template:
    """The search field has the focus: a barcode scanner types the letter's link and Enter."""
    result = None
    error = None
    if zoek is not None:
        try:
            result = document_search.search(db_session, staff, zoek)
        except InvalidInput as problem:
            error = problem.message
    return Template(
        template_name="front_office.html",
        context={"staff": staff, "query": zoek or "", "result": result, "error": error},
        status_code=422 if error else 200,
    )


@get(
    "/onthaal/stukken/{document_id:uuid}",
    name="front_office_document",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def front_office_document(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID]
) -> Template:
    document = document_search.sent_document(db_session, staff, document_id)
    return Template(
        template_name="front_office_document.html",
        context={"staff": staff, "document": document},
    )
