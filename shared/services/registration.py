"""Registering a decision with its outgoing letters, or a letter on its own (intake).

Every channel ends here: the back-office forms, the API of the minutes software and the ZIP
import. `register_decision` creates a `Decision` and one draft `Document` per letter (one PDF
for one recipient: a citizen by national register number, an enterprise by KBO number, or a
name and postal address), with its follow-up (amount due and due date; dispute right).

Order of work: first everything that needs no database (the fields, the numbers' check
digits, the PDF checks), collecting every problem so the user sees them all at once
(`FieldErrors`, keyed by field: `title`, `documents.0.recipient.national_register_number`);
then duplicates; then the rows, each change in the audit trail. Nothing is written when there
is a problem.

A PDF that cannot be used at all (not a PDF, encrypted, unreadable, too large, too many pages)
refuses the registration. A PDF with layout findings on its pages (not A4, fonts not embedded,
ink in the address window or the margins) is registered as a draft *with* its findings and page
previews, to be replaced before screening (which runs the checks again): the issue's "errors
are listed per page with the reason and a preview; the document stays a draft".

National register numbers are validated (bis numbers too), stored only as a keyed digest and a
sealed value (`shared.protection`), and never written to the audit trail or a log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session
from stdnum.be import vat
from stdnum.exceptions import ValidationError as StdnumValidationError

from shared.config import get_settings
from shared.errors import DomainError, FieldErrors, InvalidInput
from shared.errors import IntegrityError as StorageIntegrityError
from shared.i18n import N_, format_date, gettext
from shared.models.documents import (
    Decision,
    DisputeRight,
    Document,
    DocumentStatus,
    GoverningBody,
)
from shared.models.people import Recipient, RecipientKind, StaffRole
from shared.pdf.checks import PdfCheckResult
from shared.protection import normalise_ssin, seal, ssin_digest
from shared.services import audit, document_types, payments
from shared.services.access import StaffContext
from shared.services.intake import check_upload, is_fatal, record_check
from shared.storage import get_storage
from shared.timeutil import today

_ = gettext

# -- vocabularies ------------------------------------------------------------------------------

BODY_LABELS: dict[GoverningBody, str] = {
    GoverningBody.COLLEGE: N_("college van burgemeester en schepenen"),
    GoverningBody.VAST_BUREAU: N_("vast bureau"),
    GoverningBody.GEMEENTERAAD: N_("gemeenteraad"),
    GoverningBody.RAAD_MAATSCHAPPELIJK_WELZIJN: N_("raad voor maatschappelijk welzijn"),
    GoverningBody.BIJZONDER_COMITE: N_("bijzonder comité voor de sociale dienst"),
}

DOCUMENT_TYPES: dict[str, str] = document_types.names()
"""Document types the intake accepts: the catalogue's (`shared.services.document_types`)."""

DEFAULT_DOCUMENT_TYPE: dict[GoverningBody, str] = {
    GoverningBody.COLLEGE: "college_decision",
    GoverningBody.VAST_BUREAU: "vast_bureau_decision",
}
LETTER_DOCUMENT_TYPE = "letter"

DISPUTE_RIGHT_LABELS: dict[DisputeRight, str] = {
    DisputeRight.NONE: N_("Geen"),
    DisputeRight.MUNICIPAL_TAX_OBJECTION: N_("Bezwaar tegen een gemeentebelasting"),
    DisputeRight.GAS_APPEAL: N_("Beroep tegen een GAS-boete"),
    DisputeRight.CUSTOM: N_("Ander rechtsmiddel (met de wettelijke tekst)"),
}

RECIPIENT_KIND_LABELS: dict[RecipientKind, str] = {
    RecipientKind.CITIZEN: N_("Burger, met rijksregisternummer"),
    RecipientKind.ENTERPRISE: N_("Onderneming, met KBO-nummer"),
    RecipientKind.POSTAL: N_("Alleen naam en adres"),
}


