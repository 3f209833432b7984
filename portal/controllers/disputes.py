"""Disputing a document: the form, its confirmation step, the receipt page and its PDF.

Every page needs a login at the level for disputing (`ZEGEL_CITIZEN_LEVEL_DISPUTE`): a paper
letter's access code alone never gets here. The form works without JavaScript: its steps are
plain POSTs that carry the typed values (see shared.services.portal_disputes).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.config import get_settings
from shared.errors import FieldErrors, InvalidInput
from shared.services import attachments, dispute_receipts, disputes, portal_disputes
from shared.services.attachments import Upload
from shared.services.portal_disputes import DisputeForm, DisputePanel
from shared.web import NO_STORE
from shared.web.params import Citizen, DbSession, FromPath, MultipartForm
from shared.web.sessions import citizen_guard, citizen_session

CITIZEN = {"citizen": Provide(citizen_session)}
GUARD = [citizen_guard("dispute")]


def _body_limit() -> int:
    settings = get_settings()
    return (settings.dispute_attachment_max_bytes + 1024 * 1024) * max(
        1, settings.dispute_attachment_max_count
    ) + 1024 * 1024


def _digest(citizen: Citizen) -> str:
    assert citizen.citizen_ssin_digest is not None  # citizen_guard lets only citizens in
    return citizen.citizen_ssin_digest


def _closed(found: DisputePanel, message: str | None = None) -> Template:
    return Template(
        template_name="dispute_closed.html",
        context={"panel": found, "message": message},
        status_code=200,
    )


def _form_page(found: DisputePanel, form: DisputeForm, status_code: int = 200) -> Template:
    settings = get_settings()
    return Template(
        template_name="dispute_form.html",
        context={
            "panel": found,
            "form": form,
            "max_files": settings.dispute_attachment_max_count,
            "max_megabytes": settings.dispute_attachment_max_bytes // (1024 * 1024),
            # for the check in the browser (static/js/file-limits.js) before a long upload
            "max_bytes": settings.dispute_attachment_max_bytes,
            "max_size_label": attachments.size_label(settings.dispute_attachment_max_bytes),
        },
        status_code=status_code,
    )


@get(
    "/d/{token:str}/bezwaar",
    name="dispute_form",
    guards=GUARD,
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_form(db_session: DbSession, citizen: Citizen, token: FromPath[str]) -> Template:
    found = portal_disputes.panel_for_citizen(db_session, _digest(citizen), token)
    if not found.can_file:  # the deadline passed, or a decision was taken
        return _closed(found)
    email = found.document.recipient.email or ""
    return _form_page(found, DisputeForm(disputes.new_submission_key(), email=email))


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    first = value[0] if isinstance(value, list) and value else value
    return first if isinstance(first, str) else ""


def _texts(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def _uploads(data: dict[str, Any]) -> list[Upload]:
    value = data.get("bijlagen", [])
    uploads = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, UploadFile) and item.filename:
            item.file.seek(0)
            uploads.append(Upload(item.filename, item.file.read()))
    return uploads


@post(
    "/d/{token:str}/bezwaar",
    name="dispute_submit",
    guards=GUARD,
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
    request_max_body_size=_body_limit(),
)
def dispute_submit(
    db_session: DbSession, citizen: Citizen, token: FromPath[str], data: MultipartForm
) -> Template | Redirect:
    found = portal_disputes.panel_for_citizen(db_session, _digest(citizen), token)
    if found.decided is not None:  # a form opened before the decision: nothing more to file
        return _closed(found)
    action = _text(data, "actie") or "controleren"
    drop = None
    if action.startswith("verwijder-"):
        try:
            drop = int(action.removeprefix("verwijder-"))
        except ValueError:
            drop = None
    form = portal_disputes.read_form(
        found.document,
        submission_key=_text(data, "sleutel"),
        grounds=_text(data, "gronden"),
        hearing_requested=_text(data, "hoorzitting") == "ja",
        email=_text(data, "email"),
        phone=_text(data, "telefoon"),
        kept_tokens=_texts(data, "bewaard"),
        uploads=_uploads(data),
        drop=drop,
    )
    if action != "indienen" and action != "controleren":
        return _form_page(found, form)  # "Wijzigen", a file removed
    try:
        portal_disputes.check(found, form)
        if form.errors:
            return _form_page(found, form, 422)
        if action == "controleren":
            return Template(
                template_name="dispute_confirm.html", context={"panel": found, "form": form}
            )
        filed = portal_disputes.submit(db_session, found, form)
    except FieldErrors as error:
        form.errors.update(error.errors)
        return _form_page(found, form, 422)
    except InvalidInput as error:
        if error.code == "dispute_late":
            return _closed(found, error.message)
        raise
    return Redirect(f"/d/{token}/bezwaar/{filed.dispute.id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/d/{token:str}/bezwaar/{dispute_id:uuid}",
    name="dispute_receipt",
    guards=GUARD,
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_receipt(
    db_session: DbSession, citizen: Citizen, token: FromPath[str], dispute_id: FromPath[uuid.UUID]
) -> Template:
    document, dispute = portal_disputes.receipt(db_session, _digest(citizen), token, dispute_id)
    return Template(
        template_name="dispute_receipt.html",
        context={
            "document": document,
            "dispute": dispute,
            "service": dispute_receipts.service_label(dispute.competent_service),
        },
    )


@get(
    "/d/{token:str}/bezwaar/{dispute_id:uuid}/ontvangstbewijs",
    name="dispute_receipt_pdf",
    guards=GUARD,
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispute_receipt_pdf(
    db_session: DbSession, citizen: Citizen, token: FromPath[str], dispute_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    _document, dispute = portal_disputes.receipt(db_session, _digest(citizen), token, dispute_id)
    return Response(
        dispute_receipts.receipt_pdf(db_session, dispute),
        media_type="application/pdf",
        headers={
            "content-disposition": (f'attachment; filename="{dispute_receipts.file_name(dispute)}"')
        },
    )
