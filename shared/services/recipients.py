"""Recipients from the national register and the KBO, and the log of every consultation.

Every question to MAGDA about a person or enterprise is recorded as a `RegisterConsultation`
in the caller's transaction: who asked, for which organisation, about whom (a keyed digest and
a sealed copy of the number, never the number in clear), which service, for what purpose and
under which legal basis, when, with what outcome and correlation id. A look-up without a
configured legal basis (ZEGEL_MAGDA_LEGAL_BASIS) is refused before anything is asked.

The look-up functions do not raise when MAGDA answers 'unknown' or fails: they return the
problem as a Dutch message, so that the caller commits and the consultation stays logged.
They do raise (nothing asked, nothing logged) for an invalid number or a missing legal basis.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.be import vat
from stdnum.exceptions import ValidationError

from shared.config import get_settings
from shared.db import utcnow
from shared.errors import Forbidden, InvalidInput
from shared.i18n import gettext
from shared.integrations.magda import (
    Address,
    MagdaClient,
    MagdaError,
    MagdaNotFound,
    client_from_settings,
)
from shared.models.audit import RegisterConsultation
from shared.models.documents import DocumentStatus
from shared.models.people import EboxStatus, Recipient, RecipientKind, StaffRole
from shared.protection import mask_ssin, normalise_ssin, seal, ssin_digest, unseal
from shared.services import audit, document_types
from shared.services.access import StaffContext, document_for_staff

T = TypeVar("T")

SERVICE_PERSON = "GeefPersoon"
SERVICE_CONSENT = "citizenEboxConsents"
SERVICE_ENTERPRISE = "enterpriseEboxPreferences"
CONSENT_SOURCE = "MAGDA citizenEboxConsents"
ENTERPRISE_SOURCE = "MAGDA enterpriseEboxPreferences"


# -- the client -------------------------------------------------------------------------------

_clients: dict[tuple[object, ...], MagdaClient] = {}
_clients_lock = threading.Lock()


def magda_client() -> MagdaClient:
    """The MAGDA client of the current settings, one per process (its token and connection
    pool are shared by the threads of a worker)."""
    settings = get_settings()
    key = (
        os.getpid(),
        settings.magda_base_url,
        settings.magda_client_id,
        settings.magda_private_key_path,
        settings.magda_token_url,
        settings.magda_timeout_seconds,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = client_from_settings(settings)
        return client


# -- who asks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """Who consults the register, for which organisation."""

    organisation_id: uuid.UUID
    staff_user_id: uuid.UUID | None
    label: str


def legal_basis(
    session: Session, organisation_id: uuid.UUID, document_type: str | None = None
) -> str:
    """The legal basis for a look-up: the organisation's for the document type it is about
    (`document_types.legal_basis`), else the installation's; Forbidden (nothing asked) when
    there is none."""
    basis = document_types.legal_basis(session, organisation_id, document_type)
    if not basis:
        raise Forbidden(
            gettext(
                "Opzoeken in het rijksregister is niet toegestaan: er is geen rechtsgrond"
                " ingesteld. Er werd niets opgevraagd."
            ),
            code="no_legal_basis",
        )
    return basis


def _purpose(purpose: str) -> str:
    purpose = purpose.strip()
    if not purpose:
        raise InvalidInput(gettext("Geef op waarvoor u deze gegevens opvraagt."))
    return purpose


def normalise_enterprise_number(value: str) -> str:
    """The 10 digits of a valid KBO number; InvalidInput otherwise."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 9:
        digits = "0" + digits
    if len(digits) != 10:
        raise InvalidInput(gettext("Een ondernemingsnummer heeft 10 cijfers."))
    try:
        return str(vat.compact(vat.validate(digits)))
    except ValidationError:
        raise InvalidInput(
            gettext("Dit ondernemingsnummer klopt niet: het controlegetal is fout.")
        ) from None


def consult(
    session: Session,
    requester: Requester,
    *,
    subject: str,
    service: str,
    purpose: str,
    basis: str,
    call: Callable[[str], T],
) -> T:
    """Run `call(correlation_id)` and log the consultation, whatever its outcome."""
    correlation_id = str(uuid.uuid4())
    outcome = "error"
    try:
        result = call(correlation_id)
        outcome = "found"
        return result
    except MagdaNotFound:
        outcome = "not_found"
        raise
    finally:
        session.add(
            RegisterConsultation(
                id=uuid.uuid4(),
                organisation_id=requester.organisation_id,
                staff_user_id=requester.staff_user_id,
                actor_label=requester.label,
                subject_digest=ssin_digest(subject),
                subject_sealed=seal(subject),
                service=service,
                purpose=purpose,
                legal_basis=basis,
                occurred_at=utcnow(),
                outcome=outcome,
                correlation_id=correlation_id,
            )
        )


