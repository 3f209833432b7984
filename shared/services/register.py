"""The register of outgoing mail (register uitgaande post) and the consultation log.

**The register** lists every dispatch that received a register number (2026/000123), newest
number first, for the staff member's organisation only. A dispatch is numbered when it is
submitted (see `shared.services.dispatch`), so a failed dispatch that got its number stays in
the register, with its reason: the sequence has no holes.

- *Filters*: period (the sending date in Brussels; a numbered dispatch that was never sent —
  failed at submission — counts from the day it was queued), channel, status, document type,
  and one search field: a register number (`2026/123` or `2026/000123`) finds that number,
  anything else is looked for in the recipient's name and the document's title.
- *Pages* use keyset pagination on `(register_year, register_sequence)`: a page asks for the
  rows after (or before) the last number it showed, through the unique index of the register,
  so page 20,000 costs what page 1 costs. `RegisterPage.next_cursor` / `previous_cursor` are
  the numbers to continue from. A period first looks up the lowest and highest number sent
  in it (index on the sending date) and bounds the walk to them; a search in names and titles
  asks each column on its own (trigram indexes on PostgreSQL) and merges the two pages.
- *Overview*: totals per channel and, per week or month, the volume per channel and the share
  delivered, over the filtered set (`overview()`).
- *Exports*: `export_csv()` is a generator of CSV text chunks. It reads the register in keyset
  batches of `EXPORT_BATCH` rows, each in its own short transaction, so memory stays flat
  whatever the number of rows, no database connection is held while a slow client downloads,
  and on SQLite no write lock is held between batches. `export_pdf()` renders at most
  `PDF_MAX_ROWS` rows (a PDF of a million lines helps nobody; the CSV has them all) and says
  so on the page when it cuts.

**The consultation log** (`consultation_log()`, `export_consultations()`) lists the
organisation's national-register and KBO look-ups for the data protection officer, filtered by
period, staff member and purpose, newest first with keyset pagination on
`(occurred_at, id)`. The export reuses `recipients.export_consultations_csv()`: national
register numbers appear masked (birth date only), never in clear.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from shared.db import session_scope
from shared.errors import InvalidInput
from shared.i18n import N_, format_date, format_datetime, gettext
from shared.models.audit import RegisterConsultation
from shared.models.dispatch import Channel, Dispatch, DispatchStatus
from shared.models.documents import Document
from shared.models.people import StaffRole
from shared.models.register_totals import RegisterDailyTotal, add_counts, register_day
from shared.pdf.register import RegisterPdf, RegisterPdfRow, render_register_pdf
from shared.protection import mask_ssin, unseal
from shared.services import document_types
from shared.services.access import StaffContext
from shared.services.recipients import export_consultations_csv
from shared.timeutil import BRUSSELS, today

REGISTER_ROLES = (StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
CONSULTATION_ROLES = (StaffRole.BEHEERDER,)
"""Zegel has no role for the data protection officer yet: the log is for the beheerder."""

PAGE_SIZE = 50
EXPORT_BATCH = 2000
PDF_MAX_ROWS = 2000
CHART_MAX_BUCKETS = 36
WEEKS_UP_TO_DAYS = 16 * 7
"""A period up to 16 weeks is charted per week, a longer one per month."""

CHANNEL_NAMES: dict[Channel, str] = {
    Channel.EBOX: N_("eBox"),
    Channel.PAPER: N_("Gewone post"),
    Channel.REGISTERED: N_("Aangetekend"),
}
STATUS_NAMES: dict[DispatchStatus, str] = {
    DispatchStatus.QUEUED: N_("In wachtrij"),
    DispatchStatus.SUBMITTED: N_("Aangeboden"),
    DispatchStatus.PRINTED: N_("Afgedrukt"),
    DispatchStatus.POSTED: N_("Gepost"),
    DispatchStatus.DELIVERED: N_("Afgeleverd"),
    DispatchStatus.READ: N_("Gelezen"),
    DispatchStatus.RETURNED: N_("Teruggekeerd"),
    DispatchStatus.FAILED: N_("Mislukt"),
}
STATUS_TONES: dict[DispatchStatus, str] = {
    DispatchStatus.QUEUED: "neutral",
    DispatchStatus.SUBMITTED: "info",
    DispatchStatus.PRINTED: "info",
    DispatchStatus.POSTED: "info",
    DispatchStatus.DELIVERED: "success",
    DispatchStatus.READ: "success",
    DispatchStatus.RETURNED: "warning",
    DispatchStatus.FAILED: "danger",
}
DOCUMENT_TYPE_NAMES: dict[str, str] = document_types.names()
"""The catalogue's document types (`shared.services.document_types`)."""
DELIVERED = (DispatchStatus.DELIVERED, DispatchStatus.READ)
"""A dispatch in one of these reached the recipient (eBox, or the letter was delivered)."""

