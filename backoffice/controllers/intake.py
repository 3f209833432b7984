"""Intake pages of the secretariat: a new decision with its letters, a new letter on its own,
a registered decision, and on a draft: replace its PDF, screen it, and its page previews.

The forms work without JavaScript: adding or leaving out a letter submits the form and comes
back with everything typed (and every PDF already chosen: `registration.remember_upload`).
A form with problems comes back the same way, each problem next to its field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backoffice.controllers.documents import document_page
from shared.config import get_settings
from shared.errors import DomainError, FieldErrors, InvalidInput
from shared.i18n import gettext
from shared.models.documents import DOCUMENT_STATES, GoverningBody
from shared.models.people import StaffRole
from shared.services import registration, review
from shared.services.access import StaffContext
from shared.services.intake import PdfCheckFailed
from shared.services.registration import (
    BODY_LABELS,
    DISPUTE_RIGHT_LABELS,
    DOCUMENT_TYPES,
    RECIPIENT_KIND_LABELS,
    DuplicateDecision,
    LetterInput,
    Problems,
)
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, MultipartForm, Staff
from shared.web.sessions import role_guard

_ = gettext

SECRETARIAT = [role_guard(StaffRole.SECRETARIAAT)]
UPLOAD_LIMIT = get_settings().upload_max_bytes
MAX_LETTERS = 50

# -- reading the multipart form ----------------------------------------------------------------


def _flat(data: Mapping[str, Any]) -> dict[str, str]:
    """The text fields of a form (the first value of each)."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str):
            flat[key] = first
    return flat


def _upload(value: Any) -> tuple[str, bytes] | None:
    """(file name, content) of a chosen file; None when no file was chosen."""
    first = value[0] if isinstance(value, list) and value else value
    if not isinstance(first, UploadFile) or not first.filename:
        return None
    first.file.seek(0)
    content: bytes = first.file.read()
    return (first.filename, content) if content else None


@dataclass(frozen=True)
class LetterSlot:
    """One letter's place in the form, and the PDF it already has."""

    index: int
    prefix: str
    upload_token: str = ""
    upload_name: str = ""


def _labels() -> dict[str, object]:
    return {
        "body_options": [("", _("Kies…"))]
        + [(body.value, _(label)) for body, label in BODY_LABELS.items()],
        "type_options": [("", _("Volgens het bestuursorgaan"))]
        + [(key, _(label)) for key, label in DOCUMENT_TYPES.items()],
        "letter_type_options": [(key, _(label)) for key, label in DOCUMENT_TYPES.items()],
        "dispute_options": [
            (right.value, _(label)) for right, label in DISPUTE_RIGHT_LABELS.items()
        ],
        "recipient_kinds": [
            (kind.value, _(label)) for kind, label in RECIPIENT_KIND_LABELS.items()
        ],
    }


