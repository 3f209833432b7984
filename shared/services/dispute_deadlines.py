"""Until when a citizen can dispute a document, and until when the service must answer.

**The reference date** is the document's legal sending date (`Document.legal_sending_date`:
the submission date for the eBox, the posting date for paper), or, when the document went by
registered mail, the date that letter was delivered (`Dispatch.delivered_at` of a delivered
registered dispatch, in Brussels). A registered letter that has not been delivered yet has no
reference date: its term has not started, so nothing is late.

**The rule** per dispute right (`Document.dispute_right`):
- `municipal_tax_objection`: 3 months from the third day after sending; that day counts
  working days (as art. 371 WIB) or calendar days, per `ZEGEL_DISPUTE_START_IN_WORKING_DAYS`;
- `gas_appeal`: 1 month from the notification (the term starts the day after it);
- `custom`: a configurable number of months and/or days from the day after sending.
Each has its answer term (e.g. 6 months for a tax objection), its competent service and its
legal text. The settings (`ZEGEL_DISPUTE_*`) give the defaults; an organisation may override any
field of a rule (`DisputeRuleSet`: `{"municipal_tax_objection": {"months": 2}}`),
and a document's own `dispute_legal_text` replaces the rule's text on that document. A document
keeps the rule it was sent with (`Document.dispute_rule`, set by the dispatch): a later change
of the organisation's terms applies to documents sent after it.

**Counting** follows the Gerechtelijk Wetboek (art. 52-54): a term in months runs from the
starting day to the day before the same day number in the last month ("van de zoveelste tot de
dag vóór de zoveelste"); when that month has no such day (31 January + 1 month) the term ends
on its last day (28 or 29 February). A term in days ends on the starting day + days - 1. When
the last day is a Saturday, a Sunday or a Belgian public holiday (the national calendar of the
`holidays` package: 11 July, a Flemish holiday, is not one) the term ends on the next working
day. The answer deadline counts the same way from the day after receipt.
"""

from __future__ import annotations

import calendar
import functools
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.errors import FieldErrors, InvalidInput, NotFound
from shared.i18n import N_
from shared.i18n import gettext as _
from shared.models.dispatch import Channel, Dispatch, DispatchStatus
from shared.models.disputes import DisputeRuleSet
from shared.models.documents import DisputeRight, Document
from shared.models.people import StaffRole
from shared.services.access import StaffContext
from shared.services.audit import Actor, record
from shared.timeutil import BRUSSELS

SERVICE_LABELS: dict[str, str] = {
    "belastingen": N_("Belastingen"),
    "gas": N_("GAS-ambtenaar"),
    "secretariaat": N_("Secretariaat"),
}
"""The competent services a dispute can go to (its queue in the back office)."""

DEFAULT_SERVICE: dict[DisputeRight, str] = {
    DisputeRight.MUNICIPAL_TAX_OBJECTION: "belastingen",
    DisputeRight.GAS_APPEAL: "gas",
    DisputeRight.CUSTOM: "secretariaat",
}


# -- the calendar --------------------------------------------------------------------------------


@functools.cache
def _belgian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BE", years=year))


