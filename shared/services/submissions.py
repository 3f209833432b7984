"""The JSON shape in which software hands over decisions and letters: the API of the minutes
software (`POST /api/v1/decisions`) and the JSON manifest of a ZIP import.

Names follow OSLO "Besluit Publicatie" where it has one (title, short_title, description,
motivation, legal_basis, session_date, body), so an export of minutes software such as Gelinkt
Notuleren maps onto it. Each document names its PDF in `file`: the name of the multipart part
(API) or the path inside the ZIP file (import).

`decode` turns JSON into these types with Dutch messages per field; `to_inputs` turns them into
the registration service's input; `decision_out` is the API's answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal, TypeVar

import msgspec
from sqlalchemy.orm import Session

from shared.errors import FieldErrors
from shared.i18n import gettext
from shared.models.documents import Decision, DisputeRight, Document, GoverningBody
from shared.models.people import RecipientKind
from shared.services import intake
from shared.services.api_keys import ApiClient
from shared.services.registration import (
    DecisionInput,
    LetterInput,
    RecipientInput,
    Registered,
    register_decision,
)

_ = gettext

DocumentType = Literal[
    "college_decision",
    "vast_bureau_decision",
    "tax_assessment",
    "gas_fine",
    "dispute_answer",
    "reminder",
    "letter",
]

Text = Annotated[str, msgspec.Meta(max_length=500)]
LongText = Annotated[str, msgspec.Meta(max_length=20_000)]


class RecipientIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who receives the letter: a citizen (national register number, bis numbers too), an
    enterprise (KBO number) or, when neither is known, a name and postal address."""

    kind: RecipientKind
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    national_register_number: str | None = None
    """For `citizen`: 11 digits, with or without dots and dashes."""
    enterprise_number: str | None = None
    """For `enterprise`: 10 digits (KBO), e.g. 0403.170.701."""
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] = "BE"


class DocumentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One outgoing letter: one PDF for one recipient, with its follow-up."""

    file: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    """The multipart part that carries the PDF (API), or its path in the ZIP (import)."""
    recipient: RecipientIn
    title: Text | None = None
    """Defaults to the decision's title."""
    document_type: DocumentType | None = None
    """Decides the default screening; defaults by body (college_decision, vast_bureau_decision)."""
    amount_due_cents: Annotated[int, msgspec.Meta(gt=0)] | None = None
    """Becomes a payment request, with `due_date`."""
    due_date: date | None = None
    dispute_right: DisputeRight = DisputeRight.NONE
    dispute_legal_text: LongText | None = None
    """Required with dispute_right `custom`: the legal text the letter must state."""


class LetterIn(DocumentIn, kw_only=True, forbid_unknown_fields=True):
    """An outgoing letter that comes from no decision (ZIP import)."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class _DecisionBase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: GoverningBody
    """Bestuursorgaan."""
    session_date: date
    """Date of the zitting."""
    decision_number: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    short_title: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    description: LongText | None = None
    motivation: LongText | None = None
    legal_basis: LongText | None = None
    documents: Annotated[list[DocumentIn], msgspec.Meta(min_length=1, max_length=500)]


class DecisionIn(_DecisionBase, kw_only=True, forbid_unknown_fields=True):
    """A decision (besluit) with its outgoing documents, as the minutes software sends it."""

    external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    """The caller's own id of the decision: a call with a known id and the same content gets
    the first answer again (200); with other content it is refused (409)."""


class ManifestDecision(_DecisionBase, kw_only=True, forbid_unknown_fields=True):
    external_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`manifest.json` of a ZIP import."""

    decisions: list[msgspec.Raw] = msgspec.field(default_factory=list)
    letters: list[msgspec.Raw] = msgspec.field(default_factory=list)


class FindingOut(msgspec.Struct, kw_only=True):
    page: int | None
    """1-based; null when about the whole file."""
    code: str
    message: str


class DocumentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    title: str
    document_type: str
    status: str
    file_name: str
    sha256: str
    page_count: int | None
    findings: list[FindingOut]
    """Intake findings per page: while there are any, the document stays a draft."""


class DecisionOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    external_id: str | None
    body: GoverningBody
    session_date: date
    decision_number: str
    title: str
    documents: list[DocumentOut]


class FieldProblem(msgspec.Struct, kw_only=True):
    field: str
    detail: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details; `detail` in Dutch."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None
    decision_id: str | None = None


# -- decoding with Dutch messages --------------------------------------------------------------

_TYPE_NAMES = {
    "str": "tekst",
    "int": "een geheel getal",
    "float": "een getal",
    "bool": "true of false",
    "object": "een object",
    "array": "een lijst",
    "null": "null",
    "date": "een datum (JJJJ-MM-DD)",
}
_AT = r"(?: - at `(?P<at>[^`]*)`)?$"
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str | None, str]]]] = [
    (
        re.compile(r"Object missing required field `(?P<field>[^`]+)`" + _AT),
        lambda m: (m.group("field"), _("Dit veld is verplicht.")),
    ),
    (
        re.compile(r"Object contains unknown field `(?P<field>[^`]+)`" + _AT),
        lambda m: (m.group("field"), _("Dit veld bestaat niet.")),
    ),
    (
        re.compile(r"Invalid enum value (?P<value>.+?)" + _AT),
        lambda m: (
            None,
            _("De waarde %(value)s is niet toegelaten.") % {"value": m.group("value")},
        ),
    ),
    (
        re.compile(r"Invalid RFC3339 encoded date" + _AT),
        lambda m: (None, _("Geef een datum als JJJJ-MM-DD.")),
    ),
    (
        re.compile(r"Expected `(?P<expected>\w+)`, got `(?P<got>\w+)`" + _AT),
        lambda m: (
            None,
            _("Verwacht: %(expected)s; ontvangen: %(got)s.")
            % {
                "expected": _TYPE_NAMES.get(m.group("expected"), m.group("expected")),
                "got": _TYPE_NAMES.get(m.group("got"), m.group("got")),
            },
        ),
    ),
    (
        re.compile(r"Expected `\w+` of length (?P<rule>[<>]=? ?\d+)" + _AT),
        lambda m: (None, _("De lengte moet %(rule)s zijn.") % {"rule": m.group("rule")}),
    ),
    (
        re.compile(r"Expected `\w+` (?P<rule>[<>]=? ?\d+)" + _AT),
        lambda m: (None, _("De waarde moet %(rule)s zijn.") % {"rule": m.group("rule")}),
    ),
    (
        re.compile(r"Expected `\w+` matching regex .*?" + _AT),
        lambda m: (None, _("Deze waarde heeft niet de juiste vorm.")),
    ),
    (
        re.compile(r"Expected `array` of length (?P<rule>.+?)" + _AT),
        lambda m: (None, _("Het aantal elementen moet %(rule)s zijn.") % {"rule": m.group("rule")}),
    ),
]


def _path(at: str | None) -> str:
    """msgspec's `$.documents[0].title` as Zegel's field key `documents.0.title`."""
    if not at:
        return ""
    return re.sub(r"\[(\d+)\]", r".\1", at.removeprefix("$")).strip(".")


def field_error(error: msgspec.ValidationError, prefix: str = "") -> FieldErrors:
    """A msgspec validation error as a Dutch FieldErrors with Zegel's field key."""
    text = str(error)
    for pattern, explain in _PATTERNS:
        match = pattern.match(text)
        if match:
            name, message = explain(match)
            key = _path(match.group("at"))
            if name:
                key = f"{key}.{name}" if key else name
            return FieldErrors({(prefix + key).strip(".") or "body": message})
    return FieldErrors(
        {prefix.strip(".") or "body": _("Ongeldige gegevens: %(detail)s") % {"detail": text}}
    )


T = TypeVar("T")


def decode(content: bytes, type_: type[T], *, what: str) -> T:
    """Decode JSON into `type_`; FieldErrors with a Dutch message otherwise."""
    try:
        return msgspec.json.decode(content, type=type_)
    except msgspec.ValidationError as error:
        raise field_error(error) from None
    except msgspec.DecodeError:
        raise FieldErrors(
            {what: _("Dit is geen geldige JSON (UTF-8).")},
        ) from None