def document_type_label(key: str) -> str:
    """The Dutch (or translated) name of a document type; the key itself when unknown."""
    return document_types.name(key)


def dispute_right_label(right: DisputeRight) -> str | None:
    """The dispute right in words; None for none."""
    return None if right is DisputeRight.NONE else _(DISPUTE_RIGHT_LABELS[right])


def body_label(body: GoverningBody) -> str:
    return _(BODY_LABELS[body])


# -- input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientInput:
    kind: RecipientKind | None
    name: str = ""
    national_register_number: str = ""
    enterprise_number: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "BE"


@dataclass(frozen=True)
class LetterInput:
    """One outgoing letter: one PDF for one recipient, with its follow-up."""

    file_name: str
    content: bytes | None
    recipient: RecipientInput
    title: str = ""
    """Defaults to the decision's title."""
    document_type: str = ""
    """Defaults by the decision's body (college, vast bureau), else 'letter'."""
    amount_due_cents: int | None = None
    due_date: date | None = None
    dispute_right: DisputeRight = DisputeRight.NONE
    dispute_legal_text: str = ""


@dataclass(frozen=True)
class DecisionInput:
    """A besluit; names follow OSLO 'Besluit Publicatie' (title, short title, description,
    motivation, legal basis, session date, body)."""

    body: GoverningBody | None
    session_date: date | None
    decision_number: str
    title: str
    short_title: str = ""
    description: str = ""
    motivation: str = ""
    legal_basis: str = ""
    external_id: str = ""


class Scope(Protocol):
    """For whom the intake registers: a staff member, an API key or an import job."""

    @property
    def organisation_id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class Registered:
    decision: Decision | None
    documents: list[Document]
    replayed: bool = False
    """True when an earlier registration with the same external id and content was found."""


class DuplicateDecision(DomainError):
    """The decision (body, session date, number) is registered already."""

    status_code = 409
    code = "duplicate_decision"

    def __init__(self, message: str, existing_id: uuid.UUID) -> None:
        super().__init__(message)
        self.existing_id = existing_id

    def problem_extra(self) -> dict[str, Any]:
        return {"decision_id": str(self.existing_id)}


class ExternalIdConflict(DomainError):
    """The external id is known, but was registered with other content."""

    status_code = 409
    code = "external_id_conflict"

    def __init__(self, message: str, existing_id: uuid.UUID) -> None:
        super().__init__(message)
        self.existing_id = existing_id

    def problem_extra(self) -> dict[str, Any]:
        return {"decision_id": str(self.existing_id)}


# -- rules on single values (pure) -------------------------------------------------------------


def normalise_enterprise_number(value: str) -> str:
    """The 10 digits of a valid KBO (enterprise) number, e.g. '0403170701'.

    Accepts dots, spaces and a 'BE' prefix; an old 9-digit number gets its leading 0.
    Raises InvalidInput with a Dutch message otherwise.
    """
    text = value.strip().upper().removeprefix("BE").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or any(not (ch.isdigit() or ch in " .-") for ch in text):
        raise InvalidInput(_("Een ondernemingsnummer bestaat uit 10 cijfers, bv. 0403.170.701."))
    if len(digits) == 9:
        digits = "0" + digits
    if len(digits) != 10:
        raise InvalidInput(_("Een ondernemingsnummer bestaat uit 10 cijfers, bv. 0403.170.701."))
    if digits[0] not in "01":
        raise InvalidInput(_("Een ondernemingsnummer begint met 0 of 1."))
    try:
        return str(vat.validate(digits))
    except StdnumValidationError:
        raise InvalidInput(
            _("Dit ondernemingsnummer klopt niet: het controlegetal is fout.")
        ) from None


