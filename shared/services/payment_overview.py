"""What finance sees of payment requests: the list by status with filters, its CSV export, the
amounts received per week, one request with its payments and timeline, and the search the
desk and the review list use to find a request (by structured communication, register
number or recipient name). Staff see only their organisation's requests.

"Overdue" is not a stored status: a request that is open or partially paid after its due date.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from shared.db import session_scope
from shared.errors import FieldErrors, InvalidInput, NotFound
from shared.i18n import N_, format_structured_communication
from shared.i18n import gettext as _
from shared.models.audit import AuditEvent
from shared.models.bank_statements import BankStatementLine
from shared.models.documents import Document
from shared.models.payments import (
    Payment,
    PaymentMethod,
    PaymentRefund,
    PaymentRequest,
    PaymentRequestStatus,
)
from shared.models.people import StaffRole
from shared.services import document_search, online_payments, payments, timeline
from shared.services.access import StaffContext
from shared.services.payments import Balance
from shared.services.registration import document_type_label, parse_amount_cents
from shared.services.timeline import TimelineEntry
from shared.timeutil import BRUSSELS, today

FINANCE_ROLES = (StaffRole.FINANCIEN, StaffRole.BEHEERDER)
PAGE_SIZE = 50
EXPORT_BATCH = 500
CHART_WEEKS = 12
OVERDUE = "overdue"
OPEN_STATUSES = (PaymentRequestStatus.OPEN, PaymentRequestStatus.PARTIALLY_PAID)
OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
ONLINE_METHODS = payments.ONLINE_METHODS
COUNTED = payments.COUNTED

STATUS_FILTERS: dict[str, str] = {
    PaymentRequestStatus.OPEN.value: N_("te betalen"),
    OVERDUE: N_("te laat"),
    PaymentRequestStatus.PARTIALLY_PAID.value: N_("gedeeltelijk betaald"),
    PaymentRequestStatus.PAID.value: N_("betaald"),
    PaymentRequestStatus.REFUNDED.value: N_("terugbetaald"),
    PaymentRequestStatus.SUSPENDED.value: N_("opgeschort"),
    PaymentRequestStatus.CANCELLED.value: N_("geannuleerd"),
}
METHOD_LABELS: dict[PaymentMethod, str] = {
    PaymentMethod.CARD: N_("kaart (online)"),
    PaymentMethod.BANCONTACT: N_("Bancontact (online)"),
    PaymentMethod.BANK_TRANSFER: N_("overschrijving"),
    PaymentMethod.CASH: N_("contant aan de balie"),
    PaymentMethod.CARD_TERMINAL: N_("betaalterminal aan de balie"),
}
STATUS_TONES: dict[str, str] = {
    PaymentRequestStatus.OPEN.value: "neutral",
    OVERDUE: "danger",
    PaymentRequestStatus.PARTIALLY_PAID.value: "warning",
    PaymentRequestStatus.PAID.value: "success",
    PaymentRequestStatus.REFUNDED.value: "neutral",
    PaymentRequestStatus.SUSPENDED.value: "warning",
    PaymentRequestStatus.CANCELLED.value: "neutral",
}


def status_key(request: PaymentRequest, on: date | None = None) -> str:
    """The status shown: the stored one, or `overdue` for an open request past its due date."""
    if request.status in OPEN_STATUSES and request.due_date < (on or today()):
        return OVERDUE
    return request.status.value


def status_label(key: str) -> str:
    return _(STATUS_FILTERS.get(key, key))


def method_label(method: PaymentMethod) -> str:
    return _(METHOD_LABELS[method])


def outstanding_cents(session: Session, request: PaymentRequest) -> int:
    """What is still due (never below zero; a surplus shows as overpaid)."""
    return payments.balance(session, request).outstanding_cents


def request_for_staff(
    session: Session, staff: StaffContext, request_id: uuid.UUID
) -> PaymentRequest:
    request = session.scalars(
        select(PaymentRequest)
        .options(joinedload(PaymentRequest.document).joinedload(Document.recipient))
        .where(
            PaymentRequest.id == request_id,
            PaymentRequest.organisation_id == staff.organisation_id,
        )
    ).one_or_none()
    if request is None:
        raise NotFound(_("Dit betaalverzoek bestaat niet of hoort bij een ander bestuur."))
    return request


# --- Search --------------------------------------------------------------------------------


def find_requests(
    session: Session, staff: StaffContext, query: str, *, limit: int = 20
) -> list[PaymentRequest]:
    """Requests of the staff member's organisation found by what the front office's search
    understands (`document_search.parse`): structured communication, register number of a
    sending (2026/000123), the letter's scanned QR code or access code, or recipient name."""
    try:
        parsed = document_search.parse(query)
    except InvalidInput:
        return []
    return list(
        session.scalars(
            select(PaymentRequest)
            .join(Document, Document.id == PaymentRequest.document_id)
            .options(joinedload(PaymentRequest.document).joinedload(Document.recipient))
            .where(
                PaymentRequest.organisation_id == staff.organisation_id,
                document_search.matching(staff.organisation_id, parsed),
            )
            .order_by(PaymentRequest.due_date.desc())
            .limit(limit)
        )
    )


