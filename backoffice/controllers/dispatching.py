"""Verzenden: one click queues one dispatch per document; a live view follows the run."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import InvalidInput
from shared.i18n import gettext as _
from shared.models.dispatch import CHANNEL_LABELS, Channel
from shared.models.people import StaffRole
from shared.services import dispatch
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, Staff, form_value, form_values
from shared.web.sessions import role_guard

SENDERS = [role_guard(StaffRole.DOSSIERBEHANDELAAR, StaffRole.SECRETARIAAT)]


def _override(data: dict[str, str | list[str]]) -> dispatch.ChannelOverride | None:
    chosen = form_value(data, "kanaal")
    if not chosen:
        return None
    try:
        channel = Channel(chosen)
    except ValueError:
        raise InvalidInput(_("Onbekend kanaal.")) from None
    return dispatch.ChannelOverride(channel, form_value(data, "reden"))


@post("/verzenden", name="dispatch_send", guards=SENDERS, sync_to_thread=True)
def dispatch_send(db_session: DbSession, staff: Staff, data: Form) -> Response[Any]:
    """Queue the chosen documents. The form carries the run's id: posting it twice (a double
    click, a reload) shows the same run and queues nothing new."""
    try:
        run_id = uuid.UUID(form_value(data, "run"))
        document_ids = [uuid.UUID(v) for v in form_values(data, "document")]
    except ValueError:
        raise InvalidInput(_("Dit formulier is ongeldig; open het document opnieuw.")) from None
    if not document_ids:
        raise InvalidInput(_("Kies minstens één document om te verzenden."))
    if dispatch.run_exists(db_session, staff.organisation_id, run_id):
        return Redirect(f"/verzending/{run_id}", status_code=HTTP_303_SEE_OTHER)
    result = dispatch.send(
        db_session,
        staff.organisation_id,
        document_ids,
        actor=staff.actor,
        staff_user_id=staff.user_id,
        override=_override(data),
        run_id=run_id,
    )
    if not result.queued:
        return Template(
            template_name="dispatch_progress.html",
            context={"staff": staff, "run_id": None, "progress": None, "refused": result.refused},
            status_code=422,
        )
    return Template(
        template_name="dispatch_progress.html",
        context={
            "staff": staff,
            "run_id": run_id,
            "progress": dispatch.run_progress(db_session, staff.organisation_id, run_id),
            "refused": result.refused,
        },
    )


@get(
    "/verzending/{run_id:uuid}",
    name="dispatch_progress",
    guards=SENDERS,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def dispatch_progress(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    staff: Staff,
    run_id: FromPath[uuid.UUID],
) -> Template:
    progress = dispatch.run_progress(db_session, staff.organisation_id, run_id)
    partial = request.headers.get("hx-request") == "true"
    return Template(
        template_name="_dispatch_progress.html" if partial else "dispatch_progress.html",
        context={"staff": staff, "run_id": run_id, "progress": progress, "refused": []},
    )


CHANNEL_OPTIONS = [("", "Zegel kiest")] + [(c.value, label) for c, label in CHANNEL_LABELS.items()]
"""For the "choose the channel yourself" select (values of Channel)."""