def normalise_national_number(value: str) -> str:
    """The 11 digits of a valid national register number or bis number."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 11 or any(not (ch.isdigit() or ch in " .-") for ch in value.strip()):
        raise InvalidInput(
            _("Een rijksregisternummer bestaat uit 11 cijfers, bv. 85.07.30-033.28.")
        )
    try:
        return normalise_ssin(digits)
    except InvalidInput:
        raise InvalidInput(
            _("Dit rijksregisternummer klopt niet: het controlegetal of de geboortedatum is fout.")
        ) from None


_AMOUNT = re.compile(r"^\d+(?:[.,]\d{1,2})?$")


def parse_amount_cents(value: str) -> int | None:
    """An amount in euro as people type it ('125', '125,5', '1.234,50', '€ 12.50') in cents;
    None when empty. Raises InvalidInput when it is not an amount or not above zero."""
    text = value.strip().replace("€", "").replace("EUR", "").replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if "," in text and "." in text:  # 1.234,50 or 1,234.50: the last one is the decimal mark
        thousands = "." if text.rfind(",") > text.rfind(".") else ","
        text = text.replace(thousands, "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):  # 1.234 or 1.234.567: thousands
        text = text.replace(".", "")
    if not _AMOUNT.fullmatch(text):
        raise InvalidInput(_("Geef het bedrag in euro, bv. 125,50."))
    try:
        cents = int((Decimal(text.replace(",", ".")) * 100).to_integral_value())
    except InvalidOperation:
        raise InvalidInput(_("Geef het bedrag in euro, bv. 125,50.")) from None
    if cents <= 0:
        raise InvalidInput(_("Het bedrag moet groter zijn dan nul."))
    return cents


_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")


def parse_date(value: str) -> date | None:
    """A date as 2026-12-31 (what a date field sends) or 31/12/2026; None when empty."""
    text = value.strip()
    if not text:
        return None
    try:
        match = _DMY.fullmatch(text)
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("Geef een geldige datum, bv. 31/12/2026.")) from None


# -- reading flat fields (forms and CSV manifests) ---------------------------------------------


@dataclass
class Problems:
    """Problems found while reading input, by field; the first problem of a field wins."""

    errors: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)

    def __bool__(self) -> bool:
        return bool(self.errors)


def _text(values: Mapping[str, str], key: str) -> str:
    return (values.get(key) or "").strip()


def read_decision(values: Mapping[str, str], problems: Problems) -> DecisionInput:
    """A DecisionInput from flat text fields named as its attributes."""
    body: GoverningBody | None = None
    if raw_body := _text(values, "body"):
        try:
            body = GoverningBody(raw_body)
        except ValueError:
            problems.add("body", _("Kies het bestuursorgaan uit de lijst."))
    session_date = None
    try:
        session_date = parse_date(_text(values, "session_date"))
    except InvalidInput as error:
        problems.add("session_date", error.message)
    return DecisionInput(
        body=body,
        session_date=session_date,
        decision_number=_text(values, "decision_number"),
        title=_text(values, "title"),
        short_title=_text(values, "short_title"),
        description=_text(values, "description"),
        motivation=_text(values, "motivation"),
        legal_basis=_text(values, "legal_basis"),
        external_id=_text(values, "external_id"),
    )


def read_letter(
    values: Mapping[str, str],
    problems: Problems,
    *,
    prefix: str = "",
    file_name: str = "",
    content: bytes | None = None,
) -> LetterInput:
    """A LetterInput from flat text fields: `<prefix>title`, `<prefix>recipient.name`, …
    The amount is in euro as typed (`amount_due`); dates as 2026-12-31 or 31/12/2026."""

    def text(key: str) -> str:
        return _text(values, prefix + key)

    kind: RecipientKind | None = None
    if raw_kind := text("recipient.kind"):
        try:
            kind = RecipientKind(raw_kind)
        except ValueError:
            problems.add(prefix + "recipient.kind", _("Kies wie de brief ontvangt."))
    amount = None
    try:
        amount = parse_amount_cents(text("amount_due"))
    except InvalidInput as error:
        problems.add(prefix + "amount_due", error.message)
    due_date = None
    try:
        due_date = parse_date(text("due_date"))
    except InvalidInput as error:
        problems.add(prefix + "due_date", error.message)
    dispute_right = DisputeRight.NONE
    if raw_right := text("dispute_right"):
        try:
            dispute_right = DisputeRight(raw_right)
        except ValueError:
            problems.add(prefix + "dispute_right", _("Kies het rechtsmiddel uit de lijst."))
    return LetterInput(
        file_name=file_name,
        content=content,
        recipient=RecipientInput(
            kind=kind,
            name=text("recipient.name"),
            national_register_number=text("recipient.national_register_number"),
            enterprise_number=text("recipient.enterprise_number"),
            street=text("recipient.street"),
            postal_code=text("recipient.postal_code"),
            city=text("recipient.city"),
            country=(text("recipient.country") or "BE").upper(),
        ),
        title=text("title"),
        document_type=text("document_type"),
        amount_due_cents=amount,
        due_date=due_date,
        dispute_right=dispute_right,
        dispute_legal_text=text("dispute_legal_text"),
    )


# -- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """A letter that passed validation: its normalised numbers and its PDF's check."""

    letter: LetterInput
    ssin: str | None
    enterprise_number: str | None
    check: PdfCheckResult


