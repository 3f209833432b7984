"""Outgoing documents (stukken) of the current organisation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.orm import Session

from backoffice.controllers.dispatching import CHANNEL_OPTIONS
from shared.errors import IllegalTransition, InvalidInput
from shared.models.documents import DOCUMENT_STATES, DocumentStatus
from shared.models.people import SIGNER_FUNCTION_LABELS, StaffRole
from shared.models.signing import SIGNATURE_STATES
from shared.services import documents, recipients, review
from shared.services.access import StaffContext
from shared.services.registration import dispute_right_label, document_type_label
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, Staff, form_value
from shared.web.sessions import role_guard


@get(
    "/stukken",
    name="documents",
    guards=[role_guard(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document_list(
    db_session: DbSession, staff: Staff, status: FromQuery[str | None] = None
) -> Template:
    try:
        wanted = DocumentStatus(status) if status else None
    except ValueError:
        raise InvalidInput("Onbekende status.") from None
    return Template(
        template_name="documents.html",
        context={
            "staff": staff,
            "documents": documents.list_documents(db_session, staff, status=wanted),
            "statuses": DOCUMENT_STATES.labels,
            "status_label": DOCUMENT_STATES.label,
            "selected": wanted,
            "run_id": uuid.uuid4(),
        },
    )


@get(
    "/stukken/{document_id:uuid}",
    name="document",
    guards=[
        role_guard(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR, StaffRole.ONDERTEKENAAR)
    ],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document_detail(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID]
) -> Template:
    return document_page(db_session, staff, document_id)


def document_page(
    session: Session,
    staff: StaffContext,
    document_id: uuid.UUID,
    *,
    replace_error: str | None = None,
    screen_error: str | None = None,
    screen_values: Mapping[str, str] | None = None,
    address_check: recipients.AddressCheck | None = None,
    withdraw_error: str | None = None,
    withdraw_reason: str = "",
    status_code: int = 200,
) -> Template:
    """The document page; the intake actions show their problems on it."""
    view = documents.document_view(session, staff, document_id)
    return Template(
        template_name="document.html",
        context={
            "staff": staff,
            "view": view,
            "status_label": DOCUMENT_STATES.label,
            "signature_label": SIGNATURE_STATES.label,
            "function_label": SIGNER_FUNCTION_LABELS,
            "run_id": uuid.uuid4(),
            "channel_options": CHANNEL_OPTIONS,
            "intake": review.intake_view(view.document),
            "type_label": document_type_label(view.document.document_type),
            "dispute_label": dispute_right_label(view.document.dispute_right),
            "signer_options": review.signer_options(),
            "max_signers": review.MAX_SIGNERS,
            "replace_error": replace_error,
            "screen_error": screen_error,
            "screen_values": dict(screen_values or {}),
            "address_check": address_check,
            "can_withdraw": staff.has(StaffRole.SECRETARIAAT, StaffRole.BEHEERDER)
            and view.document.withdrawn_at is None
            and view.document.status in documents.WITHDRAWABLE,
            "withdraw_error": withdraw_error,
            "withdraw_reason": withdraw_reason,
        },
        status_code=status_code,
    )


@post(
    "/stukken/{document_id:uuid}/adres",
    name="document_check_address",
    guards=[role_guard(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)],
    sync_to_thread=True,
)
def document_check_address(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID]
) -> Template:
    """A letter came back: ask the national register for the address again."""
    checked = recipients.check_returned_address(db_session, staff, document_id)
    return document_page(db_session, staff, document_id, address_check=checked)


@post(
    "/stukken/{document_id:uuid}/intrekken",
    name="document_withdraw",
    guards=[role_guard(StaffRole.SECRETARIAAT, StaffRole.BEHEERDER)],
    sync_to_thread=True,
)
def document_withdraw(
    db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    """Withdraw a sent document (sent in error, to the wrong person): its portal link and
    access code stop opening. Without a reason, or when it cannot be withdrawn, the page
    comes back with the reason typed and nothing changed."""
    reason = form_value(data, "reden")
    try:
        documents.withdraw(db_session, staff, document_id, reason)
    except (InvalidInput, IllegalTransition) as error:
        db_session.rollback()
        return document_page(
            db_session,
            staff,
            document_id,
            withdraw_error=error.message,
            withdraw_reason=reason,
            status_code=409 if isinstance(error, IllegalTransition) else 422,
        )
    return Redirect(f"/stukken/{document_id}#intrekken", status_code=HTTP_303_SEE_OTHER)
