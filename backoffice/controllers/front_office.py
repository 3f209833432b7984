"""Onthaal (front office): find a sent document by a number on the letter, its QR code or the
recipient's name; then register a paper dispute against it, with the scan, and print or
e-mail the receipt."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.orm import Session

from shared.errors import FieldErrors, InvalidInput
from shared.models.disputes import DisputeChannel
from shared.services import dispute_office, disputes, document_search
from shared.services.access import StaffContext
from shared.services.attachments import FIELD, Upload
from shared.timeutil import today
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, MultipartForm, Staff, form_value
from shared.web.sessions import role_guard

FRONT_OFFICE = [role_guard(*dispute_office.FRONT_OFFICE_ROLES)]


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


def document_page(
    session: Session,
    staff: StaffContext,
    document_id: uuid.UUID,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    document = document_search.sent_document(session, staff, document_id)
    defaults = {
        "kanaal": DisputeChannel.DESK.value,
        "ontvangen_op": today().isoformat(),
        "sleutel": disputes.new_submission_key(),
    }
    return Template(
        template_name="front_office_document.html",
        context={
            "staff": staff,
            "document": document,
            "deadline": dispute_office.deadline_of(session, document),
            "today": today(),
            "existing": disputes.disputes_of_document(session, document),
            "values": {**defaults, **(values or {})},
            "errors": errors or {},
            "status_label": dispute_office.status_label,
            "channel_options": [
                (c.value, dispute_office.channel_label(c)) for c in dispute_office.PAPER_CHANNELS
            ],
        },
        status_code=status_code,
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
    return document_page(db_session, staff, document_id)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.strip() if isinstance(value, str) else ""


def _uploads(data: dict[str, Any]) -> tuple[Upload, ...]:
    raw = data.get(FIELD)
    files = raw if isinstance(raw, list) else [raw]
    return tuple(
        Upload(file_name=item.filename or "", content=item.file.read())
        for item in files
        if isinstance(item, UploadFile) and item.filename
    )


@post(
    "/onthaal/stukken/{document_id:uuid}/bezwaar",
    name="front_office_register",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
)
def front_office_register(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID], data: MultipartForm
) -> Redirect | Template:
    values = {
        key: _text(data, key)
        for key in ("kanaal", "ontvangen_op", "poststempel", "gronden", "email", "telefoon")
    }
    values["hoorzitting"] = _text(data, "hoorzitting")
    values["sleutel"] = _text(data, "sleutel")
    try:
        filed = dispute_office.register_paper_dispute(
            db_session,
            staff,
            document_id,
            dispute_office.PaperDispute(
                channel=values["kanaal"],
                received_on=values["ontvangen_op"],
                postmark=values["poststempel"],
                grounds=values["gronden"],
                hearing_requested=bool(values["hoorzitting"]),
                contact_email=values["email"],
                contact_phone=values["telefoon"],
                scans=_uploads(data),
                submission_key=values["sleutel"],
            ),
        )
    except FieldErrors as error:
        db_session.rollback()
        return document_page(
            db_session,
            staff,
            document_id,
            values=values,
            errors=dict(error.errors),
            status_code=422,
        )
    except InvalidInput as error:
        db_session.rollback()
        return document_page(
            db_session,
            staff,
            document_id,
            values=values,
            errors={"formulier": error.message},
            status_code=422,
        )
    return Redirect(f"/onthaal/bezwaren/{filed.dispute.id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/onthaal/bezwaren/{dispute_id:uuid}",
    name="front_office_dispute",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def front_office_dispute(
    db_session: DbSession,
    staff: Staff,
    dispute_id: FromPath[uuid.UUID],
    gemaild: FromQuery[str | None] = None,
) -> Template:
    return _confirmation(db_session, staff, dispute_id, mailed=bool(gemaild))


def _confirmation(
    session: Session,
    staff: StaffContext,
    dispute_id: uuid.UUID,
    *,
    mailed: bool = False,
    error: str | None = None,
    address: str = "",
) -> Template:
    dispute = dispute_office.registered_dispute(session, staff, dispute_id)
    return Template(
        template_name="front_office_dispute.html",
        context={
            "staff": staff,
            "dispute": dispute,
            "service_label": dispute_office.service_label,
            "channel_label": dispute_office.channel_label,
            "mailed": mailed,
            "error": error,
            "address": address or dispute.contact_email or "",
        },
        status_code=422 if error else 200,
    )


@get(
    "/onthaal/bezwaren/{dispute_id:uuid}/ontvangstbewijs.pdf",
    name="front_office_receipt",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def front_office_receipt(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    pdf, name = dispute_office.receipt(db_session, staff, dispute_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{name}"'},
    )


@post(
    "/onthaal/bezwaren/{dispute_id:uuid}/mail",
    name="front_office_mail_receipt",
    guards=FRONT_OFFICE,
    sync_to_thread=True,
)
def front_office_mail_receipt(
    db_session: DbSession, staff: Staff, dispute_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    address = form_value(data, "email")
    try:
        dispute_office.mail_receipt(db_session, staff, dispute_id, address)
    except FieldErrors as error:
        db_session.rollback()
        return _confirmation(
            db_session, staff, dispute_id, error=error.errors.get("email"), address=address
        )
    return Redirect(f"/onthaal/bezwaren/{dispute_id}?gemaild=1", status_code=HTTP_303_SEE_OTHER)