# --- The list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    """On the due date."""
    document_type: str | None = None

    def query_items(self) -> dict[str, str]:
        items: dict[str, str] = {}
        if self.status:
            items["status"] = self.status
        if self.date_from:
            items["van"] = self.date_from.isoformat()
        if self.date_to:
            items["tot"] = self.date_to.isoformat()
        if self.document_type:
            items["soort"] = self.document_type
        return items


@dataclass(frozen=True)
class ParsedFilter:
    filter: PaymentFilter
    errors: dict[str, str] = field(default_factory=dict)


def _parse_day(value: str | None) -> tuple[date | None, bool]:
    if not value or not value.strip():
        return None, True
    try:
        return date.fromisoformat(value.strip()), True
    except ValueError:
        return None, False


def parse_filter(values: Mapping[str, str | None]) -> ParsedFilter:
    """The filter from the query string; a bad field is left out and explained."""
    errors: dict[str, str] = {}
    status = (values.get("status") or "").strip() or None
    if status and status not in STATUS_FILTERS:
        errors["status"] = _("Kies een status uit de lijst.")
        status = None
    date_from, ok_from = _parse_day(values.get("van"))
    if not ok_from:
        errors["van"] = _("Geef een datum als 2026-12-31.")
    date_to, ok_to = _parse_day(values.get("tot"))
    if not ok_to:
        errors["tot"] = _("Geef een datum als 2026-12-31.")
    if date_from and date_to and date_to < date_from:
        errors["tot"] = _("De einddatum ligt voor de begindatum.")
        date_to = None
    document_type = (values.get("soort") or "").strip() or None
    if document_type and len(document_type) > 50:
        errors["soort"] = _("Kies een soort uit de lijst.")
        document_type = None
    return ParsedFilter(PaymentFilter(status, date_from, date_to, document_type), errors)


def _filtered(staff: StaffContext, wanted: PaymentFilter) -> Select[PaymentRequest]:
    query = select(PaymentRequest).where(PaymentRequest.organisation_id == staff.organisation_id)
    now = today()
    if wanted.status == OVERDUE:
        query = query.where(PaymentRequest.status.in_(OPEN_STATUSES), PaymentRequest.due_date < now)
    elif wanted.status is not None and wanted.status in OPEN_VALUES:
        query = query.where(
            PaymentRequest.status == PaymentRequestStatus(wanted.status),
            PaymentRequest.due_date >= now,
        )
    elif wanted.status:
        query = query.where(PaymentRequest.status == PaymentRequestStatus(wanted.status))
    if wanted.date_from:
        query = query.where(PaymentRequest.due_date >= wanted.date_from)
    if wanted.date_to:
        query = query.where(PaymentRequest.due_date <= wanted.date_to)
    if wanted.document_type:
        query = query.where(
            PaymentRequest.document_id.in_(
                select(Document.id).where(
                    Document.organisation_id == staff.organisation_id,
                    Document.document_type == wanted.document_type,
                )
            )
        )
    return query


