"""Betalingen: payment requests by status with filters, export and a chart of money received
per week; one request with its payments and timeline; bank statements (upload, lines, review
list); and payments at the desk with a receipt.

Finance pages are for financien and beheerder; the desk for onthaal and financien.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backoffice.charts import BarChart, bar_chart
from backoffice.controllers.intake import _upload
from shared.errors import DomainError, FieldErrors, InvalidInput
from shared.i18n import format_date, format_money
from shared.i18n import gettext as _
from shared.models.bank_statements import LineStatus, ReviewReason
from shared.models.payments import PAYMENT_STATES
from shared.services import bank_statements, desk_payments, payment_overview
from shared.services.registration import document_type_label
from shared.web import NO_STORE
from shared.web.params import DbSession, Form, FromPath, FromQuery, MultipartForm, Staff, form_value
from shared.web.sessions import role_guard

FINANCE = [role_guard(*payment_overview.FINANCE_ROLES)]
DESK = [role_guard(*desk_payments.DESK_ROLES)]
RECEIPT = [role_guard(*desk_payments.DESK_ROLES, *payment_overview.FINANCE_ROLES)]
CSV_MEDIA_TYPE = "text/csv"
STATEMENT_MAX_BYTES = bank_statements.MAX_FILE_BYTES + 64 * 1024


def _query(items: dict[str, str], **extra: str) -> str:
    merged = {**items, **extra}
    return f"?{urlencode(merged)}" if merged else ""


def _weekly_chart(weeks: list[payment_overview.WeekTotal]) -> BarChart:
    labels = [
        (format_date(week.monday, "d/M"), str(week.monday.year) if index == 0 else "")
        for index, week in enumerate(weeks)
    ]
    return bar_chart(
        labels,
        [float(week.cents) if week.cents else None for week in weeks],
        [float(week.online_cents) if week.online_cents else None for week in weeks],
        unit=100.0,
        axis_label=_("euro"),
    )


def _filter_values(request: Request[Any, Any, Any]) -> dict[str, str | None]:
    return {key: request.query_params.get(key) for key in ("status", "van", "tot", "soort")}


@get("/betalingen", name="payments", guards=FINANCE, sync_to_thread=True, cache_control=NO_STORE)
def payment_list(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    staff: Staff,
    pagina: FromQuery[int] = 1,
) -> Template:
    form = _filter_values(request)
    parsed = payment_overview.parse_filter(form)
    page = payment_overview.request_page(db_session, staff, parsed.filter, page=pagina)
    items = parsed.filter.query_items()
    weeks = payment_overview.received_per_week(db_session, staff)
    return Template(
        template_name="payments.html",
        context={
            "staff": staff,
            "form": form,
            "errors": parsed.errors,
            "page": page,
            "counts": payment_overview.status_counts(db_session, staff),
            "status_label": payment_overview.status_label,
            "status_tone": payment_overview.STATUS_TONES,
            "status_options": [
                (key, _(label)) for key, label in payment_overview.STATUS_FILTERS.items()
            ],
            "type_options": payment_overview.document_types(db_session, staff),
            "type_label": document_type_label,
            "filtered": bool(items),
            "csv_link": "/betalingen/export.csv" + _query(items),
            "next_link": _query(items, pagina=str(page.page + 1))
            if page.page < page.pages
            else None,
            "previous_link": _query(items, pagina=str(page.page - 1)) if page.page > 1 else None,
            "weeks": weeks,
            "week_end": lambda monday: monday + timedelta(days=6),
            "chart": _weekly_chart(weeks),
            "review_count": len(bank_statements.review_lines(db_session, staff)),
            "can_desk": staff.has(*desk_payments.DESK_ROLES),
        },
    )


@get(
    "/betalingen/export.csv",
    name="payments_csv",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def payment_csv(request: Request[Any, Any, Any], staff: Staff) -> Stream:
    parsed = payment_overview.parse_filter(_filter_values(request))
    return Stream(
        payment_overview.export_csv(staff, parsed.filter),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "content-disposition": f'attachment; filename="{payment_overview.export_file_name()}"'
        },
    )


def _detail_page(
    db_session: DbSession,
    staff: Staff,
    request_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    detail = payment_overview.request_detail(db_session, staff, request_id)
    return Template(
        template_name="payment_request.html",
        context={
            "staff": staff,
            "view": detail,
            "status_label": payment_overview.status_label,
            "status_tone": payment_overview.STATUS_TONES,
            "method_label": payment_overview.method_label,
            "payment_status_label": lambda status: _(PAYMENT_STATES.label(status)),
            "desk_methods": desk_payments.DESK_METHODS,
            "errors": errors or {},
            "form": form or {},
            "can_desk": staff.has(*desk_payments.DESK_ROLES),
        },
        status_code=status_code,
    )


@get(
    "/betalingen/{request_id:uuid}",
    name="payment_request",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def payment_request_detail(
    db_session: DbSession, staff: Staff, request_id: FromPath[uuid.UUID]
) -> Template:
    return _detail_page(db_session, staff, request_id)


@post(
    "/betalingen/{request_id:uuid}/betalingen/{payment_id:uuid}/terugbetalen",
    name="payment_refund",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def payment_refund(
    db_session: DbSession,
    staff: Staff,
    request_id: FromPath[uuid.UUID],
    payment_id: FromPath[uuid.UUID],
    data: Form,
) -> Template | Redirect:
    prefix = f"terugbetaling-{payment_id}-"
    form = {
        prefix + "bedrag": form_value(data, prefix + "bedrag"),
        prefix + "reden": form_value(data, prefix + "reden"),
    }
    try:
        payment_overview.refund_payment(
            db_session,
            staff,
            request_id,
            payment_id,
            amount=form[prefix + "bedrag"],
            reason=form[prefix + "reden"],
            seen_refundable=form_value(data, "gezien"),
        )
    except FieldErrors as error:
        db_session.rollback()
        return _detail_page(
            db_session, staff, request_id, errors=dict(error.errors), form=form, status_code=422
        )
    except DomainError as error:
        db_session.rollback()
        return _detail_page(
            db_session,
            staff,
            request_id,
            errors={prefix + "bedrag": error.message},
            form=form,
            status_code=error.status_code,
        )
    return Redirect(f"/betalingen/{request_id}", status_code=HTTP_303_SEE_OTHER)


# --- Bank statements -----------------------------------------------------------------------


def _statements_page(
    db_session: DbSession, staff: Staff, error: str | None, status_code: int
) -> Template:
    return Template(
        template_name="bank_statements.html",
        context={
            "staff": staff,
            "error": error,
            "recent": bank_statements.recent_statements(db_session, staff),
            "review_count": len(bank_statements.review_lines(db_session, staff)),
        },
        status_code=status_code,
    )


@get(
    "/betalingen/uittreksels",
    name="bank_statements",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def statement_list(db_session: DbSession, staff: Staff) -> Template:
    return _statements_page(db_session, staff, None, 200)


@post(
    "/betalingen/uittreksels",
    name="bank_statement_upload",
    guards=FINANCE,
    sync_to_thread=True,
    request_max_body_size=STATEMENT_MAX_BYTES,
    cache_control=NO_STORE,
)
def statement_upload(
    db_session: DbSession, staff: Staff, data: MultipartForm
) -> Template | Redirect:
    upload = _upload(data.get("bestand"))
    if upload is None:
        return _statements_page(
            db_session, staff, _("Kies een CAMT.053-bestand (XML) of een CODA-bestand."), 422
        )
    try:
        result = bank_statements.import_statement(
            db_session, staff, file_name=upload[0], content=upload[1]
        )
    except InvalidInput as error:
        db_session.rollback()
        return _statements_page(db_session, staff, error.message, 422)
    if not result.statements:
        return _statements_page(
            db_session,
            staff,
            _("Dit uittreksel werd al eerder ingelezen (%(ids)s); er is niets veranderd.")
            % {"ids": ", ".join(result.already_imported)},
            409,
        )
    return Redirect(
        f"/betalingen/uittreksels/{result.statements[0].id}", status_code=HTTP_303_SEE_OTHER
    )


@get(
    "/betalingen/uittreksels/{statement_id:uuid}",
    name="bank_statement",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def statement_detail(
    db_session: DbSession, staff: Staff, statement_id: FromPath[uuid.UUID]
) -> Template:
    statement = bank_statements.statement_for_staff(db_session, staff, statement_id)
    return Template(
        template_name="bank_statement.html",
        context={
            "staff": staff,
            "statement": statement,
            "lines": bank_statements.statement_lines(db_session, statement),
            "counts": bank_statements.line_counts(db_session, statement),
            **_line_labels(),
        },
    )


def _line_labels() -> dict[str, Any]:
    return {
        "line_status_label": lambda status: _(bank_statements.LINE_STATUS_LABELS[status]),
        "reason_label": lambda reason: _(bank_statements.REVIEW_REASON_LABELS[reason]),
        "note_label": lambda note: _(bank_statements.AMOUNT_NOTE_LABELS.get(note, str(note))),
        "line_tone": {
            LineStatus.MATCHED: "success",
            LineStatus.ASSIGNED: "success",
            LineStatus.REVIEW: "warning",
            LineStatus.DISMISSED: "neutral",
            LineStatus.DEBIT: "neutral",
        },
        "LineStatus": LineStatus,
        "ReviewReason": ReviewReason,
    }


@get(
    "/betalingen/na-te-kijken",
    name="bank_review",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def review_list(db_session: DbSession, staff: Staff) -> Template:
    return Template(
        template_name="bank_review.html",
        context={
            "staff": staff,
            "lines": bank_statements.review_lines(db_session, staff),
            **_line_labels(),
        },
    )


def _review_line_page(
    db_session: DbSession,
    staff: Staff,
    line_id: uuid.UUID,
    *,
    query: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    line = bank_statements.line_for_staff(db_session, staff, line_id)
    suggestions = (
        payment_overview.find_requests(db_session, staff, query)
        if query
        else bank_statements.suggestions(db_session, staff, line)
    )
    return Template(
        template_name="bank_review_line.html",
        context={
            "staff": staff,
            "line": line,
            "query": query,
            "found": suggestions,
            "errors": errors or {},
            "status_label": payment_overview.status_label,
            "status_key": payment_overview.status_key,
            "outstanding": lambda r: payment_overview.outstanding_cents(db_session, r),
            **_line_labels(),
        },
        status_code=status_code,
    )


@get(
    "/betalingen/na-te-kijken/{line_id:uuid}",
    name="bank_review_line",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def review_line(
    db_session: DbSession,
    staff: Staff,
    line_id: FromPath[uuid.UUID],
    zoek: FromQuery[str] = "",
) -> Template:
    return _review_line_page(db_session, staff, line_id, query=zoek.strip()[:200])


@post(
    "/betalingen/na-te-kijken/{line_id:uuid}/koppelen",
    name="bank_review_assign",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def review_assign(
    db_session: DbSession, staff: Staff, line_id: FromPath[uuid.UUID], data: Form
) -> Template | Redirect:
    try:
        request_id = uuid.UUID(form_value(data, "betaalverzoek"))
    except ValueError:
        return _review_line_page(
            db_session,
            staff,
            line_id,
            errors={"betaalverzoek": _("Kies het betaalverzoek waarvoor deze betaling is.")},
            status_code=422,
        )
    try:
        bank_statements.assign_line(
            db_session,
            staff,
            line_id,
            payment_request_id=request_id,
            note=form_value(data, "opmerking"),
        )
    except InvalidInput as error:
        db_session.rollback()
        return _review_line_page(
            db_session, staff, line_id, errors={"betaalverzoek": error.message}, status_code=422
        )
    return Redirect("/betalingen/na-te-kijken", status_code=HTTP_303_SEE_OTHER)


@post(
    "/betalingen/na-te-kijken/{line_id:uuid}/afwijzen",
    name="bank_review_dismiss",
    guards=FINANCE,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def review_dismiss(
    db_session: DbSession, staff: Staff, line_id: FromPath[uuid.UUID], data: Form
) -> Template | Redirect:
    try:
        bank_statements.dismiss_line(db_session, staff, line_id, reason=form_value(data, "reden"))
    except InvalidInput as error:
        db_session.rollback()
        return _review_line_page(
            db_session, staff, line_id, errors={"reden": error.message}, status_code=422
        )
    return Redirect("/betalingen/na-te-kijken", status_code=HTTP_303_SEE_OTHER)


# --- The desk ------------------------------------------------------------------------------


@get("/balie", name="desk", guards=DESK, sync_to_thread=True, cache_control=NO_STORE)
def desk_search(db_session: DbSession, staff: Staff, zoek: FromQuery[str] = "") -> Template:
    query = zoek.strip()[:200]
    found = payment_overview.find_requests(db_session, staff, query) if query else []
    return Template(
        template_name="desk.html",
        context={
            "staff": staff,
            "query": query,
            "found": found,
            "status_label": payment_overview.status_label,
            "status_key": payment_overview.status_key,
            "status_tone": payment_overview.STATUS_TONES,
            "outstanding": lambda r: payment_overview.outstanding_cents(db_session, r),
        },
    )


def _desk_form(
    db_session: DbSession,
    staff: Staff,
    request_id: uuid.UUID,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    payment_request = payment_overview.request_for_staff(db_session, staff, request_id)
    outstanding = payment_overview.outstanding_cents(db_session, payment_request)
    values = form or {
        "bedrag": format_money(outstanding).replace("€", "").strip() if outstanding else "",
        "wijze": "",
        "opmerking": "",
        "ontvangstbewijs": desk_payments.new_receipt_number(),
    }
    return Template(
        template_name="desk_payment.html",
        context={
            "staff": staff,
            "payment_request": payment_request,
            "outstanding": outstanding,
            "status": payment_overview.status_label(payment_overview.status_key(payment_request)),
            "form": values,
            "errors": errors or {},
            "method_options": [
                (m.value, payment_overview.method_label(m)) for m in desk_payments.DESK_METHODS
            ],
        },
        status_code=status_code,
    )


@get(
    "/balie/{request_id:uuid}",
    name="desk_payment_form",
    guards=DESK,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def desk_payment_form(
    db_session: DbSession, staff: Staff, request_id: FromPath[uuid.UUID]
) -> Template:
    return _desk_form(db_session, staff, request_id)


@post(
    "/balie/{request_id:uuid}",
    name="desk_payment",
    guards=DESK,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def desk_payment(
    db_session: DbSession, staff: Staff, request_id: FromPath[uuid.UUID], data: Form
) -> Template | Redirect:
    form = {
        key: form_value(data, key) for key in ("bedrag", "wijze", "opmerking", "ontvangstbewijs")
    }
    try:
        payment = desk_payments.register_desk_payment(
            db_session,
            staff,
            payment_request_id=request_id,
            method=form["wijze"],
            amount=form["bedrag"],
            receipt_number=form["ontvangstbewijs"],
            note=form["opmerking"],
        )
    except FieldErrors as error:
        db_session.rollback()
        return _desk_form(
            db_session, staff, request_id, form=form, errors=dict(error.errors), status_code=422
        )
    except InvalidInput as error:
        db_session.rollback()
        return _desk_form(
            db_session,
            staff,
            request_id,
            form=form,
            errors={"bedrag": error.message},
            status_code=422,
        )
    return Redirect(f"/balie/betaling/{payment.id}", status_code=HTTP_303_SEE_OTHER)


@get(
    "/balie/betaling/{payment_id:uuid}",
    name="desk_payment_done",
    guards=RECEIPT,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def desk_payment_done(
    db_session: DbSession, staff: Staff, payment_id: FromPath[uuid.UUID]
) -> Template:
    payment = desk_payments.payment_for_staff(db_session, staff, payment_id)
    payment_request = payment_overview.request_for_staff(
        db_session, staff, payment.payment_request_id
    )
    return Template(
        template_name="desk_payment_done.html",
        context={
            "staff": staff,
            "payment": payment,
            "payment_request": payment_request,
            "method_label": payment_overview.method_label,
            "outstanding": payment_overview.outstanding_cents(db_session, payment_request),
            "status": payment_overview.status_label(payment_overview.status_key(payment_request)),
        },
    )


@get(
    "/balie/betaling/{payment_id:uuid}/ontvangstbewijs.pdf",
    name="desk_receipt",
    guards=RECEIPT,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def desk_receipt(
    db_session: DbSession, staff: Staff, payment_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    content = desk_payments.receipt_pdf(db_session, staff, payment_id)
    return Response(
        content,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="ontvangstbewijs-{payment_id}.pdf"'},
    )