_NUMBER = re.compile(r"^\s*(\d{4})\s*/\s*(\d{1,9})\s*$")
_CURSOR = re.compile(r"^(\d{4})-(\d{1,9})$")


def channel_name(channel: Channel) -> str:
    return gettext(CHANNEL_NAMES[channel])


def status_name(status: DispatchStatus) -> str:
    return gettext(STATUS_NAMES[status])


def document_type_name(document_type: str) -> str:
    return document_types.name(document_type)


# -- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFilter:
    date_from: date | None = None
    date_to: date | None = None
    """Inclusive."""
    channel: Channel | None = None
    status: DispatchStatus | None = None
    document_type: str | None = None
    search: str = ""

    def query_items(self) -> dict[str, str]:
        """The filter as the page's query parameters (for links: pages, exports)."""
        items = {
            "van": self.date_from.isoformat() if self.date_from else "",
            "tot": self.date_to.isoformat() if self.date_to else "",
            "kanaal": self.channel.value if self.channel else "",
            "status": self.status.value if self.status else "",
            "soort": self.document_type or "",
            "zoek": self.search,
        }
        return {key: value for key, value in items.items() if value}


@dataclass(frozen=True)
class ParsedFilter:
    filter: RegisterFilter
    errors: dict[str, str] = field(default_factory=dict)
    """Field name (as in the form) → Dutch message. The filter leaves out what was wrong."""


