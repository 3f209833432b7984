"""Finding a sent document at the front office (onthaal): a citizen at the desk, or a letter in
the post, names it by one of the numbers on it.

One search field understands:
- a register number of the outgoing-mail register: 2026/000123 (also 2026/123);
- a structured communication: +++123/4567/89002+++ or its 12 digits;
- the letter's QR code read by a barcode scanner, which types the portal link
  (…/d/<token>) followed by Enter; or the access code printed on the letter (XXXX-XXXX-XXXX);
- otherwise, a part of the recipient's name.

Only documents of the staff member's own organisation that have been sent are found.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload

from shared.errors import InvalidInput, NotFound
from shared.i18n import N_
from shared.i18n import gettext as _
from shared.models.dispatch import Dispatch
from shared.models.documents import Document, DocumentStatus
from shared.models.payments import PaymentRequest
from shared.models.people import Recipient, StaffRole
from shared.services import access_codes
from shared.services.access import StaffContext

SEARCH_ROLES = (StaffRole.ONTHAAL, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
MAX_RESULTS = 50
MIN_NAME_LENGTH = 2

SENT = (DocumentStatus.DISPATCHED, DocumentStatus.DELIVERED, DocumentStatus.RETURNED)
"""A document the citizen can have received (and can dispute)."""

_REGISTER = re.compile(r"^(\d{4})\s*/\s*(\d{1,6})$")
_STRUCTURED = re.compile(r"^\+{0,3}\s*(\d{3})\s*/?\s*(\d{4})\s*/?\s*(\d{5})\s*\+{0,3}$")
_PORTAL_LINK = re.compile(r"/d/([A-Za-z0-9_-]{16,64})/?(?:[?#].*)?$")


class SearchKind(StrEnum):
    REGISTER_NUMBER = "register_number"
    STRUCTURED_COMMUNICATION = "structured_communication"
    PORTAL_LINK = "portal_link"
    ACCESS_CODE = "access_code"
    NAME = "name"


KIND_LABELS = {
    SearchKind.REGISTER_NUMBER: N_("registernummer"),
    SearchKind.STRUCTURED_COMMUNICATION: N_("gestructureerde mededeling"),
    SearchKind.PORTAL_LINK: N_("QR-code van de brief"),
    SearchKind.ACCESS_CODE: N_("toegangscode van de brief"),
    SearchKind.NAME: N_("naam van de bestemmeling"),
}


@dataclass(frozen=True)
class Query:
    kind: SearchKind
    value: str


def parse(typed: str) -> Query:
    """What the search field holds. Raises InvalidInput when it is empty or too short."""
    text = typed.strip()
    if not text:
        raise InvalidInput(
            _(
                "Geef een registernummer, een gestructureerde mededeling of een naam, of scan"
                " de QR-code op de brief."
            )
        )
    if match := _PORTAL_LINK.search(text):
        return Query(SearchKind.PORTAL_LINK, match.group(1))
    if match := _REGISTER.match(text):
        return Query(SearchKind.REGISTER_NUMBER, f"{match.group(1)}/{int(match.group(2)):06d}")
    if match := _STRUCTURED.match(text):
        return Query(SearchKind.STRUCTURED_COMMUNICATION, "".join(match.groups()))
    code = access_codes.normalise(text)
    if code is not None:
        return Query(SearchKind.ACCESS_CODE, code)
    if len(text) < MIN_NAME_LENGTH:
        raise InvalidInput(_("Geef minstens twee letters van de naam."))
    return Query(SearchKind.NAME, text[:200])


@dataclass(frozen=True)
class Found:
    document: Document
    register_numbers: list[str]
    structured_communication: str | None


@dataclass(frozen=True)
class SearchResult:
    query: Query
    documents: list[Found]

    @property
    def kind_label(self) -> str:
        return _(KIND_LABELS[self.query.kind])


def _documents(
    session: Session, context: StaffContext, where: ColumnElement[bool]
) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .options(joinedload(Document.recipient))
            .where(
                Document.organisation_id == context.organisation_id,
                Document.status.in_(SENT),
                where,
            )
            .order_by(Document.sent_at.desc(), Document.id)
            .limit(MAX_RESULTS)
        ).all()
    )


def matching(organisation_id: uuid.UUID, query: Query) -> ColumnElement[bool]:
    """The condition on Document for what was typed or scanned, within one organisation (the
    front office's search here, and the desk's search for a payment request)."""
    if query.kind is SearchKind.PORTAL_LINK:
        return Document.public_token == query.value
    if query.kind is SearchKind.ACCESS_CODE:
        return Document.access_code == query.value
    if query.kind is SearchKind.REGISTER_NUMBER:
        year, sequence = query.value.split("/")
        return Document.id.in_(
            select(Dispatch.document_id).where(
                Dispatch.organisation_id == organisation_id,
                Dispatch.register_year == int(year),
                Dispatch.register_sequence == int(sequence),
            )
        )
    if query.kind is SearchKind.STRUCTURED_COMMUNICATION:
        return Document.id.in_(
            select(PaymentRequest.document_id).where(
                PaymentRequest.organisation_id == organisation_id,
                PaymentRequest.structured_communication == query.value,
            )
        )
    pattern = "%" + query.value.lower().replace("%", "").replace("_", "") + "%"
    return Document.recipient_id.in_(
        select(Recipient.id).where(
            Recipient.organisation_id == organisation_id, func.lower(Recipient.name).like(pattern)
        )
    )


def search(session: Session, context: StaffContext, typed: str) -> SearchResult:
    """The own organisation's sent documents that match what was typed or scanned."""
    context.require(*SEARCH_ROLES)
    query = parse(typed)
    documents = _documents(session, context, matching(context.organisation_id, query))
    if not documents and query.kind is SearchKind.ACCESS_CODE:
        # twelve letters and digits may also be (part of) a name
        query = Query(SearchKind.NAME, typed.strip()[:200])
        documents = _documents(session, context, matching(context.organisation_id, query))
    return SearchResult(query, _with_numbers(session, documents))


def _with_numbers(session: Session, documents: list[Document]) -> list[Found]:
    ids = [d.id for d in documents]
    numbers: dict[uuid.UUID, list[str]] = {}
    for dispatch in session.scalars(
        select(Dispatch)
        .where(Dispatch.document_id.in_(ids), Dispatch.register_sequence.is_not(None))
        .order_by(Dispatch.attempt)
    ):
        if dispatch.register_number:
            numbers.setdefault(dispatch.document_id, []).append(dispatch.register_number)
    communications = dict(
        session.execute(
            select(PaymentRequest.document_id, PaymentRequest.structured_communication).where(
                PaymentRequest.document_id.in_(ids)
            )
        ).all()
    )
    return [Found(d, numbers.get(d.id, []), communications.get(d.id)) for d in documents]


def sent_document(session: Session, context: StaffContext, document_id: uuid.UUID) -> Document:
    """One sent document of the organisation, for the front office (NotFound otherwise)."""
    context.require(*SEARCH_ROLES)
    document = session.scalars(
        select(Document)
        .options(joinedload(Document.recipient))
        .where(
            Document.id == document_id,
            Document.organisation_id == context.organisation_id,
            Document.status.in_(SENT),
        )
    ).one_or_none()
    if document is None:
        raise NotFound(
            _("Dit stuk bestaat niet, is nog niet verzonden of hoort bij een ander bestuur.")
        )
    return document
