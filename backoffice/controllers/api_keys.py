"""Beheer: API keys with which minutes software registers decisions (shown once)."""

from __future__ import annotations

import uuid

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import FieldErrors
from shared.models.people import StaffRole
from shared.services import api_keys
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, Staff
from shared.web.sessions import role_guard

ADMIN = [role_guard(StaffRole.BEHEERDER)]


def _page(
    db_session: DbSession,
    staff: Staff,
    *,
    new_key: str | None = None,
    new_name: str | None = None,
    errors: dict[str, str] | None = None,
    name: str = "",
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="api_keys.html",
        context={
            "staff": staff,
            "keys": api_keys.list_keys(db_session, staff),
            "new_key": new_key,
            "new_name": new_name,
            "errors": errors or {},
            "values": {"naam": name},
        },
        status_code=status_code,
    )


@get(
    "/beheer/api-sleutels",
    name="api_keys",
    guards=ADMIN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def api_key_list(db_session: DbSession, staff: Staff) -> Template:
    return _page(db_session, staff)


@post(
    "/beheer/api-sleutels",
    name="api_key_create",
    guards=ADMIN,
    sync_to_thread=True,
    cache_control=NO_STORE,
    status_code=200,
)
def api_key_create(db_session: DbSession, staff: Staff, data: Form) -> Template:
    """The key is in this answer only: it is stored hashed, and this page is not cached."""
    value = data.get("naam", "")
    name = value if isinstance(value, str) else (value[0] if value else "")
    try:
        row, key = api_keys.create_key(db_session, staff, name)
    except FieldErrors as error:
        db_session.rollback()
        return _page(db_session, staff, errors=error.errors, name=name, status_code=422)
    return _page(db_session, staff, new_key=key, new_name=row.name)


@post(
    "/beheer/api-sleutels/{key_id:uuid}/intrekken",
    name="api_key_revoke",
    guards=ADMIN,
    sync_to_thread=True,
)
def api_key_revoke(db_session: DbSession, staff: Staff, key_id: FromPath[uuid.UUID]) -> Redirect:
    api_keys.revoke_key(db_session, staff, key_id)
    return Redirect("/beheer/api-sleutels", status_code=HTTP_303_SEE_OTHER)