def _date(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = gettext("Geef een datum als jjjj-mm-dd.")
        return None


def parse_filter(params: Mapping[str, str | None]) -> ParsedFilter:
    """Read the register's filter from query parameters: van, tot, kanaal, status, soort, zoek."""
    errors: dict[str, str] = {}
    date_from = _date(params.get("van") or "", "van", errors)
    date_to = _date(params.get("tot") or "", "tot", errors)
    if date_from and date_to and date_to < date_from:
        errors["tot"] = gettext("De einddatum ligt vóór de begindatum.")
        date_to = None
    channel = None
    if raw := (params.get("kanaal") or "").strip():
        try:
            channel = Channel(raw)
        except ValueError:
            errors["kanaal"] = gettext("Kies een kanaal uit de lijst.")
    status = None
    if raw := (params.get("status") or "").strip():
        try:
            status = DispatchStatus(raw)
        except ValueError:
            errors["status"] = gettext("Kies een status uit de lijst.")
    document_type = (params.get("soort") or "").strip() or None
    if document_type is not None and document_type not in DOCUMENT_TYPE_NAMES:
        errors["soort"] = gettext("Kies een soort stuk uit de lijst.")
        document_type = None
    search = (params.get("zoek") or "").strip()[:200]
    return ParsedFilter(
        RegisterFilter(date_from, date_to, channel, status, document_type, search), errors
    )


def _start_of(day: date) -> datetime:
    """Midnight in Brussels at the start of `day`, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=BRUSSELS)


def _period_branches(
    start: datetime | None, end: datetime | None
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Sent in [start, end); or never sent (failed at submission) and queued in [start, end)."""

    def between(column: InstrumentedAttribute[Any]) -> list[ColumnElement[bool]]:
        bounds: list[ColumnElement[bool]] = []
        if start is not None:
            bounds.append(column >= start)
        if end is not None:
            bounds.append(column < end)
        return bounds

    sent = Dispatch.submitted_at
    return and_(*between(sent)), and_(sent.is_(None), *between(Dispatch.created_at))


def _in_period(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """Sent in [start, end); a numbered dispatch that was never sent counts from its queueing."""
    return or_(*_period_branches(start, end))


def _conditions(
    context: StaffContext, wanted: RegisterFilter, *, text_search: bool = True
) -> list[ColumnElement[bool]]:
    """The filter as conditions on Dispatch (joined to Document where a condition needs it).
    `text_search=False` leaves out a search in names and titles (the caller adds it)."""
    conditions: list[ColumnElement[bool]] = [
        Dispatch.organisation_id == context.organisation_id,
        Dispatch.register_year.is_not(None),
    ]
    if wanted.date_from or wanted.date_to:
        conditions.append(
            _in_period(
                _start_of(wanted.date_from) if wanted.date_from else None,
                _start_of(wanted.date_to + timedelta(days=1)) if wanted.date_to else None,
            )
        )
    if wanted.channel is not None:
        conditions.append(Dispatch.channel == wanted.channel)
    if wanted.status is not None:
        conditions.append(Dispatch.status == wanted.status)
    if wanted.document_type is not None:
        conditions.append(
            Dispatch.document_id.in_(
                select(Document.id).where(
                    Document.organisation_id == context.organisation_id,
                    Document.document_type == wanted.document_type,
                )
            )
        )
    if wanted.search:
        number = _NUMBER.match(wanted.search)
        if number:
            conditions.append(Dispatch.register_year == int(number.group(1)))
            conditions.append(Dispatch.register_sequence == int(number.group(2)))
        elif text_search:
            conditions.append(
                Dispatch.id.in_(
                    union(
                        *(
                            select(Dispatch.id)
                            .join(Document, Document.id == Dispatch.document_id)
                            .where(Dispatch.organisation_id == context.organisation_id, match)
                            for match in _text_matches(wanted.search)
                        )
                    )
                )
            )
    return conditions


def _text_search(wanted: RegisterFilter) -> bool:
    return bool(wanted.search) and not _NUMBER.match(wanted.search)


def _text_matches(search: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """A word in the recipient's name, or in the document's title (each has a trigram index
    on PostgreSQL, so each is asked on its own: an OR across two tables could use neither)."""
    return (
        Dispatch.recipient_name.icontains(search, autoescape=True),
        Document.title.icontains(search, autoescape=True),
    )


# -- pages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterRow:
    dispatch_id: uuid.UUID
    document_id: uuid.UUID
    register_year: int
    register_sequence: int
    submitted_at: datetime | None
    queued_at: datetime
    channel: Channel
    with_acknowledgement: bool
    status: DispatchStatus
    recipient_name: str
    document_title: str
    document_type: str
    delivered_at: datetime | None
    failure_reason: str | None
    copy_of_id: uuid.UUID | None = None
    """Set for a paper copy of an unread eBox message."""

    @property
    def register_number(self) -> str:
        return f"{self.register_year}/{self.register_sequence:06d}"

    @property
    def cursor(self) -> str:
        return f"{self.register_year}-{self.register_sequence}"


@dataclass(frozen=True)
class RegisterPage:
    rows: list[RegisterRow]
    next_cursor: str | None
    """Ask `after=next_cursor` for the next (older) page; None on the last page."""
    previous_cursor: str | None
    """Ask `before=previous_cursor` for the previous (newer) page; None on the first page."""


_COLUMNS = (
    Dispatch.id,
    Dispatch.document_id,
    Dispatch.register_year,
    Dispatch.register_sequence,
    Dispatch.submitted_at,
    Dispatch.created_at,
    Dispatch.channel,
    Dispatch.with_acknowledgement,
    Dispatch.status,
    Dispatch.recipient_name,
    Document.title,
    Document.document_type,
    Dispatch.delivered_at,
    Dispatch.failure_reason,
    Dispatch.copy_of_id,
)


def _rows(
    session: Session,
    context: StaffContext,
    wanted: RegisterFilter,
    *,
    after: tuple[int, int] | None,
    before: tuple[int, int] | None,
    limit: int,
) -> list[RegisterRow]:
    """Up to `limit` rows below `after` (newest first) or above `before` (oldest first).

    A search in names and titles asks each column in its own branch, each ordered and cut
    to `limit` (so that each can use its own index, or walk the register's index when the
    word is common), and merges the two: the first `limit` of the union are the same rows."""
    key = tuple_(Dispatch.register_year, Dispatch.register_sequence)
    keyset: list[ColumnElement[bool]] = []
    if after is not None:
        keyset.append(key < after)
    if before is not None:
        keyset.append(key > before)
    upwards = before is not None
    if wanted.date_from or wanted.date_to:
        # Rows of a period lie together in the register, but the planner cannot know that
        # and would walk the register backwards from its newest number to reach an old
        # period. The lowest and highest number sent in the period (from the period's index
        # alone) bound the walk to the period.
        number = cast(Dispatch.register_year, BigInteger) * 1_000_000_000 + cast(
            Dispatch.register_sequence, BigInteger
        )
        sent, never_sent = _period_branches(
            _start_of(wanted.date_from) if wanted.date_from else None,
            _start_of(wanted.date_to + timedelta(days=1)) if wanted.date_to else None,
        )
        numbers = union_all(
            *(
                select(number.label("number")).where(
                    Dispatch.organisation_id == context.organisation_id,
                    Dispatch.register_year.is_not(None),
                    branch,
                )
                for branch in (sent, never_sent)
            )
        ).subquery()
        low, high = session.execute(
            select(func.min(numbers.c.number), func.max(numbers.c.number))
        ).one()
        if low is None or high is None:
            return []
        keyset.append(key >= (low // 1_000_000_000, low % 1_000_000_000))
        keyset.append(key <= (high // 1_000_000_000, high % 1_000_000_000))

    def order(year: Any, sequence: Any) -> tuple[Any, Any]:
        return (year, sequence) if upwards else (year.desc(), sequence.desc())

    def branch(*extra: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
        return (
            select(*_COLUMNS)
            .join(Document, Document.id == Dispatch.document_id)
            .where(*_conditions(context, wanted, text_search=False), *keyset, *extra)
            .order_by(*order(Dispatch.register_year, Dispatch.register_sequence))
            .limit(limit)
        )

    if not _text_search(wanted):
        return [_row(tuple(r)) for r in session.execute(branch()).all()]
    branches = union(*(select(branch(m).subquery()) for m in _text_matches(wanted.search)))
    merged = branches.subquery()
    query = (
        select(merged)
        .order_by(*order(merged.c.register_year, merged.c.register_sequence))
        .limit(limit)
    )
    return [_row(tuple(r)) for r in session.execute(query).all()]


def _row(values: tuple[object, ...]) -> RegisterRow:
    return RegisterRow(*values)  # type: ignore[arg-type]


def _parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    found = _CURSOR.match(cursor.strip())
    if not found:
        raise InvalidInput(gettext("Deze pagina van het register bestaat niet."))
    return int(found.group(1)), int(found.group(2))


def register_page(
    session: Session,
    context: StaffContext,
    wanted: RegisterFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
) -> RegisterPage:
    """One page of the register, newest number first. `after`/`before`: a row's `cursor`."""
    context.require(*REGISTER_ROLES)
    after_key, before_key = _parse_cursor(after), _parse_cursor(before)
    if before_key is not None:
        # The newer page: the `size` rows just above `before`, read upwards, then turned round.
        fetched = _rows(session, context, wanted, after=None, before=before_key, limit=size + 1)
        rows = fetched[:size][::-1]
        has_newer, has_older = len(fetched) > size, True
    else:
        fetched = _rows(session, context, wanted, after=after_key, before=None, limit=size + 1)
        rows = fetched[:size]
        has_newer, has_older = after_key is not None, len(fetched) > size
    return RegisterPage(
        rows=rows,
        next_cursor=rows[-1].cursor if rows and has_older else None,
        previous_cursor=rows[0].cursor if rows and has_newer else None,
    )


# -- totals and chart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelTotal:
    channel: Channel
    count: int
    delivered: int

    @property
    def delivered_share(self) -> int:
        """Percentage delivered, rounded down (0 when there is nothing)."""
        return self.delivered * 100 // self.count if self.count else 0


@dataclass(frozen=True)
class Bucket:
    start: date
    label: str
    counts: dict[Channel, int]
    delivered: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def delivered_share(self) -> int:
        return self.delivered * 100 // self.total if self.total else 0


@dataclass(frozen=True)
class Overview:
    totals: list[ChannelTotal]
    buckets: list[Bucket]
    per_week: bool
    chart_from: date
    chart_to: date
    """Inclusive: the days the chart covers."""

    @property
    def count(self) -> int:
        return sum(t.count for t in self.totals)

    @property
    def delivered(self) -> int:
        return sum(t.delivered for t in self.totals)

    @property
    def delivered_share(self) -> int:
        return self.delivered * 100 // self.count if self.count else 0

    @property
    def largest_bucket(self) -> int:
        return max((b.total for b in self.buckets), default=0)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _buckets(first: date, last: date, per_week: bool) -> list[date]:
    """Start days of the weeks (Monday) or months covering first..last, at most the last
    CHART_MAX_BUCKETS of them."""
    starts: list[date] = []
    current = first - timedelta(days=first.weekday()) if per_week else _month_start(first)
    while current <= last:
        starts.append(current)
        current = current + timedelta(days=7) if per_week else _next_month(current)
    return starts[-CHART_MAX_BUCKETS:]


def _bucket_label(start: date, per_week: bool) -> str:
    if per_week:
        return gettext("week van %(day)s") % {"day": format_date(start, "d MMM")}
    return format_date(start, "MMM yyyy")


_Counts = dict[Channel, tuple[int, int]]
"""channel → (count, delivered)."""


def _from_dispatches(
    session: Session,
    context: StaffContext,
    wanted: RegisterFilter,
    edges: list[date],
    *,
    chart: bool = True,
) -> tuple[_Counts, dict[int, _Counts]]:
    """Totals and per-bucket counts by counting the dispatches (for a search)."""
    delivered = func.sum(case((Dispatch.status.in_(DELIVERED), 1), else_=0))

    def base(*columns: Any) -> Select[*tuple[Any, ...]]:
        return select(*columns).where(*_conditions(context, wanted))

    totals = {
        Channel(channel): (int(count), int(done or 0))
        for channel, count, done in session.execute(
            base(Dispatch.channel, func.count(), delivered).group_by(Dispatch.channel)
        ).all()
    }
    buckets: dict[int, _Counts] = {}
    if not chart:
        return totals, buckets
    when = func.coalesce(Dispatch.submitted_at, Dispatch.created_at)
    bucket = case(
        *((when < _start_of(edge), index) for index, edge in enumerate(edges[1:])), else_=-1
    )
    charted = replace(wanted, date_from=edges[0], date_to=edges[-1] - timedelta(days=1))
    for index, channel, count, done in session.execute(
        select(bucket.label("bucket"), Dispatch.channel, func.count(), delivered)
        .where(*_conditions(context, charted))
        .group_by("bucket", Dispatch.channel)
    ).all():
        buckets.setdefault(int(index), {})[Channel(channel)] = (int(count), int(done or 0))
    return totals, buckets


def _from_daily_totals(
    session: Session,
    context: StaffContext,
    wanted: RegisterFilter,
    edges: list[date],
    *,
    chart: bool = True,
) -> tuple[_Counts, dict[int, _Counts]]:
    """Totals and per-bucket counts from the daily totals (`RegisterDailyTotal`), which hold
    the same numbers as a count of the dispatches, in a few thousand rows a year."""
    total = RegisterDailyTotal
    delivered = func.sum(
        case((total.status.in_([s.value for s in DELIVERED]), total.count), else_=0)
    )

    def conditions(first: date | None, last: date | None) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [total.organisation_id == context.organisation_id]
        if first is not None:
            found.append(total.day >= first)
        if last is not None:
            found.append(total.day <= last)
        if wanted.channel is not None:
            found.append(total.channel == wanted.channel.value)
        if wanted.status is not None:
            found.append(total.status == wanted.status.value)
        if wanted.document_type is not None:
            found.append(total.document_type == wanted.document_type)
        return found

    totals = {
        Channel(channel): (int(count or 0), int(done or 0))
        for channel, count, done in session.execute(
            select(total.channel, func.sum(total.count), delivered)
            .where(*conditions(wanted.date_from, wanted.date_to))
            .group_by(total.channel)
        ).all()
        if count
    }
    buckets: dict[int, _Counts] = {}
    if not chart:
        return totals, buckets
    bucket = case(*((total.day < edge, index) for index, edge in enumerate(edges[1:])), else_=-1)
    for index, channel, count, done in session.execute(
        select(bucket.label("bucket"), total.channel, func.sum(total.count), delivered)
        .where(*conditions(edges[0], edges[-1] - timedelta(days=1)))
        .group_by("bucket", total.channel)
    ).all():
        if count:
            buckets.setdefault(int(index), {})[Channel(channel)] = (int(count), int(done or 0))
    return totals, buckets


def _channel_totals(found: _Counts, wanted: RegisterFilter) -> list[ChannelTotal]:
    return [
        ChannelTotal(channel, *found.get(channel, (0, 0)))
        for channel in Channel
        if channel in found or wanted.channel in (None, channel)
    ]


def totals(session: Session, context: StaffContext, wanted: RegisterFilter) -> list[ChannelTotal]:
    """Only the totals per channel of `overview()` (no chart)."""
    context.require(*REGISTER_ROLES)
    source = _from_dispatches if wanted.search else _from_daily_totals
    found, _ = source(session, context, wanted, [], chart=False)
    return _channel_totals(found, wanted)


def overview(session: Session, context: StaffContext, wanted: RegisterFilter) -> Overview:
    """Totals per channel over the filtered register, and volume and delivery per week or
    month over the filter's period (or the last twelve months when it has none).

    Read from the daily totals (`RegisterDailyTotal`, kept exact with every change of a
    dispatch) unless the filter searches, which only the dispatches themselves can answer."""
    context.require(*REGISTER_ROLES)
    chart_to = wanted.date_to or today()
    twelve_months_back = _next_month(_month_start(chart_to))
    twelve_months_back = twelve_months_back.replace(year=twelve_months_back.year - 1)
    chart_from = wanted.date_from or twelve_months_back
    per_week = (chart_to - chart_from).days < WEEKS_UP_TO_DAYS
    starts = _buckets(chart_from, chart_to, per_week)
    first = max(starts[0], chart_from)
    edges = [first, *starts[1:], chart_to + timedelta(days=1)]
    """Bucket i covers the days edges[i] ≤ day < edges[i + 1]."""
    source = _from_dispatches if wanted.search else _from_daily_totals
    totals_found, by_bucket = source(session, context, wanted, edges)
    totals = _channel_totals(totals_found, wanted)
    buckets = []
    for index, start in enumerate(starts):
        counts = by_bucket.get(index, {})
        buckets.append(
            Bucket(
                start=start,
                label=_bucket_label(start, per_week),
                counts={channel: counts.get(channel, (0, 0))[0] for channel in Channel},
                delivered=sum(done for _count, done in counts.values()),
            )
        )
    return Overview(totals, buckets, per_week, first, chart_to)


def rebuild_daily_totals(session: Session, organisation_id: uuid.UUID | None = None) -> int:
    """Count the register again from the dispatches and replace the daily totals with the
    count (of one organisation, or all), in the caller's transaction: after a bulk load that
    bypassed the unit of work, or to repair. Returns the number of dispatches counted."""
    rows = recount_daily_totals(session, organisation_id)
    wipe = delete(RegisterDailyTotal)
    if organisation_id is not None:
        wipe = wipe.where(RegisterDailyTotal.organisation_id == organisation_id)
    session.execute(wipe)
    add_counts(session, rows)
    return sum(rows.values())


def recount_daily_totals(
    session: Session, organisation_id: uuid.UUID | None = None
) -> Counter[tuple[uuid.UUID, date, str, str, str]]:
    """The daily totals as a count of the numbered dispatches would give them."""
    query = (
        select(
            Dispatch.organisation_id,
            Dispatch.submitted_at,
            Dispatch.created_at,
            Dispatch.channel,
            Dispatch.status,
            Document.document_type,
        )
        .join(Document, Document.id == Dispatch.document_id)
        .where(Dispatch.register_year.is_not(None))
        .execution_options(yield_per=20_000)
    )
    if organisation_id is not None:
        query = query.where(Dispatch.organisation_id == organisation_id)
    found: Counter[tuple[uuid.UUID, date, str, str, str]] = Counter()
    for org, submitted_at, created_at, channel, status, document_type in session.execute(query):
        found[
            (
                org,
                register_day(submitted_at, created_at),
                channel.value,
                status.value,
                document_type,
            )
        ] += 1
    return found


def daily_totals(
    session: Session, organisation_id: uuid.UUID | None = None
) -> Counter[tuple[uuid.UUID, date, str, str, str]]:
    """The daily totals as stored (rows with a count of zero left out)."""
    query = select(RegisterDailyTotal).where(RegisterDailyTotal.count != 0)
    if organisation_id is not None:
        query = query.where(RegisterDailyTotal.organisation_id == organisation_id)
    return Counter(
        {
            (r.organisation_id, r.day, r.channel, r.status, r.document_type): r.count
            for r in session.scalars(query)
        }
    )


# -- exports ------------------------------------------------------------------------------------

CSV_HEADER = (
    "registernummer",
    "verzonden_op",
    "kanaal",
    "aangetekend_met_ontvangstbewijs",
    "status",
    "bestemmeling",
    "stuk",
    "soort",
    "afgeleverd_op",
    "reden_mislukt",
)


def _csv_values(row: RegisterRow) -> list[str]:
    return [
        row.register_number,
        row.submitted_at.astimezone(BRUSSELS).isoformat() if row.submitted_at else "",
        row.channel.value,
        "ja" if row.with_acknowledgement else "nee",
        row.status.value,
        row.recipient_name,
        row.document_title,
        row.document_type,
        row.delivered_at.astimezone(BRUSSELS).isoformat() if row.delivered_at else "",
        row.failure_reason or "",
    ]


def _batches(
    context: StaffContext, wanted: RegisterFilter, batch_size: int
) -> Iterator[list[RegisterRow]]:
    """The filtered register in keyset batches, each read in its own short transaction."""
    cursor: str | None = None
    while True:
        with session_scope() as session:
            page = register_page(session, context, wanted, after=cursor, size=batch_size)
        if page.rows:
            yield page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_csv(
    context: StaffContext, wanted: RegisterFilter, *, batch_size: int | None = None
) -> Iterator[str]:
    """The filtered register as CSV (semicolon-separated, UTF-8 with BOM for spreadsheets),
    one chunk of text per batch of rows. Access is checked now, before anything streams."""
    context.require(*REGISTER_ROLES)
    return _csv_chunks(context, wanted, batch_size or EXPORT_BATCH)


def _csv_chunks(context: StaffContext, wanted: RegisterFilter, batch_size: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    for rows in _batches(context, wanted, batch_size):
        for row in rows:
            writer.writerow(_csv_values(row))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def export_file_name(kind: str, extension: str) -> str:
    return f"{kind}-{today().isoformat()}.{extension}"


def _filter_summary(wanted: RegisterFilter) -> str:
    parts: list[str] = []
    if wanted.date_from or wanted.date_to:
        parts.append(
            gettext("periode %(start)s – %(end)s")
            % {
                "start": format_date(wanted.date_from, "short") if wanted.date_from else "…",
                "end": format_date(wanted.date_to, "short") if wanted.date_to else "…",
            }
        )
    if wanted.channel:
        parts.append(gettext("kanaal: %(name)s") % {"name": channel_name(wanted.channel)})
    if wanted.status:
        parts.append(gettext("status: %(name)s") % {"name": status_name(wanted.status)})
    if wanted.document_type:
        parts.append(
            gettext("soort: %(name)s") % {"name": document_type_name(wanted.document_type)}
        )
    if wanted.search:
        parts.append(gettext("zoekterm: %(text)s") % {"text": wanted.search})
    return "; ".join(parts) or gettext("geen filter")


def export_pdf(session: Session, context: StaffContext, wanted: RegisterFilter) -> bytes:
    """The filtered register as a PDF list (A4 landscape), at most PDF_MAX_ROWS rows."""
    context.require(*REGISTER_ROLES)
    page = register_page(session, context, wanted, size=PDF_MAX_ROWS)
    rows = [
        RegisterPdfRow(
            number=row.register_number,
            sent=format_date(row.submitted_at, "short") if row.submitted_at else "—",
            channel=channel_name(row.channel),
            recipient=row.recipient_name,
            document=row.document_title,
            status=status_name(row.status),
        )
        for row in page.rows
    ]
    truncated = page.next_cursor is not None
    note = (
        gettext(
            "Deze lijst toont de eerste %(num)d regels. Download de CSV voor het volledige"
            " register."
        )
        % {"num": PDF_MAX_ROWS}
        if truncated
        else gettext("%(num)d regels.") % {"num": len(rows)}
    )
    return render_register_pdf(
        RegisterPdf(
            title=gettext("Register uitgaande post"),
            organisation=context.organisation_name,
            subtitle=gettext("Selectie: %(filter)s") % {"filter": _filter_summary(wanted)},
            printed=gettext("Afgedrukt op %(when)s door %(who)s")
            % {"when": format_datetime(datetime.now(BRUSSELS)), "who": context.name},
            headers=(
                gettext("Nummer"),
                gettext("Verzonden"),
                gettext("Kanaal"),
                gettext("Bestemmeling"),
                gettext("Stuk"),
                gettext("Status"),
            ),
            rows=rows,
            note=note,
            page_label=gettext("Pagina"),
        )
    )


# -- the consultation log -----------------------------------------------------------------------


@dataclass(frozen=True)
class ConsultationFilter:
    date_from: date | None = None
    date_to: date | None = None
    staff_user_id: uuid.UUID | None = None
    purpose: str = ""

    def query_items(self) -> dict[str, str]:
        items = {
            "van": self.date_from.isoformat() if self.date_from else "",
            "tot": self.date_to.isoformat() if self.date_to else "",
            "medewerker": str(self.staff_user_id) if self.staff_user_id else "",
            "doel": self.purpose,
        }
        return {key: value for key, value in items.items() if value}


@dataclass(frozen=True)
class ParsedConsultationFilter:
    filter: ConsultationFilter
    errors: dict[str, str] = field(default_factory=dict)


def parse_consultation_filter(params: Mapping[str, str | None]) -> ParsedConsultationFilter:
    errors: dict[str, str] = {}
    date_from = _date(params.get("van") or "", "van", errors)
    date_to = _date(params.get("tot") or "", "tot", errors)
    if date_from and date_to and date_to < date_from:
        errors["tot"] = gettext("De einddatum ligt vóór de begindatum.")
        date_to = None
    staff_user_id = None
    if raw := (params.get("medewerker") or "").strip():
        try:
            staff_user_id = uuid.UUID(raw)
        except ValueError:
            errors["medewerker"] = gettext("Kies een medewerker uit de lijst.")
    purpose = (params.get("doel") or "").strip()[:200]
    return ParsedConsultationFilter(
        ConsultationFilter(date_from, date_to, staff_user_id, purpose), errors
    )


@dataclass(frozen=True)
class ConsultationPage:
    rows: list[RegisterConsultation]
    next_cursor: str | None
    previous_cursor: str | None


def _consultation_conditions(
    context: StaffContext, wanted: ConsultationFilter
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        RegisterConsultation.organisation_id == context.organisation_id
    ]
    if wanted.date_from:
        conditions.append(RegisterConsultation.occurred_at >= _start_of(wanted.date_from))
    if wanted.date_to:
        conditions.append(
            RegisterConsultation.occurred_at < _start_of(wanted.date_to + timedelta(days=1))
        )
    if wanted.staff_user_id:
        conditions.append(RegisterConsultation.staff_user_id == wanted.staff_user_id)
    if wanted.purpose:
        conditions.append(RegisterConsultation.purpose.icontains(wanted.purpose, autoescape=True))
    return conditions


def _consultation_key(
    session: Session, context: StaffContext, cursor: str | None
) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        wanted_id = uuid.UUID(cursor)
    except ValueError:
        raise InvalidInput(gettext("Deze pagina van het logboek bestaat niet.")) from None
    found = session.execute(
        select(RegisterConsultation.occurred_at, RegisterConsultation.id).where(
            RegisterConsultation.id == wanted_id,
            RegisterConsultation.organisation_id == context.organisation_id,
        )
    ).one_or_none()
    if found is None:
        raise InvalidInput(gettext("Deze pagina van het logboek bestaat niet."))
    return found[0], found[1]


def consultation_log(
    session: Session,
    context: StaffContext,
    wanted: ConsultationFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
) -> ConsultationPage:
    """One page of the organisation's register consultations, newest first."""
    context.require(*CONSULTATION_ROLES)
    key = tuple_(RegisterConsultation.occurred_at, RegisterConsultation.id)
    query = select(RegisterConsultation).where(*_consultation_conditions(context, wanted))
    before_key = _consultation_key(session, context, before)
    after_key = _consultation_key(session, context, after)
    if before_key is not None:
        fetched = list(
            session.scalars(
                query.where(key > before_key)
                .order_by(RegisterConsultation.occurred_at, RegisterConsultation.id)
                .limit(size + 1)
            )
        )
        rows = fetched[:size][::-1]
        has_newer, has_older = len(fetched) > size, True
    else:
        if after_key is not None:
            query = query.where(key < after_key)
        fetched = list(
            session.scalars(
                query.order_by(
                    RegisterConsultation.occurred_at.desc(), RegisterConsultation.id.desc()
                ).limit(size + 1)
            )
        )
        rows = fetched[:size]
        has_newer, has_older = after_key is not None, len(fetched) > size
    return ConsultationPage(
        rows=rows,
        next_cursor=str(rows[-1].id) if rows and has_older else None,
        previous_cursor=str(rows[0].id) if rows and has_newer else None,
    )


def masked_subject(row: RegisterConsultation) -> str:
    """About whom, as the DPO may see it: a national register number masked to its birth
    date (85.07.30-***.**); an enterprise number as it is."""
    subject = unseal(row.subject_sealed)
    return mask_ssin(subject) if len(subject) == 11 else subject


def consulting_staff(session: Session, context: StaffContext) -> list[tuple[uuid.UUID, str]]:
    """The staff members who consulted the register for this organisation (for the filter)."""
    context.require(*CONSULTATION_ROLES)
    found = session.execute(
        select(RegisterConsultation.staff_user_id, func.max(RegisterConsultation.actor_label))
        .where(
            RegisterConsultation.organisation_id == context.organisation_id,
            RegisterConsultation.staff_user_id.is_not(None),
        )
        .group_by(RegisterConsultation.staff_user_id)
    ).all()
    return sorted(((user_id, label) for user_id, label in found if user_id), key=lambda p: p[1])


def export_consultations(
    context: StaffContext, wanted: ConsultationFilter, *, batch_size: int | None = None
) -> Iterator[str]:
    """The filtered log as CSV chunks (`recipients.export_consultations_csv`: the subject's
    national register number masked), read in keyset batches like the register's export.
    Access is checked now, before anything streams."""
    context.require(*CONSULTATION_ROLES)
    return _consultation_chunks(context, wanted, batch_size or EXPORT_BATCH)


def _consultation_chunks(
    context: StaffContext, wanted: ConsultationFilter, batch_size: int
) -> Iterator[str]:
    cursor: str | None = None
    first = True
    while True:
        with session_scope() as session:
            page = consultation_log(session, context, wanted, after=cursor, size=batch_size)
            lines = list(export_consultations_csv(page.rows))
        yield "".join(lines if first else lines[1:])  # the header once
        first = False
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
