"""Ervaringen: how citizens rated reading, paying and disputing, per month."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from shared.models.people import StaffRole
from shared.services import experience
from shared.web import NO_STORE
from shared.web.params import DbSession, Staff
from shared.web.sessions import role_guard


@get(
    "/ervaringen",
    name="experience_report",
    guards=[role_guard(StaffRole.BEHEERDER, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def experience_report(db_session: DbSession, staff: Staff) -> Template:
    return Template(
        template_name="experience.html",
        context={"staff": staff, "report": experience.report(db_session, staff)},
    )