# -- look-ups ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """The outcome of a look-up: the recipient (created or brought up to date) and what is
    worth telling staff. `problem` set means nothing usable was found."""

    recipient: Recipient | None
    name: str = ""
    masked_number: str = ""
    ebox: EboxStatus = EboxStatus.UNKNOWN
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None


def _apply_address(recipient: Recipient, address: Address | None) -> None:
    recipient.street = address.street_line if address else None
    recipient.postal_code = address.postal_code if address else None
    recipient.city = address.municipality if address else None
    recipient.country = address.country_code if address else "BE"


def look_up_citizen(
    session: Session,
    requester: Requester,
    number: str,
    *,
    purpose: str,
    client: MagdaClient | None = None,
    document_type: str | None = None,
) -> Lookup:
    """Name, official address and eBox consent of a citizen; the recipient is created or
    brought up to date. Two consultations are logged (person, eBox consent)."""
    ssin = normalise_ssin(number)
    basis = legal_basis(session, requester.organisation_id, document_type)
    purpose = _purpose(purpose)
    client = client or magda_client()
    masked = mask_ssin(ssin)
    try:
        person = consult(
            session,
            requester,
            subject=ssin,
            service=SERVICE_PERSON,
            purpose=purpose,
            basis=basis,
            call=lambda cid: client.person(ssin, correlation_id=cid),
        )
    except MagdaNotFound:
        return Lookup(
            None,
            masked_number=masked,
            problem=gettext("Het rijksregister kent niemand met dit rijksregisternummer."),
        )
    except MagdaError as error:
        return Lookup(None, masked_number=masked, problem=_unavailable(error))
    try:
        consent = consult(
            session,
            requester,
            subject=ssin,
            service=SERVICE_CONSENT,
            purpose=purpose,
            basis=basis,
            call=lambda cid: client.citizen_consent(ssin, correlation_id=cid),
        )
        ebox = EboxStatus.ACTIVATED if consent.ebox_activated else EboxStatus.NOT_ACTIVATED
    except MagdaError:
        ebox = EboxStatus.UNKNOWN
    digest = ssin_digest(ssin)
    recipient = session.scalars(
        select(Recipient).where(
            Recipient.organisation_id == requester.organisation_id,
            Recipient.ssin_digest == digest,
        )
    ).one_or_none()
    if recipient is None:
        recipient = Recipient(
            id=uuid.uuid4(),
            organisation_id=requester.organisation_id,
            kind=RecipientKind.CITIZEN,
            ssin_digest=digest,
            ssin_sealed=seal(ssin),
            name=person.name,
        )
        session.add(recipient)
    recipient.name = person.name
    _apply_address(recipient, person.address)
    if ebox is not EboxStatus.UNKNOWN:
        recipient.ebox_status = ebox
        recipient.ebox_checked_at = utcnow()
        recipient.ebox_source = CONSENT_SOURCE
    session.flush()
    warnings = []
    if person.address is None:
        warnings.append(
            gettext(
                "Deze persoon heeft geen officieel adres in het rijksregister: een brief op"
                " papier kan niet worden verstuurd."
            )
        )
    if ebox is EboxStatus.UNKNOWN:
        warnings.append(
            gettext("De eBox-status kon niet worden opgevraagd; Zegel probeert het later opnieuw.")
        )
    return Lookup(recipient, person.name, masked, recipient.ebox_status, warnings)


def look_up_enterprise(
    session: Session,
    requester: Requester,
    number: str,
    *,
    purpose: str,
    client: MagdaClient | None = None,
    document_type: str | None = None,
) -> Lookup:
    """eBox preferences, name and address of an enterprise by KBO number (logged)."""
    kbo = normalise_enterprise_number(number)
    basis = legal_basis(session, requester.organisation_id, document_type)
    purpose = _purpose(purpose)
    client = client or magda_client()
    try:
        found = consult(
            session,
            requester,
            subject=kbo,
            service=SERVICE_ENTERPRISE,
            purpose=purpose,
            basis=basis,
            call=lambda cid: client.enterprise_preferences(kbo, correlation_id=cid),
        )
    except MagdaNotFound:
        return Lookup(
            None,
            masked_number=kbo,
            problem=gettext("De KBO kent geen onderneming met dit ondernemingsnummer."),
        )
    except MagdaError as error:
        return Lookup(None, masked_number=kbo, problem=_unavailable(error))
    recipient = session.scalars(
        select(Recipient).where(
            Recipient.organisation_id == requester.organisation_id,
            Recipient.enterprise_number == kbo,
        )
    ).one_or_none()
    if recipient is None:
        recipient = Recipient(
            id=uuid.uuid4(),
            organisation_id=requester.organisation_id,
            kind=RecipientKind.ENTERPRISE,
            enterprise_number=kbo,
            name=found.name,
        )
        session.add(recipient)
    recipient.name = found.name
    _apply_address(recipient, found.address)
    recipient.ebox_status = (
        EboxStatus.ACTIVATED if found.ebox_activated else EboxStatus.NOT_ACTIVATED
    )
    recipient.ebox_checked_at = utcnow()
    recipient.ebox_source = ENTERPRISE_SOURCE
    session.flush()
    return Lookup(recipient, found.name, kbo, recipient.ebox_status)


def refresh_ebox_consent(
    session: Session,
    recipient: Recipient,
    requester: Requester,
    *,
    purpose: str,
    client: MagdaClient | None = None,
    document_type: str | None = None,
) -> EboxStatus:
    """Ask MAGDA again whether this citizen activated the eBox (logged); keep the answer.
    MagdaError propagates (the caller decides whether to retry)."""
    if recipient.kind is not RecipientKind.CITIZEN or not recipient.ssin_sealed:
        return recipient.ebox_status
    basis = legal_basis(session, requester.organisation_id, document_type)
    ssin = unseal(recipient.ssin_sealed)
    client = client or magda_client()
    consent = consult(
        session,
        requester,
        subject=ssin,
        service=SERVICE_CONSENT,
        purpose=purpose,
        basis=basis,
        call=lambda cid: client.citizen_consent(ssin, correlation_id=cid),
    )
    recipient.ebox_status = (
        EboxStatus.ACTIVATED if consent.ebox_activated else EboxStatus.NOT_ACTIVATED
    )
    recipient.ebox_checked_at = utcnow()
    recipient.ebox_source = CONSENT_SOURCE
    return recipient.ebox_status


def _unavailable(error: MagdaError) -> str:
    return gettext("MAGDA gaf geen bruikbaar antwoord: %(reason)s") % {"reason": error.reason}


# -- the log, for the data protection officer -------------------------------------------------


def consultations(
    session: Session,
    organisation_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    service: str | None = None,
    staff_user_id: uuid.UUID | None = None,
    about: str | None = None,
    limit: int = 1000,
) -> list[RegisterConsultation]:
    """The organisation's consultations, newest first, filtered. `about` is a national
    register number (found through its digest, never compared in clear)."""
    query = select(RegisterConsultation).where(
        RegisterConsultation.organisation_id == organisation_id
    )
    if since is not None:
        query = query.where(RegisterConsultation.occurred_at >= since)
    if until is not None:
        query = query.where(RegisterConsultation.occurred_at < until)
    if service:
        query = query.where(RegisterConsultation.service == service)
    if staff_user_id is not None:
        query = query.where(RegisterConsultation.staff_user_id == staff_user_id)
    if about:
        query = query.where(
            RegisterConsultation.subject_digest == ssin_digest(normalise_ssin(about))
        )
    query = query.order_by(RegisterConsultation.occurred_at.desc()).limit(limit)
    return list(session.scalars(query))


def export_consultations_csv(rows: list[RegisterConsultation]) -> Iterator[str]:
    """CSV lines for the DPO; the subject appears masked (birth date only)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    header = ["tijdstip", "door", "dienst", "over", "doel", "rechtsgrond", "resultaat"]
    writer.writerow(header)
    for row in rows:
        subject = unseal(row.subject_sealed)
        writer.writerow(
            [
                row.occurred_at.isoformat(),
                row.actor_label,
                row.service,
                mask_ssin(subject) if len(subject) == 11 else subject,
                row.purpose,
                row.legal_basis,
                row.outcome,
            ]
        )
    buffer.seek(0)
    yield from buffer