@dataclass(frozen=True)
class RequestRow:
    id: uuid.UUID
    document_id: uuid.UUID
    title: str
    document_type: str
    recipient_name: str
    structured_communication: str
    amount_cents: int
    received_cents: int
    due_date: date
    status: str


@dataclass(frozen=True)
class RequestPage:
    rows: list[RequestRow]
    total: int
    page: int
    pages: int


def _rows(session: Session, requests: Sequence[PaymentRequest]) -> list[RequestRow]:
    ids = [r.id for r in requests]
    received: dict[uuid.UUID, int] = {}
    if ids:
        received = {
            request_id: int(total or 0)
            for request_id, total in session.execute(
                select(
                    Payment.payment_request_id,
                    func.sum(Payment.amount_cents - Payment.refunded_cents),
                )
                .where(Payment.payment_request_id.in_(ids), Payment.status.in_(COUNTED))
                .group_by(Payment.payment_request_id)
            )
        }
    now = today()
    return [
        RequestRow(
            id=r.id,
            document_id=r.document_id,
            title=r.document.title,
            document_type=r.document.document_type,
            recipient_name=r.document.recipient.name,
            structured_communication=r.structured_communication,
            amount_cents=r.amount_cents,
            received_cents=received.get(r.id, 0),
            due_date=r.due_date,
            status=status_key(r, now),
        )
        for r in requests
    ]


