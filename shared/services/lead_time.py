"""Doorlooptijd: how long each phase of an outgoing document takes, per month and document type
(median and 90th percentile), and how many letters went out without a signature.

Everything is computed from the audit trail — what happened to which document when — and from
the decision's session date, never from counters kept on the side. A phase counts once per
document, in the month (Europe/Brussels) in which it ended. Each step is the *first* time the
document reached it, so a document that was sent back to draft and screened again keeps the
rework inside its "screened → signed" phase.

Phases:
- decision → screened: from the start of the session day (Brussels) to the screening;
- screened → signed: to the last signature (documents that need no signature have no such phase);
- signed → sent: from the last signature, or for a letter without signature from its screening,
  to the submission to the Documentendienst;
- sent → delivered: to delivery in the eBox or by the post;
- delivered → paid / disputed: from delivery (from sending when the channel reports no delivery,
  as ordinary mail) to full payment, or to the first dispute received;
- decision → sent: the whole way, for the decision's documents.

The queries are one per kind of object (documents, payment requests, disputes), grouped by
object in SQL; percentiles are taken in Python per (month, document type, phase).
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum

from babel.numbers import format_decimal
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from shared.errors import InvalidInput
from shared.i18n import BABEL_LOCALES, N_, current_language, ngettext
from shared.i18n import gettext as _
from shared.models.audit import AuditEvent
from shared.models.disputes import Dispute
from shared.models.documents import Decision, Document
from shared.models.payments import PaymentRequest
from shared.models.people import StaffRole
from shared.services.access import StaffContext
from shared.timeutil import BRUSSELS
from shared.timeutil import today as brussels_today

PERIODS = (3, 6, 12, 24)
"""The periods (in months, the current one included) a reader can choose."""
DEFAULT_PERIOD = 12
ROLES = (StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR, StaffRole.BEHEERDER)
_CHUNK = 500


class PhaseKey(StrEnum):
    DECISION_SCREENED = "decision_screened"
    SCREENED_SIGNED = "screened_signed"
    SIGNED_SENT = "signed_sent"
    SENT_DELIVERED = "sent_delivered"
    DELIVERED_PAID = "delivered_paid"
    DELIVERED_DISPUTED = "delivered_disputed"
    DECISION_SENT = "decision_sent"


PHASE_LABELS: dict[PhaseKey, str] = {
    PhaseKey.DECISION_SCREENED: N_("Beslissing → gescreend"),
    PhaseKey.SCREENED_SIGNED: N_("Gescreend → ondertekend"),
    PhaseKey.SIGNED_SENT: N_("Ondertekend → verzonden"),
    PhaseKey.SENT_DELIVERED: N_("Verzonden → afgeleverd"),
    PhaseKey.DELIVERED_PAID: N_("Afgeleverd → betaald"),
    PhaseKey.DELIVERED_DISPUTED: N_("Afgeleverd → bezwaar"),
    PhaseKey.DECISION_SENT: N_("Beslissing → verzonden (totaal)"),
}
"""Dutch msgids, translated when shown."""

PHASE_HINTS: dict[PhaseKey, str] = {
    PhaseKey.DECISION_SCREENED: N_("Vanaf het begin van de zittingsdag tot de screening."),
    PhaseKey.SCREENED_SIGNED: N_(
        "Van de screening tot de laatste handtekening; alleen stukken die ondertekend moesten"
        " worden."
    ),
    PhaseKey.SIGNED_SENT: N_(
        "Van de laatste handtekening tot de verzending; een brief zonder handtekening telt"
        " vanaf de screening."
    ),
    PhaseKey.SENT_DELIVERED: N_("Van de verzending tot de aflevering in de eBox of per post."),
    PhaseKey.DELIVERED_PAID: N_(
        "Van de aflevering tot de volledige betaling (vanaf de verzending als het kanaal geen"
        " aflevering meldt)."
    ),
    PhaseKey.DELIVERED_DISPUTED: N_(
        "Van de aflevering tot het eerste bezwaar (vanaf de verzending als het kanaal geen"
        " aflevering meldt)."
    ),
    PhaseKey.DECISION_SENT: N_(
        "De hele weg: vanaf het begin van de zittingsdag tot de verzending."
    ),
}


# -- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentTimes:
    """When one document first reached each step (None: not (yet))."""

    document_type: str
    decided: datetime | None = None
    """The start of the decision's session day, Brussels time."""
    screened: datetime | None = None
    signed: datetime | None = None
    ready_without_signature: datetime | None = None
    """Moved from screened straight to ready: it needed no signature."""
    sent: datetime | None = None
    delivered: datetime | None = None
    paid: datetime | None = None
    disputed: datetime | None = None