def convert(value: object, type_: type[T], *, prefix: str = "") -> T:
    """Convert builtins (from a JSON manifest) into `type_`; FieldErrors otherwise."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as error:
        raise field_error(error, prefix) from None


# -- to the registration service ---------------------------------------------------------------


@dataclass(frozen=True)
class PdfFile:
    file_name: str
    content: bytes


def _recipient(data: RecipientIn) -> RecipientInput:
    return RecipientInput(
        kind=data.kind,
        name=data.name.strip(),
        national_register_number=(data.national_register_number or "").strip(),
        enterprise_number=(data.enterprise_number or "").strip(),
        street=(data.street or "").strip(),
        postal_code=(data.postal_code or "").strip(),
        city=(data.city or "").strip(),
        country=data.country,
    )


def letter_input(data: DocumentIn, pdf: PdfFile | None) -> LetterInput:
    return LetterInput(
        file_name=pdf.file_name if pdf else data.file,
        content=pdf.content if pdf else None,
        recipient=_recipient(data.recipient),
        title=(data.title or "").strip(),
        document_type=data.document_type or "",
        amount_due_cents=data.amount_due_cents,
        due_date=data.due_date,
        dispute_right=data.dispute_right,
        dispute_legal_text=(data.dispute_legal_text or "").strip(),
    )


def decision_input(data: _DecisionBase, external_id: str | None) -> DecisionInput:
    return DecisionInput(
        body=data.body,
        session_date=data.session_date,
        decision_number=data.decision_number.strip(),
        title=data.title.strip(),
        short_title=(data.short_title or "").strip(),
        description=(data.description or "").strip(),
        motivation=(data.motivation or "").strip(),
        legal_basis=(data.legal_basis or "").strip(),
        external_id=(external_id or "").strip(),
    )


def to_inputs(
    data: DecisionIn | ManifestDecision, files: Mapping[str, PdfFile]
) -> tuple[DecisionInput, list[LetterInput], dict[str, str]]:
    """The registration input, and a problem for each document whose PDF is missing."""
    missing: dict[str, str] = {}
    letters = []
    for index, document in enumerate(data.documents):
        pdf = files.get(document.file)
        if pdf is None:
            missing[f"documents.{index}.file"] = _(
                "Het PDF-bestand ‘%(name)s’ ontbreekt in het verzoek."
            ) % {"name": document.file}
        letters.append(letter_input(document, pdf))
    return decision_input(data, data.external_id), letters, missing


def decision_out(decision: Decision, documents: list[Document]) -> DecisionOut:
    return DecisionOut(
        id=decision.id,
        external_id=decision.external_id,
        body=decision.body,
        session_date=decision.session_date,
        decision_number=decision.decision_number,
        title=decision.title,
        documents=[
            DocumentOut(
                id=document.id,
                title=document.title,
                document_type=document.document_type,
                status=document.status.value,
                file_name=document.file_name,
                sha256=document.current_sha256,
                page_count=document.page_count,
                findings=[
                    FindingOut(page=f.page, code=f.code, message=f.message)
                    for f in intake.stored_findings(document)
                ],
            )
            for document in documents
        ],
    )


def submit_decision(
    session: Session, client: ApiClient, metadata: bytes | None, files: Mapping[str, PdfFile]
) -> Registered:
    """`POST /api/v1/decisions`: register a decision of the client's organisation from its
    JSON (`metadata`) and the PDFs by part name. Idempotent by the external id (see
    `registration.register_decision`)."""
    if metadata is None:
        raise FieldErrors(
            {"decision": _("Het deel ‘decision’ met de gegevens van de beslissing ontbreekt.")}
        )
    data = decode(metadata, DecisionIn, what="decision")
    decision, letters, missing = to_inputs(data, files)
    if missing:
        raise FieldErrors(missing)
    return register_decision(session, client, decision, letters, client.actor, source="api")
