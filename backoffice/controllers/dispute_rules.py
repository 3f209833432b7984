"""Beheer: the organisation's own dispute terms (Bezwaartermijnen): per dispute right the term,
when it starts, the answer term, the competent service and the legal text; empty fields keep
the standard of the installation (the settings)."""

from __future__ import annotations

from litestar import get, post
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.errors import FieldErrors
from shared.services import dispute_deadlines
from shared.services.dispute_deadlines import RULE_FORM_FIELDS, SERVICE_LABELS
from shared.services.dispute_receipts import service_label
from shared.services.registration import dispute_right_label
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, Staff, form_value
from shared.web.sessions import role_guard

ADMIN = [role_guard(*dispute_deadlines.RULE_ROLES)]
BASE = "/beheer/bezwaartermijnen"


def _labels() -> dict[str, object]:
    return {
        "right_label": dispute_right_label,
        "service_label": service_label,
        "service_choices": [(key, service_label(key)) for key in SERVICE_LABELS],
    }


@get(BASE, name="dispute_rules", guards=ADMIN, sync_to_thread=True, cache_control=NO_STORE)
def rule_list(db_session: DbSession, staff: Staff, bewaard: FromQuery[str] = "") -> Template:
    rows = dispute_deadlines.rule_rows(db_session, staff.organisation_id)
    saved = next((row for row in rows if row.right.value == bewaard), None)
    return Template(
        template_name="admin_dispute_rules.html",
        context={"staff": staff, "rows": rows, "saved": saved, **_labels()},
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
    row = dispute_deadlines.rule_row(db_session, staff.organisation_id, key)
    return Template(
        template_name="admin_dispute_rule.html",
        context={
            "staff": staff,
            "row": row,
            "values": values or dispute_deadlines.form_values(row),
            "errors": errors or {},
            **_labels(),
        },
        status_code=status_code,
    )


@get(
    BASE + "/{key:str}",
    name="dispute_rule",
    guards=ADMIN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def rule_form(db_session: DbSession, staff: Staff, key: FromPath[str]) -> Template:
    return _form_page(db_session, staff, key)


@post(BASE + "/{key:str}", name="dispute_rule_save", guards=ADMIN, sync_to_thread=True)
def rule_save(
    db_session: DbSession, staff: Staff, key: FromPath[str], data: Form
) -> Redirect | Template:
    values = {name: form_value(data, name) for name in RULE_FORM_FIELDS}
    try:
        dispute_deadlines.save_rule(db_session, staff, key, values)
    except FieldErrors as error:
        db_session.rollback()
        return _form_page(
            db_session, staff, key, values=values, errors=error.errors, status_code=422
        )
    return Redirect(f"{BASE}?bewaard={key}", status_code=HTTP_303_SEE_OTHER)