def _too_long(problems: Problems, key: str, value: str, limit: int) -> None:
    if len(value) > limit:
        problems.add(
            key, _("Dit veld is te lang: ten hoogste %(limit)d tekens.") % {"limit": limit}
        )


def _validate_decision(decision: DecisionInput, problems: Problems) -> None:
    if decision.body is None:
        problems.add("body", _("Kies het bestuursorgaan."))
    if decision.session_date is None:
        problems.add("session_date", _("Geef de datum van de zitting."))
    elif decision.session_date > today():
        problems.add("session_date", _("De zitting kan niet in de toekomst liggen."))
    if not decision.decision_number:
        problems.add("decision_number", _("Geef het nummer van de beslissing."))
    if not decision.title:
        problems.add("title", _("Geef de titel van de beslissing."))
    _too_long(problems, "decision_number", decision.decision_number, 50)
    _too_long(problems, "title", decision.title, 500)
    _too_long(problems, "short_title", decision.short_title, 200)
    _too_long(problems, "external_id", decision.external_id, 200)


def _validate_recipient(
    recipient: RecipientInput, problems: Problems, prefix: str
) -> tuple[str | None, str | None]:
    key = prefix + "recipient."
    ssin = enterprise = None
    if recipient.kind is None:
        problems.add(key + "kind", _("Kies wie de brief ontvangt."))
    if not recipient.name:
        problems.add(key + "name", _("Geef de naam van de bestemmeling."))
    _too_long(problems, key + "name", recipient.name, 200)
    _too_long(problems, key + "street", recipient.street, 200)
    _too_long(problems, key + "city", recipient.city, 100)
    if recipient.kind is RecipientKind.CITIZEN:
        if not recipient.national_register_number:
            problems.add(
                key + "national_register_number", _("Geef het rijksregisternummer van de burger.")
            )
        else:
            try:
                ssin = normalise_national_number(recipient.national_register_number)
            except InvalidInput as error:
                problems.add(key + "national_register_number", error.message)
    elif recipient.kind is RecipientKind.ENTERPRISE:
        if not recipient.enterprise_number:
            problems.add(
                key + "enterprise_number",
                _("Geef het ondernemingsnummer (KBO) van de onderneming."),
            )
        else:
            try:
                enterprise = normalise_enterprise_number(recipient.enterprise_number)
            except InvalidInput as error:
                problems.add(key + "enterprise_number", error.message)
    if recipient.kind is RecipientKind.POSTAL:
        if not recipient.street:
            problems.add(key + "street", _("Geef de straat en het huisnummer."))
        if not recipient.postal_code:
            problems.add(key + "postal_code", _("Geef de postcode."))
        if not recipient.city:
            problems.add(key + "city", _("Geef de gemeente."))
    if not re.fullmatch(r"[A-Z]{2}", recipient.country):
        problems.add(key + "country", _("Geef het land als code van twee letters, bv. BE."))
    elif (
        recipient.country == "BE"
        and recipient.postal_code
        and not re.fullmatch(r"\d{4}", recipient.postal_code)
    ):
        problems.add(key + "postal_code", _("Een Belgische postcode heeft 4 cijfers."))
    _too_long(problems, key + "postal_code", recipient.postal_code, 10)
    return ssin, enterprise