def is_public_holiday(day: date) -> bool:
    """A Belgian (national) public holiday."""
    return day in _belgian_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a Belgian public holiday."""
    return day.weekday() < 5 and not is_public_holiday(day)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself does not count)."""
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def add_months(day: date, months: int) -> date:
    """The same day number `months` later, or that month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_end(start: date, *, months: int = 0, days: int = 0) -> date:
    """The last day of a term that starts on `start` (included), before any shift for weekends
    and holidays: months to the day before the same day number (the month's last day when it
    has no such day), then days."""
    end = start
    if months:
        index = start.month - 1 + months
        year, month = start.year + index // 12, index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        end = (
            date(year, month, start.day) - timedelta(days=1)
            if start.day <= last
            else date(year, month, last)
        )
        if days:
            end += timedelta(days=days)
    elif days:
        end = start + timedelta(days=days - 1)
    return end


# -- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeRule:
    """How long a dispute right runs, and what follows from it."""

    right: DisputeRight
    months: int
    days: int
    start_offset: int
    """The term starts this many days after the reference date (3 for a tax objection)."""
    offset_in_working_days: bool
    answer_months: int
    competent_service: str
    legal_text: str


class _RuleOverride(BaseModel):
    """What an organisation may change of a rule (`DisputeRuleSet.rules[right]`)."""

    model_config = ConfigDict(extra="forbid")

    months: int | None = Field(default=None, ge=0, le=24)
    days: int | None = Field(default=None, ge=0, le=730)
    start_offset: int | None = Field(default=None, ge=0, le=30)
    offset_in_working_days: bool | None = None
    answer_months: int | None = Field(default=None, ge=1, le=36)
    competent_service: str | None = Field(default=None, min_length=1, max_length=50)
    legal_text: str | None = Field(default=None, min_length=1, max_length=4000)


def default_rule(right: DisputeRight, settings: Settings | None = None) -> DisputeRule | None:
    """The rule from the settings; None for a document without a dispute right."""
    s = settings or get_settings()
    match right:
        case DisputeRight.MUNICIPAL_TAX_OBJECTION:
            return DisputeRule(
                right=right,
                months=s.dispute_tax_months,
                days=0,
                start_offset=3,
                offset_in_working_days=s.dispute_start_in_working_days,
                answer_months=s.dispute_tax_answer_months,
                competent_service=DEFAULT_SERVICE[right],
                legal_text=s.dispute_tax_legal_text,
            )
        case DisputeRight.GAS_APPEAL:
            return DisputeRule(
                right=right,
                months=s.dispute_gas_months,
                days=0,
                start_offset=1,
                offset_in_working_days=False,
                answer_months=s.dispute_gas_answer_months,
                competent_service=DEFAULT_SERVICE[right],
                legal_text=s.dispute_gas_legal_text,
            )
        case DisputeRight.CUSTOM:
            return DisputeRule(
                right=right,
                months=s.dispute_custom_months,
                days=s.dispute_custom_days,
                start_offset=1,
                offset_in_working_days=False,
                answer_months=s.dispute_custom_answer_months,
                competent_service=DEFAULT_SERVICE[right],
                legal_text=s.dispute_custom_legal_text,
            )
    return None


def validate_overrides(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check an organisation's `dispute_rules` (raise InvalidInput with the reason); return the
    cleaned mapping to store."""
    cleaned: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        try:
            right = DisputeRight(key)
        except ValueError:
            raise InvalidInput(f"Onbekend bezwaarrecht: {key}.") from None
        if right is DisputeRight.NONE:
            raise InvalidInput("Voor ‘geen bezwaarrecht’ bestaat geen regel.")
        try:
            parsed = _RuleOverride.model_validate(value)
        except ValidationError as error:
            raise InvalidInput(f"Ongeldige regel voor {key}: {error.errors()[0]['msg']}.") from None
        cleaned[right.value] = parsed.model_dump(exclude_none=True)
    return cleaned


def organisation_rules(session: Session, organisation_id: uuid.UUID) -> dict[str, Any]:
    """The organisation's changes to the rules ({} when it has none)."""
    found = session.get(DisputeRuleSet, organisation_id)
    return dict(found.rules) if found is not None else {}


def set_organisation_rules(
    session: Session, organisation_id: uuid.UUID, overrides: Mapping[str, Any], *, actor: Actor
) -> dict[str, dict[str, Any]]:
    """Replace the organisation's changes to the dispute rules (validated; audited). An empty
    mapping returns the organisation to the settings."""
    cleaned = validate_overrides(overrides)
    found = session.get(DisputeRuleSet, organisation_id)
    before = dict(found.rules) if found is not None else {}
    if cleaned and found is None:
        session.add(DisputeRuleSet(organisation_id=organisation_id, rules=cleaned))
    elif cleaned and found is not None:
        found.rules = cleaned
    elif found is not None:
        session.delete(found)
    record(
        session,
        actor=actor,
        organisation_id=organisation_id,
        action="organisation.dispute_rules_changed",
        object_type="organisation",
        object_id=organisation_id,
        data={"before": before, "after": cleaned},
    )
    session.flush()
    return cleaned


def rule_for(
    right: DisputeRight,
    overrides: Mapping[str, Any] | None = None,
    *,
    document_type: str | None = None,
    settings: Settings | None = None,
) -> DisputeRule | None:
    """The rule that applies: the settings, the organisation's changes (`overrides`, see
    `organisation_rules`), and the competent service of the document type
    (`ZEGEL_DISPUTE_SERVICES`)."""
    s = settings or get_settings()
    rule = default_rule(right, s)
    if rule is None:
        return None
    if document_type and document_type in s.dispute_services:
        rule = replace(rule, competent_service=s.dispute_services[document_type])
    override = (overrides or {}).get(right.value)
    if override:
        try:
            fields = _RuleOverride.model_validate(override).model_dump(exclude_none=True)
        except ValidationError:
            fields = {}  # stored through validate_overrides; never let a bad row break a page
        rule = replace(rule, **fields)
    if rule.months == 0 and rule.days == 0:
        rule = replace(rule, days=1)
    return rule


