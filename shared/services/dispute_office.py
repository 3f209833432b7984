"""Handling disputes in the back office: the queue per competent service, assignment, status
changes, internal notes, the decision with its answer document, and closing the dispute when
the answer has been sent (with the payment request following the outcome).

Disputes come in through `shared.services.disputes.file_dispute` (portal and front office);
this module only handles them afterwards. Every state change goes through
`shared.services.transitions` (audited); a dispute of another organisation does not exist for
the asker (NotFound).

The answer is an ordinary outgoing Document (`dispute_answer`) for the same recipient,
registered through `shared.services.registration.register_letter` (rendered from a template by
`shared.pdf.letters`, or an uploaded PDF). It is screened, signed and dispatched like any other;
`answer_sent` (called by the dispatch service when the answer is submitted) closes the dispute.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from shared import jobs
from shared.errors import FieldErrors, InvalidInput, NotFound
from shared.i18n import N_, format_date, format_datetime, format_money
from shared.i18n import gettext as _
from shared.integrations.mail.client import valid_address
from shared.models.audit import AuditEvent
from shared.models.disputes import (
    DISPUTE_STATES,
    Dispute,
    DisputeChannel,
    DisputeNote,
    DisputeOutcome,
    DisputeStatus,
)
from shared.models.documents import Document
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.models.people import (
    Organisation,
    Recipient,
    RecipientKind,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.pdf.letters import Letter, render_letter
from shared.protection import unseal
from shared.services import (
    attachments,
    audit,
    dispute_deadlines,
    dispute_receipts,
    disputes,
    document_search,
    payments,
    registration,
    transitions,
)
from shared.services.access import StaffContext
from shared.services.attachments import Upload
from shared.services.timeline import TimelineEntry
from shared.storage import get_storage
from shared.timeutil import BRUSSELS, today, utcnow

HANDLER_ROLES = (StaffRole.DOSSIERBEHANDELAAR, StaffRole.SECRETARIAAT)
"""Who sees the queue and handles disputes."""
REPORT_ROLES = (StaffRole.DOSSIERBEHANDELAAR, StaffRole.SECRETARIAAT, StaffRole.BEHEERDER)
ANSWER_DOCUMENT_TYPE = "dispute_answer"
PAGE_SIZE = 25
NOTE_MAX = 5000
MOTIVATION_MAX = 10000

OPEN_STATUSES = disputes.OPEN_STATUSES
"""A dispute waits for an answer in these statuses (overdue counts only here)."""
SERVICE_LABELS = dispute_deadlines.SERVICE_LABELS
service_label = dispute_receipts.service_label
is_overdue = disputes.is_overdue

OUTCOME_LABELS: dict[DisputeOutcome, str] = {
    DisputeOutcome.FOUNDED: N_("gegrond"),
    DisputeOutcome.PARTLY_FOUNDED: N_("deels gegrond"),
    DisputeOutcome.UNFOUNDED: N_("ongegrond"),
    DisputeOutcome.INADMISSIBLE: N_("onontvankelijk"),
}

STATUS_LABELS: dict[DisputeStatus, str] = {
    DisputeStatus.RECEIVED: N_("ontvangen"),
    DisputeStatus.IN_PROGRESS: N_("in behandeling"),
    DisputeStatus.HEARING_PLANNED: N_("hoorzitting gepland"),
    DisputeStatus.DECIDED: N_("beslist"),
    DisputeStatus.WITHDRAWN: N_("ingetrokken"),
    DisputeStatus.CLOSED: N_("afgehandeld"),
}

OUTCOME_PARAGRAPHS: dict[DisputeOutcome, str] = {
    DisputeOutcome.FOUNDED: N_(
        "Uw bezwaar is gegrond. Het bedrag dat in het bestreden stuk gevraagd werd, is"
        " vernietigd: u hoeft het niet te betalen."
    ),
    DisputeOutcome.PARTLY_FOUNDED: N_(
        "Uw bezwaar is deels gegrond. Het bedrag dat u nog verschuldigd bent, is verminderd"
        " tot %(amount)s."
    ),
    DisputeOutcome.UNFOUNDED: N_(
        "Uw bezwaar is ongegrond. Het bestreden stuk blijft ongewijzigd van kracht."
    ),
    DisputeOutcome.INADMISSIBLE: N_(
        "Uw bezwaar is onontvankelijk. Het bestreden stuk blijft ongewijzigd van kracht."
    ),
}


def outcome_label(outcome: DisputeOutcome | None) -> str:
    return _(OUTCOME_LABELS[outcome]) if outcome is not None else ""


def status_label(status: DisputeStatus) -> str:
    return _(STATUS_LABELS.get(status, DISPUTE_STATES.label(status)))


def channel_label(channel: DisputeChannel) -> str:
    return _(dispute_receipts.CHANNEL_LABELS[channel])


# -- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    status: DisputeStatus | None = None
    service: str = ""
    mine: bool = False
    overdue: bool = False
    late: bool = False
    page: int = 1

    def query_items(self) -> dict[str, str]:
        items: dict[str, str] = {}
        if self.status is not None:
            items["status"] = self.status.value
        if self.service:
            items["dienst"] = self.service
        if self.mine:
            items["mij"] = "1"
        if self.overdue:
            items["overtijd"] = "1"
        if self.late:
            items["laattijdig"] = "1"
        return items


@dataclass(frozen=True)
class ParsedFilter:
    filter: QueueFilter
    errors: dict[str, str]


def parse_filter(values: Mapping[str, str | None]) -> ParsedFilter:
    """The queue's filter from the query string; unknown values are reported, not guessed."""
    errors: dict[str, str] = {}
    status = None
    raw_status = (values.get("status") or "").strip()
    if raw_status:
        try:
            status = DisputeStatus(raw_status)
        except ValueError:
            errors["status"] = _("Kies een status uit de lijst.")
    page = 1
    raw_page = (values.get("pagina") or "").strip()
    if raw_page:
        if raw_page.isdigit() and int(raw_page) >= 1:
            page = int(raw_page)
        else:
            errors["pagina"] = _("Deze pagina bestaat niet.")
    return ParsedFilter(
        QueueFilter(
            status=status,
            service=(values.get("dienst") or "").strip()[:50],
            mine=bool(values.get("mij")),
            overdue=bool(values.get("overtijd")),
            late=bool(values.get("laattijdig")),
            page=page,
        ),
        errors,
    )