def _validate_letter(
    letter: LetterInput, problems: Problems, prefix: str, *, needs_title: bool
) -> _Checked | None:
    before = len(problems.errors)
    if needs_title and not letter.title:
        problems.add(prefix + "title", _("Geef de titel van de brief."))
    _too_long(problems, prefix + "title", letter.title, 500)
    if letter.document_type and letter.document_type not in DOCUMENT_TYPES:
        problems.add(prefix + "document_type", _("Kies het soort stuk uit de lijst."))
    ssin, enterprise = _validate_recipient(letter.recipient, problems, prefix)

    if letter.amount_due_cents is not None:
        if letter.amount_due_cents <= 0:
            problems.add(prefix + "amount_due", _("Het bedrag moet groter zijn dan nul."))
        if letter.due_date is None:
            problems.add(prefix + "due_date", _("Geef de vervaldag van het bedrag."))
    elif letter.due_date is not None:
        problems.add(
            prefix + "amount_due", _("Geef het bedrag dat tegen de vervaldag betaald moet worden.")
        )
    if letter.due_date is not None and letter.due_date < today():
        problems.add(prefix + "due_date", _("De vervaldag ligt in het verleden."))
    if letter.dispute_right is DisputeRight.CUSTOM and not letter.dispute_legal_text:
        problems.add(
            prefix + "dispute_legal_text",
            _("Geef de tekst over het rechtsmiddel die in de brief moet staan."),
        )

    check: PdfCheckResult | None = None
    if letter.content is None:
        problems.add(prefix + "file", _("Kies het PDF-bestand van de brief."))
    else:
        check = check_upload(letter.content)
        if is_fatal(check):
            problems.add(prefix + "file", check.summary())
    if len(problems.errors) > before or check is None:
        return None
    return _Checked(letter, ssin, enterprise, check)


def fingerprint(decision: DecisionInput, letters: Sequence[LetterInput]) -> str:
    """SHA-256 over the content of a submission: every field and every PDF's SHA-256. A
    national register number enters only as its keyed digest."""

    def recipient(r: RecipientInput) -> dict[str, Any]:
        number = r.national_register_number
        digits = "".join(ch for ch in number if ch.isdigit())
        return {
            "kind": r.kind.value if r.kind else None,
            "name": r.name,
            "ssin": ssin_digest(digits) if digits else "",
            "enterprise_number": "".join(ch for ch in r.enterprise_number if ch.isdigit()),
            "street": r.street,
            "postal_code": r.postal_code,
            "city": r.city,
            "country": r.country,
        }

    content = {
        "decision": {
            "body": decision.body.value if decision.body else None,
            "session_date": decision.session_date.isoformat() if decision.session_date else None,
            "decision_number": decision.decision_number,
            "title": decision.title,
            "short_title": decision.short_title,
            "description": decision.description,
            "motivation": decision.motivation,
            "legal_basis": decision.legal_basis,
            "external_id": decision.external_id,
        },
        "documents": [
            {
                "pdf": hashlib.sha256(letter.content or b"").hexdigest(),
                "title": letter.title,
                "document_type": letter.document_type,
                "recipient": recipient(letter.recipient),
                "amount_due_cents": letter.amount_due_cents,
                "due_date": letter.due_date.isoformat() if letter.due_date else None,
                "dispute_right": letter.dispute_right.value,
                "dispute_legal_text": letter.dispute_legal_text,
            }
            for letter in letters
        ],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- writing -----------------------------------------------------------------------------------


def _require_role(context: Scope) -> None:
    if isinstance(context, StaffContext):
        context.require(StaffRole.SECRETARIAAT)


def _recipient(
    session: Session,
    organisation_id: uuid.UUID,
    checked: _Checked,
    actor: audit.Actor,
) -> Recipient:
    data = checked.letter.recipient
    assert data.kind is not None
    existing: Recipient | None = None
    if checked.ssin is not None:
        existing = session.scalars(
            select(Recipient).where(
                Recipient.organisation_id == organisation_id,
                Recipient.ssin_digest == ssin_digest(checked.ssin),
            )
        ).one_or_none()
    elif checked.enterprise_number is not None:
        existing = session.scalars(
            select(Recipient).where(
                Recipient.organisation_id == organisation_id,
                Recipient.enterprise_number == checked.enterprise_number,
            )
        ).one_or_none()
    address = {
        "name": data.name,
        "street": data.street or None,
        "postal_code": data.postal_code or None,
        "city": data.city or None,
        "country": data.country,
    }
    if existing is not None:
        # The letter carries the latest name and address the organisation knows.
        changed = sorted(
            key
            for key, value in address.items()
            if value is not None and getattr(existing, key) != value
        )
        if changed:
            for key in changed:
                setattr(existing, key, address[key])
            audit.record(
                session,
                actor=actor,
                organisation_id=organisation_id,
                action="recipient.updated",
                object_type="recipient",
                object_id=existing.id,
                data={"fields": changed},
            )
        return existing
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        kind=data.kind,
        ssin_digest=ssin_digest(checked.ssin) if checked.ssin else None,
        ssin_sealed=seal(checked.ssin) if checked.ssin else None,
        enterprise_number=checked.enterprise_number,
        **address,
    )
    session.add(recipient)
    session.flush()
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation_id,
        action="recipient.created",
        object_type="recipient",
        object_id=recipient.id,
        data={"kind": data.kind.value},
    )
    return recipient


