"""Beheer: the organisation's policy per document type (paper method, paper copy of unread
eBox messages, legal basis for register look-ups)."""

from __future__ import annotations

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import FieldErrors
from shared.services import document_types
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, Staff, form_value
from shared.web.sessions import role_guard

ADMIN = [role_guard(*document_types.POLICY_ROLES)]
BASE = "/beheer/soorten-stukken"


def _labels() -> dict[str, object]:
    return {
        "type_name": document_types.name,
        "paper_name": document_types.paper_delivery_name,
        "paper_options": [
            (method.value, document_types.paper_delivery_name(method))
            for method in document_types.PAPER_DELIVERY_NAMES
        ],
        "max_days": document_types.MAX_FALLBACK_DAYS,
    }


@get(BASE, name="document_types", guards=ADMIN, sync_to_thread=True, cache_control=NO_STORE)
def policy_list(
    db_session: DbSession, staff: Staff, bewaard: FromQuery[str | None] = None
) -> Template:
    return Template(
        template_name="admin_document_types.html",
        context={
            "staff": staff,
            "rows": document_types.policies(db_session, staff),
            "saved": document_types.name(bewaard)
            if bewaard and document_types.is_known(bewaard)
            else None,
            **_labels(),
        },
    )


def _form_page(
    db_session: DbSession,
    staff: Staff,
    key: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    document_types.require_known(key)
    current = next(
        row for row in document_types.policies(db_session, staff) if row.document_type == key
    )
    policy = current.policy
    return Template(
        template_name="admin_document_type.html",
        context={
            "staff": staff,
            "row": current,
            "errors": errors or {},
            "values": values
            or {
                "papier": policy.paper.value,
                "papierkopie": "ja" if policy.ebox_fallback_days is not None else "",
                "dagen": str(policy.ebox_fallback_days or ""),
                "rechtsgrond": policy.legal_basis or "",
                "opschorten": "ja" if policy.dispute_suspends_payment else "",
            },
            **_labels(),
        },
        status_code=status_code,
    )


@get(
    BASE + "/{key:str}",
    name="document_type",
    guards=ADMIN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def policy_form(db_session: DbSession, staff: Staff, key: FromPath[str]) -> Template:
    return _form_page(db_session, staff, key)


@post(BASE + "/{key:str}", name="document_type_save", guards=ADMIN, sync_to_thread=True)
def policy_save(
    db_session: DbSession, staff: Staff, key: FromPath[str], data: Form
) -> Redirect | Template:
    values = {
        name: form_value(data, name)
        for name in ("papier", "papierkopie", "dagen", "rechtsgrond", "opschorten")
    }
    try:
        document_types.update_policy(db_session, staff, key, document_types.form_input(values))
    except FieldErrors as error:
        db_session.rollback()
        return _form_page(
            db_session, staff, key, values=values, errors=error.errors, status_code=422
        )
    return Redirect(f"{BASE}?bewaard={key}", status_code=HTTP_303_SEE_OTHER)


@post(
    BASE + "/{key:str}/standaard",
    name="document_type_reset",
    guards=ADMIN,
    sync_to_thread=True,
)
def policy_reset(db_session: DbSession, staff: Staff, key: FromPath[str]) -> Redirect:
    document_types.reset_policy(db_session, staff, key)
    return Redirect(f"{BASE}?bewaard={key}", status_code=HTTP_303_SEE_OTHER)