def request_page(
    session: Session, staff: StaffContext, wanted: PaymentFilter, *, page: int = 1
) -> RequestPage:
    staff.require(*FINANCE_ROLES)
    query = _filtered(staff, wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    requests = session.scalars(
        query.options(joinedload(PaymentRequest.document).joinedload(Document.recipient))
        .order_by(PaymentRequest.due_date.desc(), PaymentRequest.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return RequestPage(_rows(session, requests), total, page, pages)


def status_counts(session: Session, staff: StaffContext) -> dict[str, int]:
    """How many requests of the organisation have each shown status (overdue counted apart)."""
    staff.require(*FINANCE_ROLES)
    now = today()
    counts = dict.fromkeys(STATUS_FILTERS, 0)
    overdue = and_(PaymentRequest.status.in_(OPEN_STATUSES), PaymentRequest.due_date < now)
    for status, late, count in session.execute(
        select(PaymentRequest.status, overdue, func.count())
        .where(PaymentRequest.organisation_id == staff.organisation_id)
        .group_by(PaymentRequest.status, overdue)
    ):
        key = OVERDUE if late else PaymentRequestStatus(status).value
        counts[key] = counts.get(key, 0) + count
    return counts


def document_types(session: Session, staff: StaffContext) -> list[tuple[str, str]]:
    types = session.scalars(
        select(Document.document_type)
        .join(PaymentRequest, PaymentRequest.document_id == Document.id)
        .where(PaymentRequest.organisation_id == staff.organisation_id)
        .distinct()
    ).all()
    return sorted(((t, document_type_label(t)) for t in types), key=lambda item: item[1])


# --- Received per week ---------------------------------------------------------------------


@dataclass(frozen=True)
class WeekTotal:
    monday: date
    cents: int
    count: int
    online_cents: int
    """Of `cents`, what came in online (card and Bancontact)."""


def received_per_week(
    session: Session, staff: StaffContext, *, weeks: int = CHART_WEEKS, until: date | None = None
) -> list[WeekTotal]:
    """Money received (payments that came in, by the day they came in) per week, Monday to
    Sunday in Brussels time, the last `weeks` weeks up to and including this one."""
    staff.require(*FINANCE_ROLES)
    last = until or today()
    this_monday = last - timedelta(days=last.weekday())
    first_monday = this_monday - timedelta(weeks=weeks - 1)
    start = datetime.combine(first_monday, time(0), tzinfo=BRUSSELS).astimezone(UTC)
    totals = {first_monday + timedelta(weeks=n): [0, 0, 0] for n in range(weeks)}
    for received_at, cents, method in session.execute(
        select(Payment.received_at, Payment.amount_cents, Payment.method).where(
            Payment.organisation_id == staff.organisation_id,
            Payment.status.in_(COUNTED),
            Payment.received_at >= start,
        )
    ):
        if received_at is None:
            continue
        day = received_at.astimezone(BRUSSELS).date()
        monday = day - timedelta(days=day.weekday())
        if monday in totals:
            totals[monday][0] += cents
            totals[monday][1] += 1
            if method in ONLINE_METHODS:
                totals[monday][2] += cents
    return [
        WeekTotal(monday, cents, count, online) for monday, (cents, count, online) in totals.items()
    ]


# --- Export --------------------------------------------------------------------------------

CSV_HEADER = (
    N_("Gestructureerde mededeling"),
    N_("Stuk"),
    N_("Soort"),
    N_("Bestemmeling"),
    N_("Bedrag"),
    N_("Ontvangen"),
    N_("Vervaldag"),
    N_("Status"),
)


def _euro(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}" if cents >= 0 else f"-{_euro(-cents)}"


def export_csv(staff: StaffContext, wanted: PaymentFilter) -> Iterator[str]:
    """The filtered requests as CSV (semicolon-separated, UTF-8 with BOM), streamed in
    batches read in short transactions. Access is checked now, before anything streams."""
    staff.require(*FINANCE_ROLES)
    return _csv_chunks(staff, wanted)


def _csv_chunks(staff: StaffContext, wanted: PaymentFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([_(h) for h in CSV_HEADER])
    after: tuple[date, uuid.UUID] | None = None
    while True:
        with session_scope() as session:
            query = _filtered(staff, wanted).options(
                joinedload(PaymentRequest.document).joinedload(Document.recipient)
            )
            if after is not None:
                query = query.where(
                    or_(
                        PaymentRequest.due_date > after[0],
                        and_(PaymentRequest.due_date == after[0], PaymentRequest.id > after[1]),
                    )
                )
            batch = session.scalars(
                query.order_by(PaymentRequest.due_date, PaymentRequest.id).limit(EXPORT_BATCH)
            ).all()
            rows = _rows(session, batch)
        for row in rows:
            writer.writerow(
                [
                    format_structured_communication(row.structured_communication),
                    row.title,
                    document_type_label(row.document_type),
                    row.recipient_name,
                    _euro(row.amount_cents),
                    _euro(row.received_cents),
                    row.due_date.isoformat(),
                    status_label(row.status),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < EXPORT_BATCH:
            return
        after = (batch[-1].due_date, batch[-1].id)


def export_file_name() -> str:
    return f"betalingen-{today().isoformat()}.csv"


# --- One request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentView:
    payment: Payment
    refunds: list[PaymentRefund]
    refundable_cents: int

    @property
    def by_hand(self) -> bool:
        """Refunded by finance themselves (transfer, desk), not through Stripe."""
        return self.payment.method not in ONLINE_METHODS


@dataclass(frozen=True)
class RequestDetail:
    request: PaymentRequest
    status: str
    payments: list[PaymentView]
    balance: Balance
    timeline: list[TimelineEntry]
    bank_lines: list[BankStatementLine]

    @property
    def received_cents(self) -> int:
        return self.balance.paid_cents

    @property
    def outstanding_cents(self) -> int:
        return self.balance.outstanding_cents


def request_detail(session: Session, staff: StaffContext, request_id: uuid.UUID) -> RequestDetail:
    staff.require(*FINANCE_ROLES)
    request = request_for_staff(session, staff, request_id)
    lines_of_payments = payments.payments_of(session, request)
    lines = list(
        session.scalars(
            select(BankStatementLine)
            .where(BankStatementLine.payment_request_id == request.id)
            .order_by(BankStatementLine.booking_date)
        )
    )
    return RequestDetail(
        request=request,
        status=status_key(request),
        payments=[
            PaymentView(line.payment, line.refunds, payments.refundable_cents(line.payment))
            for line in lines_of_payments
        ],
        balance=payments.balance(session, request),
        timeline=payment_timeline(session, staff, request, lines),
        bank_lines=lines,
    )


def payment_timeline(
    session: Session,
    staff: StaffContext,
    request: PaymentRequest,
    lines: Sequence[BankStatementLine],
) -> list[TimelineEntry]:
    """The request's timeline (timeline.payment_request_timeline: the request and its
    payments) with the events of the bank statement lines finance assigned to it or looked
    at, oldest first."""
    entries = timeline.payment_request_timeline(session, staff.organisation_id, request.id)
    if lines:
        events = session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.organisation_id == staff.organisation_id,
                AuditEvent.object_id.in_([str(line.id) for line in lines]),
            )
            .order_by(AuditEvent.sequence)
        ).all()
        entries.extend(timeline.describe(event) for event in events)
        entries.sort(key=lambda entry: entry.occurred_at)
    return entries


# --- Refunds -------------------------------------------------------------------------------


def refund_payment(
    session: Session,
    staff: StaffContext,
    request_id: uuid.UUID,
    payment_id: uuid.UUID,
    *,
    amount: str,
    reason: str,
    seen_refundable: str,
) -> PaymentRefund:
    """Refund a payment: through Stripe for card and Bancontact (pay-core's
    `online_payments.refund_online`), else record the refund finance made themselves (a
    transfer back, cash at the desk). Guarded by the refundable amount the page showed
    (`seen_refundable`, cents): when it changed meanwhile, payments.RefundMismatch and nothing
    is refunded. FieldErrors on bad input."""
    staff.require(*FINANCE_ROLES)
    request = request_for_staff(session, staff, request_id)
    payment = session.scalars(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.payment_request_id == request.id,
            Payment.organisation_id == staff.organisation_id,
        )
    ).one_or_none()
    if payment is None:
        raise NotFound(_("Deze betaling bestaat niet of hoort bij een ander bestuur."))
    prefix = f"terugbetaling-{payment.id}-"
    errors: dict[str, str] = {}
    cents: int | None = None
    try:
        cents = parse_amount_cents(amount)
    except InvalidInput as error:
        errors[prefix + "bedrag"] = error.message
    if cents is None and not errors:
        errors[prefix + "bedrag"] = _("Geef het terug te betalen bedrag.")
    reason = reason.strip()
    if not reason:
        errors[prefix + "reden"] = _("Geef de reden van de terugbetaling.")
    elif len(reason) > 500:
        errors[prefix + "reden"] = _("De reden is te lang (ten hoogste 500 tekens).")
    if not seen_refundable.strip().isdigit():
        errors[prefix + "bedrag"] = _("Het formulier is verlopen; laad de pagina opnieuw.")
    if errors:
        raise FieldErrors(errors)
    assert cents is not None
    if payment.method in ONLINE_METHODS:
        return online_payments.refund_online(
            session,
            payment=payment,
            amount_cents=cents,
            expected_refundable_cents=int(seen_refundable),
            actor=staff.actor,
            reason=reason,
        )
    return payments.refund(
        session,
        payment=payment,
        amount_cents=cents,
        expected_refundable_cents=int(seen_refundable),
        actor=staff.actor,
        reason=reason,
    )