@dataclass(frozen=True)
class QueueRow:
    dispute: Dispute
    document_title: str
    recipient_name: str
    assigned_name: str | None
    overdue: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)
    """Open disputes per competent service (for the tabs above the queue)."""


def _scoped(context: StaffContext) -> Select[Dispute]:
    return select(Dispute).where(Dispute.organisation_id == context.organisation_id)


def queue(session: Session, context: StaffContext, wanted: QueueFilter) -> QueuePage:
    """One page of the organisation's disputes, oldest deadline first."""
    context.require(*HANDLER_ROLES)
    conditions = [Dispute.organisation_id == context.organisation_id]
    if wanted.status is not None:
        conditions.append(Dispute.status == wanted.status)
    if wanted.service:
        conditions.append(Dispute.competent_service == wanted.service)
    if wanted.mine:
        conditions.append(Dispute.assigned_to_id == context.user_id)
    if wanted.late:
        conditions.append(Dispute.late.is_(True))
    if wanted.overdue:
        conditions.append(
            and_(
                Dispute.status.in_(OPEN_STATUSES),
                Dispute.answer_due_date.is_not(None),
                Dispute.answer_due_date < today(),
            )
        )
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(wanted.page, pages)
    found = session.execute(
        select(Dispute, Document.title, Recipient.name, StaffUser.name)
        .join(Document, Document.id == Dispute.document_id)
        .join(Recipient, Recipient.id == Document.recipient_id)
        .outerjoin(StaffUser, StaffUser.id == Dispute.assigned_to_id)
        .where(where)
        .order_by(
            Dispute.status.in_(OPEN_STATUSES).desc(),
            Dispute.answer_due_date.is_(None),
            Dispute.answer_due_date,
            Dispute.received_at,
            Dispute.id,
        )
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    counts = dict(
        session.execute(
            select(Dispute.competent_service, func.count())
            .where(
                Dispute.organisation_id == context.organisation_id,
                Dispute.status.in_(OPEN_STATUSES),
            )
            .group_by(Dispute.competent_service)
        ).all()
    )
    return QueuePage(
        rows=[
            QueueRow(dispute, title, name, assigned, is_overdue(dispute))
            for dispute, title, name, assigned in found
        ],
        total=total,
        page=page,
        pages=pages,
        counts=counts,
    )


def services(session: Session, context: StaffContext) -> list[tuple[str, str]]:
    """(key, label) of every competent service known here: the standard ones and those in use."""
    used = set(
        session.scalars(
            select(Dispute.competent_service)
            .where(Dispute.organisation_id == context.organisation_id)
            .distinct()
        )
    )
    keys = list(SERVICE_LABELS) + sorted(used - set(SERVICE_LABELS))
    return [(key, service_label(key)) for key in keys]


# -- one dispute -------------------------------------------------------------------------------


def dispute_for_staff(session: Session, context: StaffContext, dispute_id: uuid.UUID) -> Dispute:
    dispute = session.scalars(
        _scoped(context)
        .options(joinedload(Dispute.document).joinedload(Document.recipient))
        .where(Dispute.id == dispute_id)
    ).one_or_none()
    if dispute is None:
        raise NotFound(_("Dit bezwaar bestaat niet of hoort bij een ander bestuur."))
    return dispute


@dataclass(frozen=True)
class DisputeView:
    dispute: Dispute
    document: Document
    payment: PaymentRequest | None
    notes: list[DisputeNote]
    assigned_name: str | None
    handlers: list[tuple[uuid.UUID, str]]
    answer: Document | None
    overdue: bool
    targets: list[DisputeStatus]
    timeline: list[TimelineEntry]
    """What happened to the dispute, oldest first."""


def handlers(session: Session, organisation_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """Active staff who may handle disputes in the organisation: (id, name)."""
    rows = session.execute(
        select(StaffUser.id, StaffUser.name)
        .join(StaffRoleAssignment, StaffRoleAssignment.staff_user_id == StaffUser.id)
        .where(
            StaffRoleAssignment.organisation_id == organisation_id,
            StaffRoleAssignment.role.in_(HANDLER_ROLES),
            StaffUser.active.is_(True),
        )
        .distinct()
        .order_by(StaffUser.name)
    ).all()
    return [(row[0], row[1]) for row in rows]


def dispute_view(session: Session, context: StaffContext, dispute_id: uuid.UUID) -> DisputeView:
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    assigned = session.get(StaffUser, dispute.assigned_to_id) if dispute.assigned_to_id else None
    return DisputeView(
        dispute=dispute,
        document=dispute.document,
        payment=_payment_request(session, dispute),
        notes=list(
            session.scalars(
                select(DisputeNote)
                .where(DisputeNote.dispute_id == dispute.id)
                .order_by(DisputeNote.created_at, DisputeNote.id)
            )
        ),
        assigned_name=assigned.name if assigned else None,
        handlers=handlers(session, context.organisation_id),
        answer=(
            session.get(Document, dispute.answer_document_id)
            if dispute.answer_document_id
            else None
        ),
        overdue=is_overdue(dispute),
        targets=sorted(DISPUTE_STATES.targets(dispute.status)),
        timeline=dispute_timeline(session, dispute),
    )


def dispute_timeline(session: Session, dispute: Dispute) -> list[TimelineEntry]:
    """The dispute's audit events in words, oldest first."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id == dispute.organisation_id,
            AuditEvent.object_id == str(dispute.id),
        )
        .order_by(AuditEvent.sequence)
    )
    return [
        TimelineEntry(event.occurred_at, text, event.actor_label, tone)
        for event in events
        for text, tone in [_event_text(event.action, event.data or {}, event.status_after)]
    ]


def _event_text(action: str, data: dict[str, Any], status_after: str | None) -> tuple[str, str]:
    match action:
        case "dispute.received":
            channel = _channel_text(data.get("channel"))
            if data.get("late"):
                return _("Bezwaar ontvangen (%(channel)s), na de termijn") % {"channel": channel}, (
                    "warning"
                )
            return _("Bezwaar ontvangen (%(channel)s)") % {"channel": channel}, "neutral"
        case "dispute.assigned":
            if data.get("assigned_to"):
                return _("Toegewezen aan %(name)s") % {"name": data["assigned_to"]}, "neutral"
            return _("Aan niemand meer toegewezen"), "neutral"
        case "dispute.note_added":
            return _("Interne notitie toegevoegd"), "neutral"
        case "dispute.receipt_requested":
            return _("Ontvangstbewijs opnieuw per e-mail gevraagd"), "neutral"
        case "dispute.hearing_planned":
            try:
                when = format_datetime(datetime.fromisoformat(str(data.get("hearing_at"))))
            except ValueError:
                return _("Hoorzitting gepland"), "neutral"
            return _("Hoorzitting gepland op %(when)s") % {"when": when}, "neutral"
        case "dispute.decided":
            return _("Beslist: %(outcome)s") % {"outcome": _outcome_text(data)}, "success"
        case "dispute.withdrawn":
            return _("Ingetrokken: %(reason)s") % {"reason": data.get("reason", "")}, "warning"
        case "dispute.closed":
            return _("Antwoord verstuurd: %(outcome)s") % {"outcome": _outcome_text(data)}, (
                "success"
            )
    try:
        label = status_label(DisputeStatus(status_after or ""))
    except ValueError:
        return action, "neutral"
    return label[:1].upper() + label[1:], "neutral"


def _channel_text(value: Any) -> str:
    try:
        return channel_label(DisputeChannel(str(value)))
    except ValueError:
        return str(value or "")


def _outcome_text(data: dict[str, Any]) -> str:
    try:
        return outcome_label(DisputeOutcome(str(data.get("outcome"))))
    except ValueError:
        return ""


def _payment_request(session: Session, dispute: Dispute) -> PaymentRequest | None:
    return session.scalars(
        select(PaymentRequest).where(
            PaymentRequest.document_id == dispute.document_id,
            PaymentRequest.organisation_id == dispute.organisation_id,
        )
    ).one_or_none()


# -- assignment, notes and status changes -------------------------------------------------------


def assign(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, assignee_id: uuid.UUID | None
) -> Dispute:
    """Give the dispute to a case handler of the organisation (None: to nobody)."""
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    if DISPUTE_STATES.is_final(dispute.status):
        raise InvalidInput(
            _("Een afgehandeld of ingetrokken bezwaar kan niet meer toegewezen worden.")
        )
    name = None
    if assignee_id is not None:
        allowed = dict(handlers(session, context.organisation_id))
        if assignee_id not in allowed:
            raise InvalidInput(_("Kies een dossierbehandelaar van dit bestuur uit de lijst."))
        name = allowed[assignee_id]
    if dispute.assigned_to_id == assignee_id:
        return dispute
    dispute.assigned_to_id = assignee_id
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="dispute.assigned",
        object_type="dispute",
        object_id=dispute.id,
        data={"assigned_to_id": str(assignee_id) if assignee_id else None, "assigned_to": name},
    )
    return dispute


def add_note(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, text: str
) -> DisputeNote:
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    text = text.strip()
    if not text:
        raise FieldErrors({"notitie": _("Schrijf eerst een notitie.")})
    if len(text) > NOTE_MAX:
        raise FieldErrors(
            {
                "notitie": _("De notitie is te lang: ten hoogste %(limit)d tekens.")
                % {"limit": NOTE_MAX}
            }
        )
    note = DisputeNote(
        id=uuid.uuid4(),
        organisation_id=dispute.organisation_id,
        dispute_id=dispute.id,
        author_id=context.user_id,
        author_name=context.name,
        text=text,
        created_at=utcnow(),
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="dispute.note_added",
        object_type="dispute",
        object_id=dispute.id,
        data={"note_id": str(note.id)},
    )
    return note


def start_handling(session: Session, context: StaffContext, dispute_id: uuid.UUID) -> Dispute:
    """received → in behandeling (or back from a hearing to in behandeling)."""
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    transitions.transition(session, dispute, DisputeStatus.IN_PROGRESS, actor=context.actor)
    if dispute.assigned_to_id is None:
        assign(session, context, dispute.id, context.user_id)
    return dispute


def plan_hearing(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, when: datetime | None
) -> Dispute:
    """in behandeling → hoorzitting gepland, on a date and time from now on."""
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    transitions.check(dispute, DisputeStatus.HEARING_PLANNED)
    if when is None:
        raise FieldErrors({"hoorzitting": _("Geef de datum en het uur van de hoorzitting.")})
    if when.tzinfo is None:
        when = when.replace(tzinfo=BRUSSELS)
    if when < utcnow():
        raise FieldErrors({"hoorzitting": _("De hoorzitting kan niet in het verleden liggen.")})
    dispute.hearing_at = when
    transitions.transition(
        session,
        dispute,
        DisputeStatus.HEARING_PLANNED,
        actor=context.actor,
        data={"hearing_at": when.isoformat()},
    )
    return dispute


def withdraw(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, reason: str
) -> Dispute:
    """The citizen withdrew the dispute (by letter, at the desk): ingetrokken. A suspended
    payment request runs again."""
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    transitions.check(dispute, DisputeStatus.WITHDRAWN)
    reason = reason.strip()
    if not reason:
        raise FieldErrors({"reden": _("Geef aan hoe de burger het bezwaar introk.")})
    transitions.transition(
        session,
        dispute,
        DisputeStatus.WITHDRAWN,
        actor=context.actor,
        data={"reason": reason[:1000]},
    )
    _resume_payment(session, dispute, context.actor)
    return dispute


# -- the decision and its answer ------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInput:
    outcome: str
    motivation: str = ""
    reduced_amount: str = ""
    """As typed, in euro (deels gegrond only)."""
    upload_name: str = ""
    upload: bytes | None = None
    """An answer PDF made elsewhere, instead of the template."""


@dataclass(frozen=True)
class Decided:
    dispute: Dispute
    answer: Document


def _read_decision(
    dispute: Dispute, payment: PaymentRequest | None, data: DecisionInput
) -> tuple[DisputeOutcome, int | None, str]:
    errors: dict[str, str] = {}
    outcome: DisputeOutcome | None = None
    try:
        outcome = DisputeOutcome(data.outcome)
    except ValueError:
        errors["uitkomst"] = _(
            "Kies de beslissing: gegrond, deels gegrond, ongegrond of onontvankelijk."
        )
    motivation = data.motivation.strip()
    if data.upload is None and not motivation:
        errors["motivering"] = _(
            "Geef de motivering van de beslissing, of laad de brief op als PDF."
        )
    if len(motivation) > MOTIVATION_MAX:
        errors["motivering"] = _("De motivering is te lang: ten hoogste %(limit)d tekens.") % {
            "limit": MOTIVATION_MAX
        }
    reduced: int | None = None
    if outcome is DisputeOutcome.PARTLY_FOUNDED:
        current = payment.amount_cents if payment else dispute.document.amount_due_cents
        try:
            reduced = registration.parse_amount_cents(data.reduced_amount)
        except InvalidInput as error:
            errors["bedrag"] = error.message
        else:
            if reduced is None:
                errors["bedrag"] = _("Geef het verminderde bedrag dat nog betaald moet worden.")
            elif current is None:
                errors["bedrag"] = _("Bij dit stuk hoort geen bedrag dat verminderd kan worden.")
            elif reduced <= 0 or reduced >= current:
                errors["bedrag"] = _(
                    "Het verminderde bedrag moet groter zijn dan nul en kleiner dan %(amount)s."
                ) % {"amount": format_money(current)}
    elif data.reduced_amount.strip():
        errors["bedrag"] = _("Een verminderd bedrag hoort alleen bij ‘deels gegrond’.")
    if errors:
        raise FieldErrors(errors)
    assert outcome is not None
    return outcome, reduced, motivation


def _recipient_input(recipient: Recipient) -> registration.RecipientInput:
    """The original document's recipient, so the answer goes to the same person."""
    address = {
        "name": recipient.name,
        "street": recipient.street or "",
        "postal_code": recipient.postal_code or "",
        "city": recipient.city or "",
        "country": recipient.country,
    }
    if recipient.kind is RecipientKind.CITIZEN and recipient.ssin_sealed:
        return registration.RecipientInput(
            kind=RecipientKind.CITIZEN,
            national_register_number=unseal(recipient.ssin_sealed),
            **address,
        )
    if recipient.kind is RecipientKind.ENTERPRISE and recipient.enterprise_number:
        return registration.RecipientInput(
            kind=RecipientKind.ENTERPRISE, enterprise_number=recipient.enterprise_number, **address
        )
    return registration.RecipientInput(kind=RecipientKind.POSTAL, **address)


def answer_letter(
    organisation: Organisation,
    dispute: Dispute,
    outcome: DisputeOutcome,
    reduced_cents: int | None,
    motivation: str,
) -> bytes:
    """The answer from the template: an A4 letter with the outcome and its motivation."""
    recipient = dispute.document.recipient
    paragraphs = [
        _(
            "Op %(received)s ontvingen wij uw bezwaar tegen ‘%(title)s’ (bezwaar %(number)s)."
            " Hieronder leest u onze beslissing."
        )
        % {
            "received": format_date(dispute.received_at.astimezone(BRUSSELS)),
            "title": dispute.document.title,
            "number": dispute.number,
        },
        _(OUTCOME_PARAGRAPHS[outcome]) % {"amount": format_money(reduced_cents)}
        if outcome is DisputeOutcome.PARTLY_FOUNDED
        else _(OUTCOME_PARAGRAPHS[outcome]),
        _("Motivering:"),
        *[part.strip() for part in motivation.split("\n\n") if part.strip()],
    ]
    return render_letter(
        Letter(
            sender_name=organisation.name,
            sender_address=[
                line
                for line in (
                    organisation.street or "",
                    " ".join(p for p in (organisation.postal_code, organisation.city) if p),
                )
                if line
            ],
            recipient_name=recipient.name,
            recipient_address=[
                line
                for line in (
                    recipient.street or "",
                    " ".join(p for p in (recipient.postal_code, recipient.city) if p),
                )
                if line
            ],
            place_and_date=f"{organisation.city or organisation.name}, {format_date(today())}",
            subject=_("Beslissing over uw bezwaar %(number)s") % {"number": dispute.number},
            paragraphs=paragraphs,
            reference=dispute.number,
            signatories=[_("De algemeen directeur"), _("De burgemeester")],
        )
    )


@dataclass(frozen=True)
class _Scope:
    """Registration on behalf of the case handler (the role was checked here)."""

    organisation_id: uuid.UUID


def decide(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, data: DecisionInput
) -> Decided:
    """Decide the dispute: the outcome, and its answer as a new draft document for the same
    recipient (from the template or uploaded), which goes through screening, signing and
    dispatch like any other. Raises FieldErrors (nothing written) on bad input and
    IllegalTransition when the dispute cannot be decided now."""
    context.require(*HANDLER_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    transitions.check(dispute, DisputeStatus.DECIDED)
    payment = _payment_request(session, dispute)
    outcome, reduced, motivation = _read_decision(dispute, payment, data)
    organisation = session.get(Organisation, context.organisation_id)
    assert organisation is not None
    if data.upload is not None:
        file_name, content = data.upload_name or "beslissing-bezwaar.pdf", data.upload
    else:
        file_name = f"beslissing-bezwaar-{dispute.number.replace('/', '-')}.pdf"
        content = answer_letter(organisation, dispute, outcome, reduced, motivation)
    letter = registration.LetterInput(
        file_name=file_name,
        content=content,
        recipient=_recipient_input(dispute.document.recipient),
        title=_("Beslissing over uw bezwaar %(number)s") % {"number": dispute.number},
        document_type=ANSWER_DOCUMENT_TYPE,
    )
    try:
        registered = registration.register_letter(
            session, _Scope(context.organisation_id), letter, context.actor, source="dispute"
        )
    except FieldErrors as error:
        problems = dict(error.errors)
        message = problems.pop("file", None)
        if message is not None:
            raise FieldErrors({"bestand": message}) from None
        # The recipient's stored details do not pass the intake (an old record without address).
        raise InvalidInput(" ".join(problems.values())) from None
    answer = registered.documents[0]
    dispute.outcome = outcome
    dispute.reduced_amount_cents = reduced
    dispute.decision_motivation = motivation or None
    dispute.decided_at = utcnow()
    dispute.answer_document_id = answer.id
    transitions.transition(
        session,
        dispute,
        DisputeStatus.DECIDED,
        actor=context.actor,
        data={
            "outcome": outcome.value,
            "reduced_amount_cents": reduced,
            "answer_document_id": str(answer.id),
            "uploaded": data.upload is not None,
        },
    )
    return Decided(dispute, answer)


# -- closing the loop -------------------------------------------------------------------------

SYSTEM = audit.Actor.system("Zegel (bezwaren)")


def answer_sent(session: Session, document: Document) -> Dispute | None:
    """Called by the dispatch service when a `dispute_answer` document has been submitted:
    the dispute it answers is closed and its payment request follows the outcome. Idempotent
    (a second dispatch of the same answer changes nothing)."""
    dispute = session.scalars(
        select(Dispute)
        .where(
            Dispute.answer_document_id == document.id,
            Dispute.organisation_id == document.organisation_id,
        )
        .with_for_update()
    ).one_or_none()
    if dispute is None or dispute.status is not DisputeStatus.DECIDED:
        return None
    dispute.closed_at = utcnow()
    transitions.transition(
        session,
        dispute,
        DisputeStatus.CLOSED,
        actor=SYSTEM,
        data={
            "outcome": dispute.outcome.value if dispute.outcome else None,
            "answer_document_id": str(document.id),
        },
    )
    _apply_outcome(session, dispute, SYSTEM)
    return dispute


def _move(
    session: Session,
    payment: PaymentRequest,
    target: PaymentRequestStatus,
    actor: audit.Actor,
    data: dict[str, object],
) -> None:
    if payment.status is target:
        return
    transitions.transition(
        session, payment, target, actor=actor, action=f"payment_request.{target.value}", data=data
    )


def _apply_outcome(session: Session, dispute: Dispute, actor: audit.Actor) -> None:
    """The payment request follows the outcome: cancelled (gegrond), reduced (deels gegrond),
    unchanged (ongegrond, onontvankelijk); a suspended one runs again. Money already paid
    beyond what is due is not refunded here: the request stays paid and the finance service
    refunds it (the audit event says so)."""
    payment = _payment_request(session, dispute)
    if payment is None:
        return
    data: dict[str, object] = {"dispute_id": str(dispute.id), "outcome": dispute.outcome}
    paid = payments.balance(session, payment).paid_cents
    if dispute.outcome is DisputeOutcome.FOUNDED:
        if paid == 0 and payment.states.allowed(payment.status, PaymentRequestStatus.CANCELLED):
            _move(session, payment, PaymentRequestStatus.CANCELLED, actor, data)
        else:
            _resume_payment(session, dispute, actor)  # it stays paid (or partly)
            _needs_refund(session, payment, paid, actor, data)
        return
    if dispute.outcome is DisputeOutcome.PARTLY_FOUNDED and dispute.reduced_amount_cents:
        before = payment.amount_cents
        payment.amount_cents = dispute.reduced_amount_cents
        audit.record(
            session,
            actor=actor,
            organisation_id=payment.organisation_id,
            action="payment_request.amount_reduced",
            object_type="payment_request",
            object_id=payment.id,
            data={**data, "amount_before_cents": before, "amount_cents": payment.amount_cents},
        )
        target = payments.status_for(paid, payment.amount_cents)
        if payment.status is PaymentRequestStatus.SUSPENDED:
            _resume_payment(session, dispute, actor)
        elif payment.status in (
            PaymentRequestStatus.OPEN,
            PaymentRequestStatus.PARTIALLY_PAID,
        ) and payment.states.allowed(payment.status, target):
            _move(session, payment, target, actor, data)
        if paid > payment.amount_cents:
            _needs_refund(session, payment, paid - payment.amount_cents, actor, data)
        return
    _resume_payment(session, dispute, actor)


def _needs_refund(
    session: Session,
    payment: PaymentRequest,
    cents: int,
    actor: audit.Actor,
    data: dict[str, object],
) -> None:
    """Record that `cents` were paid too much: the finance service refunds them (payments)."""
    audit.record(
        session,
        actor=actor,
        organisation_id=payment.organisation_id,
        action="payment_request.refund_due",
        object_type="payment_request",
        object_id=payment.id,
        data={**data, "refund_cents": cents},
    )


def _resume_payment(session: Session, dispute: Dispute, actor: audit.Actor) -> None:
    """A payment request suspended by the dispute runs again, at the status its balance
    calls for."""
    payment = _payment_request(session, dispute)
    if payment is None or payment.status is not PaymentRequestStatus.SUSPENDED:
        return
    payments.resume(
        session,
        payment,
        actor=actor,
        reason=_("Bezwaar %(number)s afgehandeld") % {"number": dispute.number},
    )


# -- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceOutcomes:
    service: str
    received: int
    open: int
    by_outcome: dict[DisputeOutcome, int]
    withdrawn: int
    average_days: float | None
    """From receipt to decision, for the decided ones."""


@dataclass(frozen=True)
class MonthCount:
    month: date
    received: int
    decided: int


@dataclass(frozen=True)
class Report:
    services: list[ServiceOutcomes]
    months: list[MonthCount]
    average_days: float | None
    total: int


@dataclass
class _Tally:
    received: int = 0
    open: int = 0
    withdrawn: int = 0
    outcomes: dict[DisputeOutcome, int] = field(default_factory=dict)
    days: list[float] = field(default_factory=list)


def _month(moment: datetime) -> date:
    local = moment.astimezone(BRUSSELS)
    return date(local.year, local.month, 1)


def _last_months(count: int) -> list[date]:
    now = today()
    months = []
    year, month = now.year, now.month
    for _i in range(count):
        months.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(months))


def report(session: Session, context: StaffContext, *, months: int = 12) -> Report:
    """Disputes per competent service and outcome, the average handling time (receipt to
    decision) and the disputes received and decided per month, for the last `months` months."""
    context.require(*REPORT_ROLES)
    window = _last_months(months)
    start = datetime.combine(window[0], time(0), tzinfo=BRUSSELS)
    rows = session.execute(
        select(
            Dispute.competent_service,
            Dispute.status,
            Dispute.outcome,
            Dispute.received_at,
            Dispute.decided_at,
        ).where(
            Dispute.organisation_id == context.organisation_id,
            or_(Dispute.received_at >= start, Dispute.decided_at >= start),
        )
    ).all()
    per_service: dict[str, _Tally] = {}
    received = dict.fromkeys(window, 0)
    decided = dict.fromkeys(window, 0)
    durations: list[float] = []
    for service, status, outcome, received_at, decided_at in rows:
        tally = per_service.setdefault(service, _Tally())
        if received_at >= start:
            tally.received += 1
            month = _month(received_at)
            if month in received:
                received[month] += 1
        if status in OPEN_STATUSES:
            tally.open += 1
        if status is DisputeStatus.WITHDRAWN:
            tally.withdrawn += 1
        if outcome is not None:
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
        if decided_at is not None and decided_at >= start:
            days = (decided_at - received_at).total_seconds() / 86400
            tally.days.append(days)
            durations.append(days)
            month = _month(decided_at)
            if month in decided:
                decided[month] += 1
    services_out = [
        ServiceOutcomes(
            service=service,
            received=tally.received,
            open=tally.open,
            by_outcome={o: tally.outcomes.get(o, 0) for o in DisputeOutcome},
            withdrawn=tally.withdrawn,
            average_days=sum(tally.days) / len(tally.days) if tally.days else None,
        )
        for service, tally in sorted(per_service.items(), key=lambda item: service_label(item[0]))
    ]
    return Report(
        services=services_out,
        months=[MonthCount(m, received[m], decided[m]) for m in window],
        average_days=sum(durations) / len(durations) if durations else None,
        total=sum(s.received for s in services_out),
    )


# -- the front office: paper disputes --------------------------------------------------------------

FRONT_OFFICE_ROLES = (StaffRole.ONTHAAL, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
PAPER_CHANNELS = (DisputeChannel.DESK, DisputeChannel.POST)


@dataclass(frozen=True)
class PaperDispute:
    """The front-office form, as typed (dates as yyyy-mm-dd or dd/mm/yyyy)."""

    channel: str
    received_on: str
    postmark: str = ""
    grounds: str = ""
    hearing_requested: bool = False
    contact_email: str = ""
    contact_phone: str = ""
    scans: tuple[Upload, ...] = ()
    submission_key: str = ""


def _day(raw: str, key: str, errors: dict[str, str]) -> date | None:
    try:
        return registration.parse_date(raw)
    except InvalidInput as error:
        errors[key] = error.message
        return None


def register_paper_dispute(
    session: Session, context: StaffContext, document_id: uuid.UUID, data: PaperDispute
) -> disputes.Filed:
    """A dispute that came in on paper, at the desk or by post, registered by the front office
    with its date of receipt (in the past allowed, not in the future) and the postmark date;
    late disputes are accepted and marked late (the deadline check uses the postmark, else the
    date of receipt). Filed through `disputes.file_dispute`, like an online one."""
    context.require(*FRONT_OFFICE_ROLES)
    document = document_search.sent_document(session, context, document_id)
    errors: dict[str, str] = {}
    try:
        channel = DisputeChannel(data.channel)
    except ValueError:
        channel = None
    if channel not in PAPER_CHANNELS:
        errors["kanaal"] = _("Kies hoe het bezwaar binnenkwam: aan de balie of per post.")
    received_on = _day(data.received_on, "ontvangen_op", errors)
    if received_on is None and "ontvangen_op" not in errors:
        errors["ontvangen_op"] = _("Vul de datum van ontvangst in.")
    elif received_on is not None and received_on > today():
        errors["ontvangen_op"] = _("De datum van ontvangst ligt in de toekomst.")
    postmark = _day(data.postmark, "poststempel", errors)
    if postmark is not None and postmark > today():
        errors["poststempel"] = _("De datum van de poststempel ligt in de toekomst.")
    if not data.grounds.strip():
        errors["gronden"] = _("Neem de gronden van het bezwaar over uit de brief.")
    if not any(scan.content or scan.file_name for scan in data.scans):
        errors[attachments.FIELD] = _("Laad de scan van de brief op (PDF, JPEG of PNG).")
    if errors:
        raise FieldErrors(errors)
    assert channel is not None
    assert received_on is not None
    if received_on == today():
        received_at = utcnow()
    else:  # the hour is not known: noon on the day of receipt, Brussels time
        received_at = datetime.combine(received_on, time(12, 0), tzinfo=BRUSSELS)
    return disputes.file_dispute(
        session,
        document,
        disputes.DisputeInput(
            grounds=data.grounds,
            hearing_requested=data.hearing_requested,
            contact_email=data.contact_email or None,
            contact_phone=data.contact_phone or None,
            uploads=data.scans,
            submission_key=data.submission_key or None,
        ),
        channel=channel,
        actor=context.actor,
        received_at=received_at,
        postmark_date=postmark,
        registered_by_id=context.user_id,
    )


def registered_dispute(session: Session, context: StaffContext, dispute_id: uuid.UUID) -> Dispute:
    """A dispute of the organisation, for the front office's confirmation and receipt."""
    context.require(*FRONT_OFFICE_ROLES)
    return dispute_for_staff(session, context, dispute_id)


def receipt(session: Session, context: StaffContext, dispute_id: uuid.UUID) -> tuple[bytes, str]:
    """The receipt PDF (disputes-core's renderer) and its file name."""
    dispute = registered_dispute(session, context, dispute_id)
    return dispute_receipts.receipt_pdf(session, dispute), dispute_receipts.file_name(dispute)


def mail_receipt(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, address: str
) -> Dispute:
    """E-mail the receipt to `address` (given at the desk after registering): it becomes the
    dispute's contact address and the receipt job is queued (once per dispute and address)."""
    dispute = registered_dispute(session, context, dispute_id)
    address = address.strip()
    if not address or len(address) > 254 or not valid_address(address):
        raise FieldErrors({"email": _("Dit e-mailadres is niet geldig.")})
    dispute.contact_email = address
    jobs.enqueue(
        session,
        disputes.RECEIPT_MAIL_JOB,
        {"dispute_id": str(dispute.id)},
        key=f"{disputes.RECEIPT_MAIL_JOB}:{dispute.id}:{address.lower()}",
        organisation_id=dispute.organisation_id,
    )
    audit.record(
        session,
        actor=context.actor,
        organisation_id=dispute.organisation_id,
        action="dispute.receipt_requested",
        object_type="dispute",
        object_id=dispute.id,
        data={"by": "email"},
    )
    return dispute


def deadline_of(session: Session, document: Document) -> dispute_deadlines.DisputeDeadline | None:
    return dispute_deadlines.deadline_for(session, document)


def attachment(
    session: Session, context: StaffContext, dispute_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of an attachment of the organisation's dispute, as
    stored after the attachment checks (images re-encoded, PDFs without active content)."""
    context.require(*HANDLER_ROLES, *FRONT_OFFICE_ROLES)
    dispute = dispute_for_staff(session, context, dispute_id)
    found = next((a for a in dispute.attachments if a.id == attachment_id), None)
    if found is None:
        raise NotFound(_("Deze bijlage bestaat niet."))
    return get_storage().get(found.sha256), found.content_type, found.file_name
