"""Document types: the one catalogue of the kinds of outgoing documents Zegel knows, with their
Dutch names and default rules, and each organisation's own policy per type.

**The catalogue** (`CATALOGUE`) names every type the intake accepts, with its defaults: the
screening rule (who signs, in which order), how it goes on paper (normal, registered, or
registered with acknowledgement of receipt), whether an unread eBox message is sent on paper
too (and after how many days), and the legal basis for national-register look-ups (none of
its own: the installation's). Intake, screening, dispatch and the register take their lists
from here; the intake API keeps its own `Literal` for validation, checked against this
catalogue by a test.

**The policy** (`policy()`) is what applies to one organisation's documents of one type: its
`DocumentTypePolicy` row when a beheerder saved one, the catalogue's defaults otherwise. The
Beheer page (`policies()`, `update_policy()`) shows and changes it; every change is audited
with the values before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import FieldErrors, NotFound
from shared.i18n import N_, gettext
from shared.models.document_types import DocumentTypePolicy, PaperDelivery
from shared.models.people import SignerFunction, StaffRole
from shared.services import audit
from shared.services.access import StaffContext

_ = gettext

DIRECTOR, MAYOR = SignerFunction.ALGEMEEN_DIRECTEUR, SignerFunction.BURGEMEESTER

MAX_FALLBACK_DAYS = 365
LEGAL_BASIS_MAX = 1000
POLICY_ROLES = (StaffRole.BEHEERDER,)


@dataclass(frozen=True)
class DocumentType:
    """A kind of outgoing document and its defaults."""

    key: str
    name: str
    """Dutch msgid (translated when shown)."""
    signers: tuple[SignerFunction, ...] | None
    """Default screening, in signing order; () no signature; None: no default rule (the
    secretariat decides per document)."""
    screening_reason: str = ""
    paper: PaperDelivery = PaperDelivery.NORMAL
    paper_why: str = ""
    """Why it goes registered by default (Dutch; shown as the channel's reason)."""
    ebox_fallback_days: int | None = None
    dispute_suspends_payment: bool = False


CATALOGUE: dict[str, DocumentType] = {
    t.key: t
    for t in (
        DocumentType(
            "college_decision",
            N_("Beslissing van het college"),
            (DIRECTOR, MAYOR),
            "Beslissing van het college van burgemeester en schepenen: ondertekend door de"
            " algemeen directeur en daarna de burgemeester.",
        ),
        DocumentType(
            "vast_bureau_decision",
            N_("Beslissing van het vast bureau"),
            (DIRECTOR, MAYOR),
            "Beslissing van het vast bureau: ondertekend door de algemeen directeur en daarna"
            " de voorzitter van het vast bureau (de burgemeester).",
        ),
        DocumentType(
            "tax_assessment",
            N_("Aanslag in een gemeentebelasting"),
            (DIRECTOR, MAYOR),
            "Aanslag in een gemeentebelasting: ondertekend door de algemeen directeur en daarna"
            " de burgemeester.",
        ),
        DocumentType(
            "gas_fine",
            N_("Administratieve geldboete (GAS)"),
            (DIRECTOR, MAYOR),
            "Beslissing over een administratieve geldboete: ondertekend door de algemeen"
            " directeur en daarna de burgemeester.",
            paper=PaperDelivery.REGISTERED,
            paper_why="een GAS-boete wordt bij aangetekende brief betekend",
            # The appeal against a GAS fine suspends it (GAS-wet of 24 June 2013, art. 31).
            dispute_suspends_payment=True,
        ),
        DocumentType(
            "dispute_answer",
            N_("Beslissing over een bezwaar"),
            (DIRECTOR, MAYOR),
            "Beslissing over een bezwaar: ondertekend door de algemeen directeur en daarna de"
            " burgemeester.",
            paper=PaperDelivery.REGISTERED,
            paper_why="de beslissing over een bezwaar gaat aangetekend",
        ),
        DocumentType(
            "reminder",
            N_("Herinnering"),
            (),
            "Herinnering: geen beslissing, dus geen handtekening nodig.",
        ),
        DocumentType("letter", N_("Andere brief"), None),
    )
}
"""Every document type Zegel knows, in the order forms list them."""

PAPER_DELIVERY_NAMES: dict[PaperDelivery, str] = {
    PaperDelivery.NORMAL: N_("Gewone post"),
    PaperDelivery.REGISTERED: N_("Aangetekend"),
    PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT: N_("Aangetekend met ontvangstbewijs"),
}


def names() -> dict[str, str]:
    """key → Dutch msgid, in catalogue order."""
    return {key: t.name for key, t in CATALOGUE.items()}


def is_known(key: str) -> bool:
    return key in CATALOGUE


def name(key: str) -> str:
    """The (translated) name of a document type; the key itself when unknown."""
    known = CATALOGUE.get(key)
    return gettext(known.name) if known else key


def options() -> list[tuple[str, str]]:
    """(key, translated name) for a select."""
    return [(key, gettext(t.name)) for key, t in CATALOGUE.items()]


def paper_delivery_name(method: PaperDelivery) -> str:
    return gettext(PAPER_DELIVERY_NAMES[method])


# -- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """What applies to one organisation's documents of one type."""

    document_type: str
    paper: PaperDelivery
    ebox_fallback_days: int | None
    legal_basis: str | None
    """Its own legal basis for register look-ups; None: the installation's."""
    customised: bool
    """A beheerder saved it (False: the catalogue's defaults)."""
    updated_at: datetime | None = None
    dispute_suspends_payment: bool = False
    """A dispute suspends the document's payment request until it is decided."""

    @property
    def registered(self) -> bool:
        return self.paper is not PaperDelivery.NORMAL

    @property
    def acknowledgement(self) -> bool:
        return self.paper is PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT

    @property
    def paper_why(self) -> str:
        """Why it goes registered (Dutch, for the channel's reason)."""
        if self.customised:
            return "zo ingesteld door het bestuur voor dit soort stuk"
        known = CATALOGUE.get(self.document_type)
        return known.paper_why if known and known.paper_why else "zo ingesteld voor dit soort stuk"

    def audit_values(self) -> dict[str, object]:
        return {
            "paper_delivery": self.paper.value,
            "ebox_fallback_days": self.ebox_fallback_days,
            "legal_basis": self.legal_basis,
            "dispute_suspends_payment": self.dispute_suspends_payment,
        }


def default_policy(document_type: str) -> Policy:
    """The catalogue's defaults (normal post, no paper copy, the installation's legal basis
    for a type the catalogue does not know)."""
    known = CATALOGUE.get(document_type)
    if known is None:
        return Policy(document_type, PaperDelivery.NORMAL, None, None, customised=False)
    return Policy(
        known.key,
        known.paper,
        known.ebox_fallback_days,
        None,
        customised=False,
        dispute_suspends_payment=known.dispute_suspends_payment,
    )


def _from_row(row: DocumentTypePolicy) -> Policy:
    return Policy(
        row.document_type,
        row.paper_delivery,
        row.ebox_fallback_days,
        row.legal_basis,
        customised=True,
        updated_at=row.updated_at,
        dispute_suspends_payment=row.dispute_suspends_payment,
    )


def policy(session: Session, organisation_id: uuid.UUID, document_type: str) -> Policy:
    """The policy for one organisation's documents of one type."""
    row = session.scalars(
        select(DocumentTypePolicy).where(
            DocumentTypePolicy.organisation_id == organisation_id,
            DocumentTypePolicy.document_type == document_type,
        )
    ).one_or_none()
    return _from_row(row) if row is not None else default_policy(document_type)


def policy_map(session: Session, organisation_id: uuid.UUID) -> dict[str, Policy]:
    """Every catalogue type's policy for the organisation (plus saved rows of types the
    catalogue no longer knows)."""
    found = {
        row.document_type: _from_row(row)
        for row in session.scalars(
            select(DocumentTypePolicy).where(DocumentTypePolicy.organisation_id == organisation_id)
        )
    }
    return {key: found.get(key) or default_policy(key) for key in CATALOGUE} | found


def legal_basis(session: Session, organisation_id: uuid.UUID, document_type: str | None) -> str:
    """The legal basis for a register look-up about a document of this type: the type's own,
    or the installation's ("" when neither is set)."""
    if document_type:
        own = policy(session, organisation_id, document_type).legal_basis
        if own and own.strip():
            return own.strip()
    return get_settings().magda_legal_basis.strip()


@dataclass(frozen=True)
class Fallback:
    """Where unread eBox messages go on paper too."""

    organisation_id: uuid.UUID
    document_type: str
    days: int
    paper: PaperDelivery


def fallbacks(session: Session) -> list[Fallback]:
    """Every (organisation, document type) whose unread eBox messages go on paper too."""
    found: dict[tuple[uuid.UUID, str], Fallback] = {}
    defaults = [t for t in CATALOGUE.values() if t.ebox_fallback_days is not None]
    if defaults:
        from shared.models.people import Organisation

        for org_id in session.scalars(select(Organisation.id)):
            for t in defaults:
                assert t.ebox_fallback_days is not None
                found[(org_id, t.key)] = Fallback(org_id, t.key, t.ebox_fallback_days, t.paper)
    for row in session.scalars(select(DocumentTypePolicy)):
        key = (row.organisation_id, row.document_type)
        found.pop(key, None)
        if row.ebox_fallback_days is not None:
            found[key] = Fallback(
                row.organisation_id, row.document_type, row.ebox_fallback_days, row.paper_delivery
            )
    return list(found.values())


# -- the Beheer page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    document_type: str
    name: str
    policy: Policy
    default: Policy


def policies(session: Session, context: StaffContext) -> list[PolicyRow]:
    """The organisation's policy for every document type, next to the default."""
    context.require(*POLICY_ROLES)
    current = policy_map(session, context.organisation_id)
    return [
        PolicyRow(key, name(key), current[key], default_policy(key))
        for key in current
        if key in CATALOGUE
    ]


@dataclass(frozen=True)
class PolicyInput:
    """The form as typed (strings), checked by `update_policy`."""

    paper: str
    ebox_fallback: bool
    ebox_fallback_days: str
    legal_basis: str
    dispute_suspends_payment: bool = False


def _check(values: PolicyInput) -> tuple[PaperDelivery, int | None, str | None]:
    errors: dict[str, str] = {}
    paper = PaperDelivery.NORMAL
    try:
        paper = PaperDelivery(values.paper.strip())
    except ValueError:
        errors["papier"] = _("Kies hoe het stuk op papier verstuurd wordt.")
    days: int | None = None
    if values.ebox_fallback:
        raw = values.ebox_fallback_days.strip()
        if not raw:
            errors["dagen"] = _("Geef het aantal dagen waarna het stuk ook op papier vertrekt.")
        else:
            try:
                days = int(raw)
            except ValueError:
                errors["dagen"] = _("Geef het aantal dagen als een geheel getal, bv. 14.")
            else:
                if days < 1:
                    errors["dagen"] = _("Het aantal dagen moet minstens 1 zijn.")
                elif days > MAX_FALLBACK_DAYS:
                    errors["dagen"] = _("Het aantal dagen mag ten hoogste %(max)d zijn.") % {
                        "max": MAX_FALLBACK_DAYS
                    }
    basis = values.legal_basis.strip()
    if len(basis) > LEGAL_BASIS_MAX:
        errors["rechtsgrond"] = _("Dit veld is te lang: ten hoogste %(limit)d tekens.") % {
            "limit": LEGAL_BASIS_MAX
        }
    if errors:
        raise FieldErrors(errors)
    return paper, days, basis or None


def require_known(document_type: str) -> None:
    """NotFound (Dutch) for a type the catalogue does not know."""
    if document_type not in CATALOGUE:
        raise NotFound(_("Dit soort stuk bestaat niet."))


def update_policy(
    session: Session, context: StaffContext, document_type: str, values: PolicyInput
) -> Policy:
    """Save the organisation's policy for one type (audited, with before and after).
    FieldErrors (Dutch, per field) and nothing saved when the input is wrong."""
    context.require(*POLICY_ROLES)
    require_known(document_type)
    paper, days, basis = _check(values)
    row = session.scalars(
        select(DocumentTypePolicy)
        .where(
            DocumentTypePolicy.organisation_id == context.organisation_id,
            DocumentTypePolicy.document_type == document_type,
        )
        .with_for_update()
    ).one_or_none()
    before = (_from_row(row) if row else default_policy(document_type)).audit_values()
    if row is None:
        row = DocumentTypePolicy(
            id=uuid.uuid4(), organisation_id=context.organisation_id, document_type=document_type
        )
        session.add(row)
    row.paper_delivery = paper
    row.ebox_fallback_days = days
    row.legal_basis = basis
    row.dispute_suspends_payment = values.dispute_suspends_payment
    row.updated_by_id = context.user_id
    session.flush()
    after = _from_row(row)
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="document_type_policy.updated",
        object_type="document_type_policy",
        object_id=row.id,
        data={"document_type": document_type, "before": before, "after": after.audit_values()},
    )
    return after


def reset_policy(session: Session, context: StaffContext, document_type: str) -> Policy:
    """Back to the catalogue's defaults (audited)."""
    context.require(*POLICY_ROLES)
    require_known(document_type)
    row = session.scalars(
        select(DocumentTypePolicy)
        .where(
            DocumentTypePolicy.organisation_id == context.organisation_id,
            DocumentTypePolicy.document_type == document_type,
        )
        .with_for_update()
    ).one_or_none()
    default = default_policy(document_type)
    if row is None:
        return default
    before = _from_row(row).audit_values()
    session.delete(row)
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="document_type_policy.reset",
        object_type="document_type_policy",
        object_id=row.id,
        data={"document_type": document_type, "before": before, "after": default.audit_values()},
    )
    return default


def form_input(data: Mapping[str, str]) -> PolicyInput:
    """The Beheer form's fields: papier, papierkopie (ja), dagen, rechtsgrond, opschorten (ja)."""
    return PolicyInput(
        paper=data.get("papier", ""),
        ebox_fallback=data.get("papierkopie", "") == "ja",
        ebox_fallback_days=data.get("dagen", ""),
        legal_basis=data.get("rechtsgrond", ""),
        dispute_suspends_payment=data.get("opschorten", "") == "ja",
    )
