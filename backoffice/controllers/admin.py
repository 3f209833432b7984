"""Beheer: staff members, their roles per organisation, and their accounts."""

from __future__ import annotations

import uuid

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.config import get_settings
from shared.errors import InvalidInput
from shared.models.people import (
    SIGNER_FUNCTION_LABELS,
    STAFF_ROLE_LABELS,
    SignerFunction,
    StaffRole,
)
from shared.services import staff_admin
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, Staff, form_value, form_values
from shared.web.sessions import role_guard

ADMIN = [role_guard(StaffRole.BEHEERDER)]


def _roles(values: list[str]) -> set[StaffRole]:
    try:
        return {StaffRole(v) for v in values}
    except ValueError:
        raise InvalidInput("Onbekende rol.") from None


def _function(value: str) -> SignerFunction | None:
    if not value:
        return None
    try:
        return SignerFunction(value)
    except ValueError:
        raise InvalidInput("Onbekende hoedanigheid.") from None


def _labels() -> dict[str, object]:
    return {
        "role_labels": STAFF_ROLE_LABELS,
        "function_labels": SIGNER_FUNCTION_LABELS,
        "function_options": [("", "—")]
        + [(function.value, label) for function, label in SIGNER_FUNCTION_LABELS.items()],
    }


@get("/beheer/medewerkers", name="staff", guards=ADMIN, sync_to_thread=True, cache_control=NO_STORE)
def staff_list(db_session: DbSession, staff: Staff) -> Template:
    return Template(
        template_name="admin_staff.html",
        context={"staff": staff, "rows": staff_admin.list_staff(db_session, staff), **_labels()},
    )


@get(
    "/beheer/medewerkers/{user_id:uuid}",
    name="staff_member",
    guards=ADMIN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def staff_member(db_session: DbSession, staff: Staff, user_id: FromPath[uuid.UUID]) -> Template:
    user, memberships = staff_admin.memberships(db_session, staff, user_id)
    return Template(
        template_name="admin_staff_member.html",
        context={"staff": staff, "member": user, "memberships": memberships, **_labels()},
    )


@post(
    "/beheer/medewerkers/{user_id:uuid}/rollen",
    name="staff_member_roles",
    guards=ADMIN,
    sync_to_thread=True,
)
def staff_member_roles(
    db_session: DbSession, staff: Staff, user_id: FromPath[uuid.UUID], data: Form
) -> Redirect:
    try:
        organisation_id = uuid.UUID(form_values(data, "organisatie")[0])
    except (ValueError, IndexError):
        raise InvalidInput("Kies een bestuur.") from None
    staff_admin.set_roles(
        db_session,
        staff,
        user_id,
        organisation_id,
        _roles(form_values(data, "rol")),
        signer_function=_function(next(iter(form_values(data, "hoedanigheid")), "")),
        substitute="waarnemend" in data,
    )
    return Redirect(f"/beheer/medewerkers/{user_id}", status_code=HTTP_303_SEE_OTHER)


@post(
    "/beheer/medewerkers/{user_id:uuid}/account",
    name="staff_member_account",
    guards=ADMIN,
    sync_to_thread=True,
)
def staff_member_account(
    db_session: DbSession, staff: Staff, user_id: FromPath[uuid.UUID], data: Form
) -> Redirect:
    staff_admin.set_active(db_session, staff, user_id, active=data.get("actief") == "ja")
    return Redirect(f"/beheer/medewerkers/{user_id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/beheer/medewerkers/nieuw",
    name="staff_new",
    guards=ADMIN,
    sync_to_thread=False,
    cache_control=NO_STORE,
)
def staff_new(staff: Staff) -> Template:
    return Template(template_name="admin_staff_new.html", context={"staff": staff, **_labels()})


@post("/beheer/medewerkers/nieuw", name="staff_create", guards=ADMIN, sync_to_thread=True)
def staff_create(db_session: DbSession, staff: Staff, data: Form) -> Redirect:
    def text(key: str) -> str:
        return next(iter(form_values(data, key)), "").strip()

    user = staff_admin.add_staff_member(
        db_session,
        staff,
        issuer=get_settings().staff_oidc_issuer,
        subject=text("gebruikersnaam"),
        name=text("naam"),
        email=text("email") or None,
        roles=_roles(form_values(data, "rol")),
        signer_function=_function(text("hoedanigheid")),
    )
    return Redirect(f"/beheer/medewerkers/{user.id}", status_code=HTTP_303_SEE_OTHER)


@post(
    "/beheer/medewerkers/{user_id:uuid}/afwezigheid",
    name="staff_member_absence",
    guards=ADMIN,
    sync_to_thread=True,
)
def staff_member_absence(
    db_session: DbSession, staff: Staff, user_id: FromPath[uuid.UUID], data: Form
) -> Redirect:
    try:
        organisation_id = uuid.UUID(form_value(data, "organisatie"))
    except ValueError:
        raise InvalidInput("Kies een bestuur.") from None
    staff_admin.set_absent(
        db_session, staff, user_id, organisation_id, absent=form_value(data, "afwezig") == "ja"
    )
    return Redirect(f"/beheer/medewerkers/{user_id}", status_code=HTTP_303_SEE_OTHER)