# -- deadlines -----------------------------------------------------------------------------------


def term_start(rule: DisputeRule, reference: date) -> date:
    """The first day of the term: `start_offset` (working or calendar) days after `reference`."""
    if rule.offset_in_working_days:
        return add_working_days(reference, rule.start_offset)
    return reference + timedelta(days=rule.start_offset)


def last_day(rule: DisputeRule, reference: date) -> date:
    """The last day a dispute is on time, for a document sent (or delivered) on `reference`."""
    end = term_end(term_start(rule, reference), months=rule.months, days=rule.days)
    return next_working_day(end)


def answer_due(rule: DisputeRule, received_on: date) -> date:
    """The day the competent service must have decided by (overdue after it)."""
    end = term_end(received_on + timedelta(days=1), months=rule.answer_months)
    return next_working_day(end)


@dataclass(frozen=True)
class DisputeDeadline:
    rule: DisputeRule
    reference_date: date | None
    """The legal sending date, or the delivery date of a registered letter; None while a
    registered letter has not been delivered (the term has not started)."""
    by_delivery: bool
    """The reference date is a delivery date (registered mail)."""
    last_day: date | None
    legal_text: str

    def is_open(self, on: date) -> bool:
        """A dispute that arrives (or was posted) on `on` is on time."""
        return self.last_day is None or on <= self.last_day

    @property
    def competent_service(self) -> str:
        return self.rule.competent_service


def _registered_delivery(session: Session, document: Document) -> tuple[bool, date | None]:
    """(went registered, delivery date) of the document's latest dispatch that was submitted."""
    row = session.execute(
        select(Dispatch.channel, Dispatch.status, Dispatch.delivered_at)
        .where(Dispatch.document_id == document.id, Dispatch.submitted_at.is_not(None))
        .order_by(Dispatch.attempt.desc())
        .limit(1)
    ).one_or_none()
    if row is None or row.channel is not Channel.REGISTERED:
        return False, None
    if row.status in (DispatchStatus.DELIVERED, DispatchStatus.READ) and row.delivered_at:
        return True, row.delivered_at.astimezone(BRUSSELS).date()
    return True, None


def current_rule(
    session: Session, document: Document, overrides: Mapping[str, Any] | None = None
) -> DisputeRule | None:
    """The rule the organisation has now for the document's right and type; `overrides`: its
    changes (`organisation_rules`) when the caller has them already."""
    if overrides is None:
        overrides = organisation_rules(session, document.organisation_id)
    return rule_for(document.dispute_right, overrides, document_type=document.document_type)


def kept_rule(rule: DisputeRule) -> dict[str, Any]:
    """The rule as a document keeps it from its sending (`Document.dispute_rule`)."""
    kept = asdict(rule)
    del kept["right"]
    return kept


def _rule_of(session: Session, document: Document) -> DisputeRule | None:
    """The rule the document was sent with, or (not sent yet, or sent before documents kept
    it) the current one."""
    if document.dispute_rule:
        try:
            return DisputeRule(right=document.dispute_right, **document.dispute_rule)
        except TypeError:
            pass  # a rule kept in an older shape: the current rule still gives a deadline
    return current_rule(session, document)


def deadline_for(session: Session, document: Document) -> DisputeDeadline | None:
    """The document's dispute deadline; None when it carries no dispute right."""
    if document.dispute_right is DisputeRight.NONE:
        return None
    rule = _rule_of(session, document)
    if rule is None:
        return None
    registered, delivered_on = _registered_delivery(session, document)
    reference = delivered_on if registered else document.legal_sending_date
    return DisputeDeadline(
        rule=rule,
        reference_date=reference,
        by_delivery=registered,
        last_day=last_day(rule, reference) if reference is not None else None,
        legal_text=document.dispute_legal_text or rule.legal_text,
    )


# -- the organisation's own rules (Beheer › Bezwaartermijnen) -------------------------------------

RULE_ROLES = (StaffRole.BEHEERDER,)
RULE_RIGHTS = (DisputeRight.MUNICIPAL_TAX_OBJECTION, DisputeRight.GAS_APPEAL, DisputeRight.CUSTOM)

