"""The signing folder (handtekenmap): pick, confirm, follow the batch, or decline with a reason."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import InvalidInput
from shared.i18n import gettext as _
from shared.models.people import SIGNER_FUNCTION_LABELS, StaffRole
from shared.services import documents, signing, signing_batches
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, Staff, form_values
from shared.web.sessions import role_guard

SIGNERS = [role_guard(StaffRole.ONDERTEKENAAR)]


def _ids(values: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise InvalidInput(_("Een gekozen stuk is onbekend.")) from None


@get(
    "/handtekenmap",
    name="signing_folder",
    guards=SIGNERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def signing_folder(
    db_session: DbSession, staff: Staff, teruggestuurd: FromQuery[uuid.UUID | None] = None
) -> Template:
    """The folder; after declining, `teruggestuurd` names the request that was declined."""
    returned = None
    if teruggestuurd is not None:
        returned = documents.my_signature_request(db_session, staff, teruggestuurd)
    return Template(
        template_name="signing_folder.html",
        context={
            "staff": staff,
            "requests": documents.awaiting_my_signature(db_session, staff),
            "function_label": SIGNER_FUNCTION_LABELS,
            "returned": returned,
        },
    )


@post("/handtekenmap/bevestigen", name="signing_confirm", guards=SIGNERS, sync_to_thread=True)
def signing_confirm(db_session: DbSession, staff: Staff, data: Form) -> Template:
    """The one confirmation before signing: what will be signed, and in which capacity."""
    waiting = documents.awaiting_my_signature(db_session, staff)
    if "alles" in data:
        chosen = waiting
    else:
        wanted = set(_ids(form_values(data, "verzoek")))
        chosen = [r for r in waiting if r.id in wanted]
    if not chosen:
        return Template(
            template_name="signing_folder.html",
            context={
                "staff": staff,
                "requests": waiting,
                "function_label": SIGNER_FUNCTION_LABELS,
                "error": _("Kies minstens één stuk om te ondertekenen."),
            },
            status_code=400,
        )
    return Template(
        template_name="signing_confirm.html",
        context={
            "staff": staff,
            "requests": chosen,
            "batch_id": uuid.uuid4(),
            "capacities": sorted(
                {signing.capacity_of(db_session, staff.user_id, r) for r in chosen}
            ),
        },
    )


@post("/handtekenmap/ondertekenen", name="signing_start", guards=SIGNERS, sync_to_thread=True)
def signing_start(db_session: DbSession, staff: Staff, data: Form) -> Redirect:
    try:
        batch_id = uuid.UUID(next(iter(form_values(data, "reeks")), ""))
    except ValueError:
        raise InvalidInput(_("Deze bevestiging is ongeldig; kies de stukken opnieuw.")) from None
    batch = signing_batches.start_batch(
        db_session, staff, batch_id, _ids(form_values(data, "verzoek")), actor=staff.actor
    )
    return Redirect(f"/handtekenmap/reeks/{batch.id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/handtekenmap/reeks/{batch_id:uuid}",
    name="signing_progress",
    guards=SIGNERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def signing_progress(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    staff: Staff,
    batch_id: FromPath[uuid.UUID],
) -> Template:
    progress = signing_batches.batch_progress(db_session, staff, batch_id)
    partial = request.headers.get("hx-request") == "true"
    return Template(
        template_name="_signing_progress.html" if partial else "signing_progress.html",
        context={"staff": staff, "progress": progress},
    )


@get(
    "/handtekenmap/{request_id:uuid}/weigeren",
    name="signing_decline_form",
    guards=SIGNERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def signing_decline_form(
    db_session: DbSession, staff: Staff, request_id: FromPath[uuid.UUID]
) -> Template:
    return Template(
        template_name="signing_decline.html",
        context={
            "staff": staff,
            "signature": documents.my_signature_request(db_session, staff, request_id),
        },
    )


@post(
    "/handtekenmap/{request_id:uuid}/weigeren",
    name="signing_decline",
    guards=SIGNERS,
    sync_to_thread=True,
)
def signing_decline(
    db_session: DbSession, staff: Staff, request_id: FromPath[uuid.UUID], data: Form
) -> Redirect | Template:
    found = documents.my_signature_request(db_session, staff, request_id)
    reason = next(iter(form_values(data, "reden")), "")
    if not reason.strip():
        return Template(
            template_name="signing_decline.html",
            context={
                "staff": staff,
                "signature": found,
                "error": _("Geef een reden op waarom u niet ondertekent."),
            },
            status_code=400,
        )
    signing.decline(db_session, request_id, reason, signer_user_id=staff.user_id, actor=staff.actor)
    return Redirect(f"/handtekenmap?teruggestuurd={request_id}", status_code=HTTP_303_SEE_OTHER)