def _document(
    session: Session,
    organisation_id: uuid.UUID,
    checked: _Checked,
    *,
    decision: Decision | None,
    title: str,
    document_type: str,
    actor: audit.Actor,
    source: str,
) -> Document:
    letter = checked.letter
    assert letter.content is not None
    recipient = _recipient(session, organisation_id, checked, actor)
    sha256 = get_storage().put(letter.content)
    document = Document(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        decision_id=decision.id if decision else None,
        recipient_id=recipient.id,
        document_type=document_type,
        title=title,
        status=DocumentStatus.DRAFT,
        file_name=(letter.file_name or "document.pdf")[-255:],
        original_sha256=sha256,
        current_sha256=sha256,
        page_count=checked.check.page_count,
        amount_due_cents=letter.amount_due_cents,
        due_date=letter.due_date if letter.amount_due_cents is not None else None,
        dispute_right=letter.dispute_right,
        dispute_legal_text=(
            letter.dispute_legal_text if letter.dispute_right is DisputeRight.CUSTOM else None
        ),
        public_token=secrets.token_urlsafe(32),
        # The owner: who registered it (gets the e-mail when a signer sends it back).
        created_by_id=uuid.UUID(actor.id) if actor.type == "staff" and actor.id else None,
    )
    record_check(document, sha256, checked.check)
    document.recipient = recipient
    session.add(document)
    session.flush()
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation_id,
        action="document.registered",
        object_type="document",
        object_id=document.id,
        status_after=document.status.value,
        data={
            "title": title,
            "document_type": document_type,
            "decision_id": str(decision.id) if decision else None,
            "recipient_id": str(recipient.id),
            "recipient_kind": recipient.kind.value,
            "file_name": document.file_name,
            "sha256": sha256,
            "findings": sorted(checked.check.codes),
            "source": source,
        },
    )
    payments.create_for_document(session, document, actor=actor)
    return document


def _check_bank_account(
    session: Session, organisation_id: uuid.UUID, prefixes: list[str], problems: Problems
) -> None:
    """An amount due needs the organisation's IBAN (for the payment request)."""
    if not prefixes:
        return
    try:
        payments.require_bank_account(session, organisation_id)
    except payments.NoBankAccount as error:
        for prefix in prefixes:
            problems.add(prefix + "amount_due", error.message)