def _summary(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors for the summary at the top: a letter's problems say which letter."""
    summary: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "documents" and len(parts) > 2 and parts[1].isdigit():
            summary[key] = _("Brief %(number)d: %(message)s") % {
                "number": int(parts[1]) + 1,
                "message": message,
            }
        else:
            summary[key] = message
    return summary


def _read_letters(
    staff: StaffContext,
    data: Mapping[str, Any],
    values: Mapping[str, str],
    count: int,
    problems: Problems,
) -> tuple[list[LetterInput], list[tuple[str, bytes] | None]]:
    letters: list[LetterInput] = []
    files: list[tuple[str, bytes] | None] = []
    for index in range(count):
        prefix = f"documents.{index}."
        upload = _upload(data.get(prefix + "file"))
        if upload is None and (token := values.get(prefix + "upload")):
            upload = registration.recall_upload(staff.organisation_id, token)
        files.append(upload)
        letters.append(
            registration.read_letter(
                values,
                problems,
                prefix=prefix,
                file_name=upload[0] if upload else "",
                content=upload[1] if upload else None,
            )
        )
    return letters, files


def _slots(
    staff: StaffContext,
    files: list[tuple[str, bytes] | None],
    errors: Mapping[str, str],
    prefix_of: Any = lambda index: f"documents.{index}.",
) -> list[LetterSlot]:
    slots = []
    for index, upload in enumerate(files):
        prefix = prefix_of(index)
        if upload is not None and prefix + "file" not in errors:
            token = registration.remember_upload(staff.organisation_id, *upload)
            slots.append(LetterSlot(index, prefix, token, upload[0]))
        else:
            slots.append(LetterSlot(index, prefix))
    return slots


def _count(values: Mapping[str, str]) -> int:
    try:
        return max(1, min(MAX_LETTERS, int(values.get("aantal", "1"))))
    except ValueError:
        return 1


def _shift_down(values: dict[str, str], removed: int, count: int) -> dict[str, str]:
    """The form's values with letter `removed` left out and the next ones moved up."""
    kept = {k: v for k, v in values.items() if not k.startswith(f"documents.{removed}.")}
    for index in range(removed + 1, count):
        old, new = f"documents.{index}.", f"documents.{index - 1}."
        for key in [k for k in kept if k.startswith(old)]:
            kept[new + key.removeprefix(old)] = kept.pop(key)
    return kept


def _decision_form(
    staff: StaffContext,
    values: Mapping[str, str],
    slots: list[LetterSlot],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="decision_new.html",
        context={
            "staff": staff,
            "values": values,
            "slots": slots,
            "errors": dict(errors or {}),
            "summary": _summary(errors or {}),
            "max_letters": MAX_LETTERS,
            **_labels(),
        },
        status_code=status_code,
    )


# -- a new decision ----------------------------------------------------------------------------


@get(
    "/beslissingen/nieuw",
    name="decision_new",
    guards=SECRETARIAT,
    cache_control=NO_STORE,
)
async def decision_new(staff: Staff) -> Template:
    values = {"body": GoverningBody.COLLEGE.value, "documents.0.recipient.kind": "citizen"}
    return _decision_form(staff, values, [LetterSlot(0, "documents.0.")])


@post(
    "/beslissingen/nieuw",
    name="decision_create",
    guards=SECRETARIAT,
    sync_to_thread=True,
    request_max_body_size=UPLOAD_LIMIT,
    cache_control=NO_STORE,
)
def decision_create(
    db_session: DbSession, staff: Staff, data: MultipartForm
) -> Template | Redirect:
    values = _flat(data)
    count = _count(values)
    action = values.get("actie", "registreren")
    problems = Problems()
    decision = registration.read_decision(values, problems)
    letters, files = _read_letters(staff, data, values, count, problems)

    if action == "toevoegen" and count < MAX_LETTERS:
        values = {
            **values,
            f"documents.{count}.recipient.kind": "citizen",
            "aantal": str(count + 1),
        }
        slots = _slots(staff, [*files, None], {})
        return _decision_form(staff, values, slots)
    if action.startswith("weglaten-") and count > 1:
        try:
            removed = int(action.removeprefix("weglaten-"))
        except ValueError:
            removed = count - 1
        removed = min(max(removed, 0), count - 1)
        values = {**_shift_down(values, removed, count), "aantal": str(count - 1)}
        kept = [upload for index, upload in enumerate(files) if index != removed]
        return _decision_form(staff, values, _slots(staff, kept, {}))

    try:
        result = registration.register_decision(
            db_session, staff, decision, letters, staff.actor, source="form", problems=problems
        )
    except FieldErrors as error:
        return _decision_form(staff, values, _slots(staff, files, error.errors), error.errors, 422)
    except DuplicateDecision as error:
        errors = {"decision_number": error.message}
        return _decision_form(staff, values, _slots(staff, files, errors), errors, 409)
    assert result.decision is not None
    return Redirect(f"/beslissingen/{result.decision.id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/beslissingen/{decision_id:uuid}",
    name="decision",
    guards=[role_guard(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def decision_detail(
    db_session: DbSession, staff: Staff, decision_id: FromPath[uuid.UUID]
) -> Template:
    return Template(
        template_name="decision.html",
        context={
            "staff": staff,
            "view": review.decision_view(db_session, staff, decision_id),
            "status_label": DOCUMENT_STATES.label,
            "body_label": registration.body_label,
            "type_label": registration.document_type_label,
        },
    )


# -- a new letter on its own -------------------------------------------------------------------


def _letter_form(
    staff: StaffContext,
    values: Mapping[str, str],
    slot: LetterSlot,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="letter_new.html",
        context={
            "staff": staff,
            "values": values,
            "slot": slot,
            "errors": dict(errors or {}),
            "summary": dict(errors or {}),
            **_labels(),
        },
        status_code=status_code,
    )


@get(
    "/brieven/nieuw",
    name="letter_new",
    guards=SECRETARIAT,
    cache_control=NO_STORE,
)
async def letter_new(staff: Staff) -> Template:
    values = {"recipient.kind": "citizen", "document_type": "letter"}
    return _letter_form(staff, values, LetterSlot(0, ""))


@post(
    "/brieven/nieuw",
    name="letter_create",
    guards=SECRETARIAT,
    sync_to_thread=True,
    request_max_body_size=UPLOAD_LIMIT,
    cache_control=NO_STORE,
)
def letter_create(db_session: DbSession, staff: Staff, data: MultipartForm) -> Template | Redirect:
    values = _flat(data)
    problems = Problems()
    upload = _upload(data.get("file"))
    if upload is None and (token := values.get("upload")):
        upload = registration.recall_upload(staff.organisation_id, token)
    letter = registration.read_letter(
        values,
        problems,
        file_name=upload[0] if upload else "",
        content=upload[1] if upload else None,
    )
    try:
        result = registration.register_letter(
            db_session, staff, letter, staff.actor, source="form", problems=problems
        )
    except FieldErrors as error:
        slot = _slots(staff, [upload], error.errors, prefix_of=lambda _index: "")[0]
        return _letter_form(staff, values, slot, error.errors, 422)
    return Redirect(f"/stukken/{result.documents[0].id}", status_code=HTTP_303_SEE_OTHER)


# -- a draft: replace its PDF, screen it, its page previews ------------------------------------


@post(
    "/stukken/{document_id:uuid}/vervangen",
    name="document_replace",
    guards=SECRETARIAT,
    sync_to_thread=True,
    request_max_body_size=UPLOAD_LIMIT,
    cache_control=NO_STORE,
)
def document_replace(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID], data: MultipartForm
) -> Template | Redirect:
    upload = _upload(data.get("bestand"))
    try:
        if upload is None:
            raise InvalidInput(_("Kies het verbeterde PDF-bestand."))
        review.replace_document_pdf(db_session, staff, document_id, upload[1], file_name=upload[0])
    except PdfCheckFailed as error:
        db_session.rollback()
        return document_page(
            db_session, staff, document_id, replace_error=error.result.summary(), status_code=422
        )
    except InvalidInput as error:
        db_session.rollback()
        return document_page(
            db_session, staff, document_id, replace_error=error.message, status_code=422
        )
    return Redirect(f"/stukken/{document_id}", status_code=HTTP_303_SEE_OTHER)


@post(
    "/stukken/{document_id:uuid}/screenen",
    name="document_screen",
    guards=SECRETARIAT,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document_screen(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID], data: Form
) -> Template | Redirect:
    values = {key: value if isinstance(value, str) else value[0] for key, value in data.items()}
    try:
        override = None
        if values.get("keuze") == "afwijken":
            override = review.parse_override(
                [values.get(f"ondertekenaar-{n}", "") for n in range(1, review.MAX_SIGNERS + 1)],
                values.get("reden", ""),
            )
        review.screen(db_session, staff, document_id, override)
    except DomainError as error:
        db_session.rollback()
        message = error.result.summary() if isinstance(error, PdfCheckFailed) else error.message
        return document_page(
            db_session,
            staff,
            document_id,
            screen_error=message,
            screen_values=values,
            status_code=error.status_code,
        )
    return Redirect(f"/stukken/{document_id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/stukken/{document_id:uuid}/pagina/{page:int}",
    name="document_page_preview",
    guards=[
        role_guard(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR, StaffRole.ONDERTEKENAAR)
    ],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document_page_preview(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID], page: FromPath[int]
) -> Response[bytes]:
    png = review.page_preview(db_session, staff, document_id, page)
    return Response(png, media_type="image/png")