_NUMBER_FIELDS: dict[str, tuple[str, int, int]] = {
    # form field: (rule field, lowest, highest), the bounds of `_RuleOverride`
    "maanden": ("months", 0, 24),
    "dagen": ("days", 0, 730),
    "startdagen": ("start_offset", 0, 30),
    "antwoordmaanden": ("answer_months", 1, 36),
}
RULE_FORM_FIELDS = (*_NUMBER_FIELDS, "werkdagen", "dienst", "tekst")
"""The form's fields; an empty one keeps the standard value (the settings)."""


@dataclass(frozen=True)
class RuleRow:
    right: DisputeRight
    standard: DisputeRule
    """From the settings."""
    effective: DisputeRule
    """What this organisation's documents get (standard + its changes)."""
    changes: dict[str, Any]

    @property
    def customised(self) -> bool:
        return bool(self.changes)


def rule_rows(session: Session, organisation_id: uuid.UUID) -> list[RuleRow]:
    """Each dispute right's rule, standard and as the organisation has it."""
    overrides = organisation_rules(session, organisation_id)
    rows = []
    for right in RULE_RIGHTS:
        standard, effective = rule_for(right), rule_for(right, overrides)
        assert standard is not None  # every right here has a rule
        assert effective is not None
        rows.append(RuleRow(right, standard, effective, dict(overrides.get(right.value, {}))))
    return rows


def rule_row(session: Session, organisation_id: uuid.UUID, key: str) -> RuleRow:
    """One right's row; NotFound for anything but a right with a rule."""
    for row in rule_rows(session, organisation_id):
        if row.right.value == key:
            return row
    raise NotFound(_("Dit bezwaarrecht bestaat niet."))


def form_values(row: RuleRow) -> dict[str, str]:
    """The form as the organisation's changes fill it (empty: standard)."""
    values = {
        name: str(row.changes[field]) if field in row.changes else ""
        for name, (field, _low, _high) in _NUMBER_FIELDS.items()
    }
    working = row.changes.get("offset_in_working_days")
    values["werkdagen"] = "" if working is None else ("ja" if working else "nee")
    values["dienst"] = str(row.changes.get("competent_service", ""))
    values["tekst"] = str(row.changes.get("legal_text", ""))
    return values


def changes_from_form(values: Mapping[str, str]) -> dict[str, Any]:
    """The changes the form asks for; FieldErrors (in Dutch) for what is not valid."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (field, low, high) in _NUMBER_FIELDS.items():
        raw = values.get(name, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors[name] = _("Vul een geheel getal van %(low)d tot %(high)d in, of laat leeg.") % {
                "low": low,
                "high": high,
            }
            continue
        changes[field] = int(raw)
    working = values.get("werkdagen", "")
    if working in ("ja", "nee"):
        changes["offset_in_working_days"] = working == "ja"
    elif working:
        errors["werkdagen"] = _("Kies werkdagen, kalenderdagen of de standaard.")
    service = values.get("dienst", "")
    if service in SERVICE_LABELS:
        changes["competent_service"] = service
    elif service:
        errors["dienst"] = _("Kies een dienst uit de lijst.")
    text = values.get("tekst", "").strip()
    if len(text) > 4000:
        errors["tekst"] = _("De wettelijke tekst is te lang (ten hoogste 4.000 tekens).")
    elif text:
        changes["legal_text"] = text
    if changes.get("months") == 0 and changes.get("days") == 0:
        errors["maanden"] = _("Een termijn van 0 maanden en 0 dagen bestaat niet.")
    if errors:
        raise FieldErrors(errors)
    return changes


def save_rule(
    session: Session, context: StaffContext, key: str, values: Mapping[str, str]
) -> RuleRow:
    """Store the organisation's changes to one right's rule (the others stay as they are);
    audited. Documents sent from now on get it; a document already sent keeps the rule it
    was sent with (`Document.dispute_rule`)."""
    context.require(*RULE_ROLES)
    row = rule_row(session, context.organisation_id, key)
    changes = changes_from_form(values)
    overrides = organisation_rules(session, context.organisation_id)
    if changes:
        overrides[row.right.value] = changes
    else:
        overrides.pop(row.right.value, None)
    set_organisation_rules(session, context.organisation_id, overrides, actor=context.actor)
    return rule_row(session, context.organisation_id, key)