def _existing_by_external_id(
    session: Session, organisation_id: uuid.UUID, external_id: str
) -> Decision | None:
    return session.scalars(
        select(Decision).where(
            Decision.organisation_id == organisation_id, Decision.external_id == external_id
        )
    ).one_or_none()


def _replay(existing: Decision, external_id: str, print_: str | None) -> Registered:
    if existing.intake_fingerprint is not None and existing.intake_fingerprint == print_:
        documents = sorted(existing.documents, key=lambda d: (d.created_at, str(d.id)))
        return Registered(existing, documents, replayed=True)
    raise ExternalIdConflict(
        _(
            "Er is al een beslissing geregistreerd met extern id ‘%(external_id)s’, maar met"
            " andere gegevens. Gebruik een nieuw extern id, of stuur exact dezelfde gegevens"
            " opnieuw."
        )
        % {"external_id": external_id},
        existing.id,
    )


def _already_registered(
    session: Session,
    organisation_id: uuid.UUID,
    data: DecisionInput,
    print_: str | None,
    existing_id: uuid.UUID,
) -> Registered:
    """The decision turned out to be registered already: the first registration again when it
    came with the same external id and content (a repeated API call, perhaps at the same
    moment); otherwise ExternalIdConflict or DuplicateDecision."""
    if data.external_id:
        existing = _existing_by_external_id(session, organisation_id, data.external_id)
        if existing is not None:
            return _replay(existing, data.external_id, print_)
    raise _duplicate(data, existing_id)


def _duplicate(decision: DecisionInput, existing_id: uuid.UUID) -> DuplicateDecision:
    assert decision.body is not None
    assert decision.session_date is not None
    return DuplicateDecision(
        _("Beslissing %(number)s van het %(body)s van %(date)s is al geregistreerd.")
        % {
            "number": decision.decision_number,
            "body": _(BODY_LABELS[decision.body]),
            "date": format_date(decision.session_date),
        },
        existing_id,
    )


def register_decision(
    session: Session,
    context: Scope,
    data: DecisionInput,
    documents: Sequence[LetterInput],
    actor: audit.Actor,
    *,
    source: str = "form",
    problems: Problems | None = None,
) -> Registered:
    """Register a decision with one draft document per letter, in the caller's transaction.

    `problems` are those the caller found while reading its input (a date that is no date);
    they are reported together with the rest. Raises FieldErrors (nothing written) when
    anything is wrong; DuplicateDecision when body, session date and number are known;
    ExternalIdConflict when the external id is known with other content. The same external
    id with the same content returns the first registration (`replayed`), writing nothing.
    """
    _require_role(context)
    organisation_id = context.organisation_id
    print_ = fingerprint(data, documents) if data.external_id else None
    if data.external_id:
        existing = _existing_by_external_id(session, organisation_id, data.external_id)
        if existing is not None:
            return _replay(existing, data.external_id, print_)

    found = Problems(dict(problems.errors) if problems else {})
    _validate_decision(data, found)
    if not documents:
        found.add("documents", _("Voeg minstens één brief toe."))
    checked: list[_Checked | None] = [
        _validate_letter(letter, found, f"documents.{index}.", needs_title=False)
        for index, letter in enumerate(documents)
    ]
    _check_bank_account(
        session,
        organisation_id,
        [f"documents.{i}." for i, letter in enumerate(documents) if letter.amount_due_cents],
        found,
    )
    if found:
        raise FieldErrors(found.errors)
    assert data.body is not None
    assert data.session_date is not None

    existing_id = session.scalar(
        select(Decision.id).where(
            Decision.organisation_id == organisation_id,
            Decision.body == data.body,
            Decision.session_date == data.session_date,
            Decision.decision_number == data.decision_number,
        )
    )
    if existing_id is not None:
        # Registered since the look-up above (the same API call twice at once) or before.
        return _already_registered(session, organisation_id, data, print_, existing_id)

    decision = Decision(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        body=data.body,
        session_date=data.session_date,
        decision_number=data.decision_number,
        title=data.title,
        short_title=data.short_title or None,
        description=data.description or None,
        motivation=data.motivation or None,
        legal_basis=data.legal_basis or None,
        external_id=data.external_id or None,
        intake_fingerprint=print_,
    )
    try:
        with session.begin_nested():
            session.add(decision)
            session.flush()
    except SAIntegrityError:
        # Registered at the same moment by another transaction (the same API call twice).
        raced = session.scalar(
            select(Decision.id).where(
                Decision.organisation_id == organisation_id,
                Decision.body == data.body,
                Decision.session_date == data.session_date,
                Decision.decision_number == data.decision_number,
            )
        )
        return _already_registered(session, organisation_id, data, print_, raced or decision.id)

    default_type = DEFAULT_DOCUMENT_TYPE.get(data.body, LETTER_DOCUMENT_TYPE)
    created = []
    for item in checked:
        assert item is not None
        created.append(
            _document(
                session,
                organisation_id,
                item,
                decision=decision,
                title=item.letter.title or data.title,
                document_type=item.letter.document_type or default_type,
                actor=actor,
                source=source,
            )
        )
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation_id,
        action="decision.registered",
        object_type="decision",
        object_id=decision.id,
        data={
            "body": data.body.value,
            "session_date": data.session_date.isoformat(),
            "decision_number": data.decision_number,
            "title": data.title,
            "external_id": data.external_id or None,
            "documents": [str(d.id) for d in created],
            "source": source,
        },
    )
    return Registered(decision, created)


