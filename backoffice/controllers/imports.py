"""Bulk intake from a ZIP file (manifest + PDFs), and its progress while a worker registers it.

The progress page polls its own partial with htmx every second while the import runs (and
stops when it is done); without JavaScript it has a link to refresh.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backoffice.controllers.intake import _upload
from shared.config import get_settings
from shared.models.intake import IMPORT_ITEM_LABELS, IMPORT_STATES
from shared.models.people import StaffRole
from shared.services import imports
from shared.web import NO_STORE
from shared.web.params import DbSession, FromPath, MultipartForm, Staff
from shared.web.sessions import role_guard

SECRETARIAT = [role_guard(StaffRole.SECRETARIAAT)]


def _import_page(db_session: DbSession, staff: Staff, error: str | None, status: int) -> Template:
    settings = get_settings()
    return Template(
        template_name="import.html",
        context={
            "staff": staff,
            "error": error,
            "recent": imports.recent_imports(db_session, staff),
            "status_label": IMPORT_STATES.label,
            "decision_columns": imports.DECISION_COLUMNS,
            "letter_columns": imports.LETTER_COLUMNS,
            "max_files": settings.import_max_files,
            "max_megabytes": settings.upload_max_bytes // (1024 * 1024),
        },
        status_code=status,
    )


@get("/import", name="import", guards=SECRETARIAT, sync_to_thread=True, cache_control=NO_STORE)
def import_form(db_session: DbSession, staff: Staff) -> Template:
    return _import_page(db_session, staff, None, 200)


@get("/import/voorbeeld.csv", name="import_example", guards=SECRETARIAT)
async def import_example() -> Response[str]:
    return Response(
        imports.EXAMPLE_CSV,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="manifest.csv"'},
    )


@post(
    "/import",
    name="import_start",
    guards=SECRETARIAT,
    sync_to_thread=True,
    request_max_body_size=get_settings().upload_max_bytes,
    cache_control=NO_STORE,
)
def import_start(db_session: DbSession, staff: Staff, data: MultipartForm) -> Template | Redirect:
    upload = _upload(data.get("bestand"))
    try:
        batch = imports.start_import(
            db_session,
            staff,
            file_name=upload[0] if upload else "",
            content=upload[1] if upload else b"",
        )
    except imports.ImportRefused as error:
        db_session.rollback()
        return _import_page(db_session, staff, error.errors["bestand"], 422)
    return Redirect(f"/import/{batch.id}", status_code=HTTP_303_SEE_OTHER)


def _progress_context(
    db_session: DbSession, staff: Staff, batch_id: uuid.UUID
) -> dict[str, object]:
    return {
        "staff": staff,
        "progress": imports.import_progress(db_session, staff, batch_id),
        "status_label": IMPORT_STATES.label,
        "item_label": IMPORT_ITEM_LABELS,
    }


@get(
    "/import/{batch_id:uuid}",
    name="import_batch",
    guards=SECRETARIAT,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def import_batch(db_session: DbSession, staff: Staff, batch_id: FromPath[uuid.UUID]) -> Template:
    return Template(
        template_name="import_batch.html", context=_progress_context(db_session, staff, batch_id)
    )


@get(
    "/import/{batch_id:uuid}/voortgang",
    name="import_progress",
    guards=SECRETARIAT,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def import_progress(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    staff: Staff,
    batch_id: FromPath[uuid.UUID],
) -> Template:
    """The progress partial (htmx polls it); a full page for a browser without JavaScript."""
    context = _progress_context(db_session, staff, batch_id)
    if request.headers.get("hx-request") == "true":
        return Template(template_name="_import_progress.html", context=context)
    return Template(template_name="import_batch.html", context=context)
