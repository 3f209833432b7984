"""The back office's start page: a welcome with login, or what waits for this member today."""

from __future__ import annotations

import uuid

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import InvalidInput
from shared.models.people import StaffRole
from shared.services import auth, bank_statements, documents, payment_overview
from shared.web import NO_STORE
from shared.web.params import CurrentWebSession, DbSession, Form, OptionalStaff
from shared.web.sessions import staff_guard


@get("/", name="start", sync_to_thread=True, cache_control=NO_STORE)
def start_page(db_session: DbSession, optional_staff: OptionalStaff) -> Template:
    staff = optional_staff
    if staff is None:
        return Template(template_name="start.html", context={"staff": None})
    to_sign = (
        len(documents.awaiting_my_signature(db_session, staff))
        if staff.has(StaffRole.ONDERTEKENAAR)
        else None
    )
    counts = (
        documents.count_by_status(db_session, staff)
        if staff.has(StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
        else None
    )
    finance = None
    if staff.has(*payment_overview.FINANCE_ROLES):
        finance = {
            "overdue": payment_overview.status_counts(db_session, staff)[payment_overview.OVERDUE],
            "review": len(bank_statements.review_lines(db_session, staff)),
        }
    return Template(
        template_name="dashboard.html",
        context={"staff": staff, "counts": counts, "to_sign": to_sign, "finance": finance},
    )


@post("/organisatie", name="switch_organisation", guards=[staff_guard], sync_to_thread=True)
def switch_organisation(
    db_session: DbSession, web_session: CurrentWebSession, data: Form
) -> Redirect:
    try:
        organisation_id = uuid.UUID(str(data.get("organisatie", "")))
    except ValueError:
        raise InvalidInput("Kies een bestuur uit de lijst.") from None
    auth.switch_organisation(db_session, db_session.merge(web_session), organisation_id)
    return Redirect("/", status_code=HTTP_303_SEE_OTHER)