def register_letter(
    session: Session,
    context: Scope,
    letter: LetterInput,
    actor: audit.Actor,
    *,
    source: str = "form",
    problems: Problems | None = None,
) -> Registered:
    """Register an outgoing letter that comes from no decision, as a draft document.

    Field keys of problems have no prefix (`title`, `recipient.name`, `file`). Raises
    FieldErrors (nothing written) when anything is wrong.
    """
    _require_role(context)
    found = Problems(dict(problems.errors) if problems else {})
    checked = _validate_letter(letter, found, "", needs_title=True)
    _check_bank_account(
        session, context.organisation_id, [""] if letter.amount_due_cents else [], found
    )
    if found or checked is None:
        raise FieldErrors(found.errors)
    document = _document(
        session,
        context.organisation_id,
        checked,
        decision=None,
        title=letter.title,
        document_type=letter.document_type or LETTER_DOCUMENT_TYPE,
        actor=actor,
        source=source,
    )
    return Registered(None, [document])


# -- uploads kept across a form that comes back with problems -----------------------------------


def _upload_mac(organisation_id: uuid.UUID, body: str) -> str:
    key = hashlib.sha256(
        b"zegel-intake-upload:" + get_settings().secret_key.get_secret_value().encode()
    ).digest()
    return hmac.new(key, f"{organisation_id}:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def remember_upload(organisation_id: uuid.UUID, file_name: str, content: bytes) -> str:
    """Keep an uploaded file while its form is corrected; returns a token for a hidden field,
    so the user need not choose the file again. The token is bound to the organisation and
    signed, so it cannot name any other stored file."""
    sha256 = get_storage().put(content)
    body = base64.urlsafe_b64encode(
        json.dumps({"s": sha256, "n": file_name[-255:]}).encode()
    ).decode()
    return f"{body}.{_upload_mac(organisation_id, body)}"


def recall_upload(organisation_id: uuid.UUID, token: str) -> tuple[str, bytes] | None:
    """The (file name, content) a `remember_upload` token names; None when it is not valid."""
    body, _dot, mac = token.strip().rpartition(".")
    if not body or not hmac.compare_digest(mac, _upload_mac(organisation_id, body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        return str(data["n"]), get_storage().get(str(data["s"]))
    except (ValueError, KeyError, TypeError, DomainError, StorageIntegrityError):
        return None