@dataclass(frozen=True)
class Span:
    phase: PhaseKey
    end: datetime
    seconds: float


def start_of_session_day(session_date: date) -> datetime:
    """A session date as a moment: midnight at the start of that day in Brussels."""
    return datetime.combine(session_date, time(0), tzinfo=BRUSSELS)


def spans(document: DocumentTimes) -> list[Span]:
    """The phases this document completed, with their end and duration. A phase whose end
    lies before its start (inconsistent data) is left out rather than counted as negative."""
    d = document
    pairs: list[tuple[PhaseKey, datetime | None, datetime | None]] = [
        (PhaseKey.DECISION_SCREENED, d.decided, d.screened),
        (PhaseKey.SCREENED_SIGNED, d.screened, d.signed),
        (PhaseKey.SIGNED_SENT, d.signed or d.ready_without_signature, d.sent),
        (PhaseKey.SENT_DELIVERED, d.sent, d.delivered),
        (PhaseKey.DELIVERED_PAID, d.delivered or d.sent, d.paid),
        (PhaseKey.DELIVERED_DISPUTED, d.delivered or d.sent, d.disputed),
        (PhaseKey.DECISION_SENT, d.decided, d.sent),
    ]
    found = []
    for phase, start, end in pairs:
        if start is None or end is None or end < start:
            continue
        found.append(Span(phase, end, (end - start).total_seconds()))
    return found


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between the closest ranks (the
    method of numpy and of spreadsheets' PERCENTILE.INC): the median of 1, 2, 3, 4 is 2.5."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Figures:
    count: int = 0
    median: float | None = None
    """Seconds."""
    p90: float | None = None
    """Seconds."""


def summarise(values: Sequence[float]) -> Figures:
    if not values:
        return Figures()
    return Figures(len(values), percentile(values, 50), percentile(values, 90))


def month_of(moment: datetime) -> date:
    """The first day of the month `moment` falls in, in Brussels."""
    return moment.astimezone(BRUSSELS).date().replace(day=1)


def last_months(today: date, count: int) -> list[date]:
    """The first days of the last `count` months up to today's, oldest first."""
    year, month = today.year, today.month
    months = []
    for _i in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


@dataclass(frozen=True)
class MonthFigures:
    month: date
    figures: Figures


@dataclass(frozen=True)
class PhaseFigures:
    phase: PhaseKey
    months: list[MonthFigures]
    period: Figures
    """Over the whole period."""

    @property
    def label(self) -> str:
        return _(PHASE_LABELS[self.phase])

    @property
    def hint(self) -> str:
        return _(PHASE_HINTS[self.phase])

    @property
    def longest(self) -> float:
        """The largest figure shown (for the chart's scale); 0 without figures."""
        return max((m.figures.p90 or 0.0 for m in self.months), default=0.0)


@dataclass(frozen=True)
class TypeFigures:
    document_type: str
    phases: list[tuple[PhaseKey, Figures]]


@dataclass(frozen=True)
class SignatureMonth:
    """Letters sent in a month, and how many of them went out without signature."""

    month: date
    sent: int
    without_signature: int

    @property
    def share(self) -> int | None:
        """Percentage without signature, rounded; None when nothing was sent."""
        return round(100 * self.without_signature / self.sent) if self.sent else None


@dataclass(frozen=True)
class LeadTimes:
    months: list[date]
    phases: list[PhaseFigures]
    by_type: list[TypeFigures]
    signatures: list[SignatureMonth]

    @property
    def empty(self) -> bool:
        return all(p.period.count == 0 for p in self.phases) and not any(
            s.sent for s in self.signatures
        )


def _month_finder(months: Sequence[date]) -> Callable[[datetime], date | None]:
    """month_of for consecutive `months`, None outside them; by bisection over the months'
    boundaries (as instants), so that 100,000s of moments need no time-zone conversion."""
    if not months:
        return lambda _moment: None
    last = months[-1]
    after = date(last.year + 1, 1, 1) if last.month == 12 else date(last.year, last.month + 1, 1)
    bounds = [
        datetime.combine(m, time(0), tzinfo=BRUSSELS).astimezone(UTC) for m in (*months, after)
    ]

    def find(moment: datetime) -> date | None:
        index = bisect_right(bounds, moment) - 1
        return months[index] if 0 <= index < len(months) else None

    return find


def compute(
    documents: Iterable[DocumentTimes], months: Sequence[date], document_type: str | None = None
) -> LeadTimes:
    """The figures for `months` (first days of consecutive months, oldest first) over
    `documents`, optionally of one document type. Percentiles are taken over the durations
    themselves, never averaged."""
    month_in = _month_finder(months)
    durations: dict[tuple[date, str, PhaseKey], list[float]] = {}
    sent: dict[date, int] = dict.fromkeys(months, 0)
    unsigned: dict[date, int] = dict.fromkeys(months, 0)
    for document in documents:
        if document_type is not None and document.document_type != document_type:
            continue
        for span in spans(document):
            month = month_in(span.end)
            if month is not None:
                key = (month, document.document_type, span.phase)
                durations.setdefault(key, []).append(span.seconds)
        if document.sent is not None and (month := month_in(document.sent)) is not None:
            sent[month] += 1
            if document.ready_without_signature is not None:
                unsigned[month] += 1

    per_month: dict[tuple[date, PhaseKey], list[float]] = {}
    per_type: dict[tuple[str, PhaseKey], list[float]] = {}
    for (month, kind, phase), values in durations.items():
        per_month.setdefault((month, phase), []).extend(values)
        per_type.setdefault((kind, phase), []).extend(values)

    phases = []
    for phase in PhaseKey:
        rows = [MonthFigures(m, summarise(per_month.get((m, phase), []))) for m in months]
        everything = [v for m in months for v in per_month.get((m, phase), [])]
        phases.append(PhaseFigures(phase, rows, summarise(everything)))
    by_type = [
        TypeFigures(
            kind,
            [
                (phase, summarise(per_type[(kind, phase)]))
                for phase in PhaseKey
                if (kind, phase) in per_type
            ],
        )
        for kind in sorted({kind for kind, _phase in per_type})
    ]
    signatures = [SignatureMonth(m, sent[m], unsigned[m]) for m in months]
    return LeadTimes(list(months), phases, by_type, signatures)


def format_duration(seconds: float | None) -> str:
    """A duration as people read it: hours below two days ('5,5 uur'), days from then on
    ('3,2 dagen'); one decimal below ten, whole numbers above. '—' for none."""
    if seconds is None:
        return "—"
    locale = BABEL_LOCALES.get(current_language(), "nl_BE")
    hours = seconds / 3600
    if hours < 48:
        shown = round(hours, 1) if hours < 10 else round(hours)
        number = format_decimal(shown, format="#,##0.#", locale=locale)
        return ngettext("%(num)s uur", "%(num)s uur", 1 if shown == 1 else 2) % {"num": number}
    days = hours / 24
    shown = round(days, 1) if days < 10 else round(days)
    number = format_decimal(shown, format="#,##0.#", locale=locale)
    return ngettext("%(num)s dag", "%(num)s dagen", 1 if shown == 1 else 2) % {"num": number}


# -- the queries --------------------------------------------------------------------------------

_DOCUMENT_ACTIONS = (
    "document.screened",
    "document.signed",
    "document.ready",
    "document.dispatched",
    "document.delivered",
)


def _first(action: str, *conditions: ColumnElement[bool]) -> ColumnElement[datetime]:
    return func.min(case((and_(AuditEvent.action == action, *conditions), AuditEvent.occurred_at)))


@dataclass
class _Steps:
    screened: datetime | None = None
    signed: datetime | None = None
    ready_without_signature: datetime | None = None
    sent: datetime | None = None
    delivered: datetime | None = None


@dataclass
class _Gathered:
    steps: dict[str, _Steps] = field(default_factory=dict)
    paid: dict[str, datetime] = field(default_factory=dict)
    disputed: dict[str, datetime] = field(default_factory=dict)


def _document_steps(
    session: Session,
    organisation_id: uuid.UUID,
    *,
    since: datetime | None = None,
    document_ids: Sequence[str] | None = None,
) -> dict[str, _Steps]:
    """The first moment of each step per document, grouped in SQL: of the documents with an
    event since `since`, or of `document_ids`."""
    query = (
        select(
            AuditEvent.object_id,
            _first("document.screened"),
            _first("document.signed"),
            _first("document.ready", AuditEvent.status_before == "screened"),
            _first("document.dispatched"),
            _first("document.delivered"),
        )
        .where(
            AuditEvent.organisation_id == organisation_id,
            AuditEvent.object_type == "document",
            AuditEvent.action.in_(_DOCUMENT_ACTIONS),
        )
        .group_by(AuditEvent.object_id)
    )
    if document_ids is not None:
        query = query.where(AuditEvent.object_id.in_(list(document_ids)))
    if since is not None:
        query = query.having(func.max(AuditEvent.occurred_at) >= since)
    return {
        object_id: _Steps(screened, signed, unsigned, sent, delivered)
        for object_id, screened, signed, unsigned, sent, delivered in session.execute(query)
    }


def _first_per_document(
    session: Session,
    organisation_id: uuid.UUID,
    action: str,
    owners: dict[str, uuid.UUID],
    since: datetime,
) -> dict[str, datetime]:
    """The first `action` event (on a payment request or dispute) per document, for the
    documents whose first such event is since `since`. `owners`: object id → document id."""
    first_of: dict[str, datetime] = {}
    rows = session.execute(
        select(AuditEvent.object_id, func.min(AuditEvent.occurred_at))
        .where(AuditEvent.organisation_id == organisation_id, AuditEvent.action == action)
        .group_by(AuditEvent.object_id)
    )
    for object_id, occurred_at in rows:
        document_id = owners.get(object_id)
        if document_id is None:
            continue
        key = str(document_id)
        if key not in first_of or occurred_at < first_of[key]:
            first_of[key] = occurred_at
    return {key: moment for key, moment in first_of.items() if moment >= since}


def gather(
    session: Session, organisation_id: uuid.UUID, since: datetime, document_type: str | None
) -> list[DocumentTimes]:
    """The steps of the organisation's documents that may have a phase ending since `since`."""
    steps = _document_steps(session, organisation_id, since=since)
    payment_owners = {
        str(request_id): document_id
        for request_id, document_id in session.execute(
            select(PaymentRequest.id, PaymentRequest.document_id).where(
                PaymentRequest.organisation_id == organisation_id
            )
        )
    }
    dispute_owners = {
        str(dispute_id): document_id
        for dispute_id, document_id in session.execute(
            select(Dispute.id, Dispute.document_id).where(
                Dispute.organisation_id == organisation_id
            )
        )
    }
    paid = _first_per_document(
        session, organisation_id, "payment_request.paid", payment_owners, since
    )
    disputed = _first_per_document(
        session, organisation_id, "dispute.received", dispute_owners, since
    )
    # A payment or dispute in the period on a document that was sent before it.
    missing = sorted((paid.keys() | disputed.keys()) - steps.keys())
    for start in range(0, len(missing), _CHUNK):
        steps.update(
            _document_steps(session, organisation_id, document_ids=missing[start : start + _CHUNK])
        )

    documents = select(Document.id, Document.document_type, Decision.session_date).outerjoin(
        Decision, Decision.id == Document.decision_id
    )
    documents = documents.where(Document.organisation_id == organisation_id)
    if document_type is not None:
        documents = documents.where(Document.document_type == document_type)
    gathered = []
    for document_id, kind, session_date in session.execute(documents):
        key = str(document_id)
        step = steps.get(key)
        if step is None:
            continue
        gathered.append(
            DocumentTimes(
                document_type=kind,
                decided=start_of_session_day(session_date) if session_date else None,
                screened=step.screened,
                signed=step.signed,
                ready_without_signature=step.ready_without_signature,
                sent=step.sent,
                delivered=step.delivered,
                paid=paid.get(key),
                disputed=disputed.get(key),
            )
        )
    return gathered


@dataclass(frozen=True)
class LeadTimeReport:
    figures: LeadTimes
    period: int
    document_type: str | None
    document_types: list[str]
    """The types the organisation has documents of (for the filter)."""


def report(
    session: Session,
    context: StaffContext,
    *,
    period: int = DEFAULT_PERIOD,
    document_type: str | None = None,
    today: date | None = None,
) -> LeadTimeReport:
    """The lead times of the staff member's organisation over the last `period` months."""
    context.require(*ROLES)
    if period not in PERIODS:
        raise InvalidInput(_("Kies een periode van 3, 6, 12 of 24 maanden."))
    document_type = document_type or None
    types = sorted(
        session.scalars(
            select(Document.document_type)
            .where(Document.organisation_id == context.organisation_id)
            .distinct()
        ).all()
    )
    if document_type is not None and document_type not in types:
        raise InvalidInput(_("Er zijn geen stukken van dit type."))
    months = last_months(today or brussels_today(), period)
    since = datetime.combine(months[0], time(0), tzinfo=BRUSSELS)
    documents = gather(session, context.organisation_id, since, document_type)
    return LeadTimeReport(compute(documents, months, document_type), period, document_type, types)