# -- a letter came back ------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressCheck:
    """The outcome of checking a returned letter's address against the national register."""

    changed: bool
    problem: str | None
    warnings: list[str]


def check_returned_address(
    session: Session, context: StaffContext, document_id: uuid.UUID
) -> AddressCheck:
    """For a letter that came back: ask the national register for the citizen's official
    address again (a logged consultation) and bring the recipient up to date, so the letter
    can be sent again. Only for returned documents of this organisation, to a citizen."""
    context.require(StaffRole.DOSSIERBEHANDELAAR, StaffRole.SECRETARIAAT)
    document = document_for_staff(session, context, document_id)
    if document.status is not DocumentStatus.RETURNED:
        raise InvalidInput(
            gettext(
                "Alleen voor een brief die teruggekeerd is, wordt het adres opnieuw opgevraagd."
            )
        )
    recipient = session.get(Recipient, document.recipient_id)
    assert recipient is not None
    if recipient.kind is not RecipientKind.CITIZEN or not recipient.ssin_sealed:
        raise InvalidInput(
            gettext(
                "Het adres van deze bestemmeling staat niet in het rijksregister; vraag het na"
                " bij de dienst die de brief opmaakte."
            )
        )
    before = (recipient.street, recipient.postal_code, recipient.city)
    found = look_up_citizen(
        session,
        Requester(context.organisation_id, context.user_id, context.name),
        unseal(recipient.ssin_sealed),
        purpose=f"Adres controleren na een teruggekeerde brief (‘{document.title}’)",
        document_type=document.document_type,
    )
    if found.problem is not None:
        return AddressCheck(False, found.problem, found.warnings)
    changed = (recipient.street, recipient.postal_code, recipient.city) != before
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="recipient.address_checked",
        object_type="document",
        object_id=document.id,
        data={"recipient_id": str(recipient.id), "changed": changed},
    )
    return AddressCheck(changed, None, found.warnings)
