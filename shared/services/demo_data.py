"""Demo data: a municipality and its OCMW, staff of every role, citizens and decisions.

Loaded by `zegel demo` into an empty database so every screen has something true to show.
Everything goes through the same services (and so the audit trail) as real work.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.db import utcnow
from shared.integrations.oidc.identities import make_ssin
from shared.models import (
    Decision,
    Document,
    EboxStatus,
    GoverningBody,
    Organisation,
    OrganisationKind,
    Recipient,
    RecipientKind,
    SignerFunction,
    StaffRole,
    StaffUser,
)
from shared.models.documents import DisputeRight
from shared.pdf.devpki import DevPki, DevSigner, ensure_dev_pki
from shared.pdf.letters import Letter, render_letter
from shared.protection import seal, ssin_digest
from shared.services import audit
from shared.services.organisations import add_staff_member, create_organisation
from shared.services.payments import create_for_document
from shared.services.screening import screen_document
from shared.storage import get_storage
from shared.timeutil import today

ACTOR = audit.Actor.system("demogegevens")


@dataclass(frozen=True)
class DemoCitizen:
    name: str
    ssin: str
    street: str
    ebox: EboxStatus


DEMO_CITIZENS = [
    DemoCitizen(
        "An Janssens", make_ssin(date(1985, 7, 30), 34), "Kerkstraat 12", EboxStatus.ACTIVATED
    ),
    DemoCitizen(
        "Pieter De Smet", make_ssin(date(1962, 3, 14), 117), "Molenweg 4", EboxStatus.NOT_ACTIVATED
    ),
    DemoCitizen(
        "Fatima El Amrani",
        make_ssin(date(2001, 1, 9), 250),
        "Stationsplein 3 bus 2",
        EboxStatus.ACTIVATED,
    ),
    DemoCitizen("Luc Maes", make_ssin(date(1978, 11, 2), 61), "Beekstraat 88", EboxStatus.UNKNOWN),
]

DEMO_STAFF = [
    ("secretariaat", "Sofie Claes", [StaffRole.SECRETARIAAT], None, False),
    (
        "directeur",
        "Koen Wouters",
        [StaffRole.ONDERTEKENAAR],
        SignerFunction.ALGEMEEN_DIRECTEUR,
        False,
    ),
    (
        "burgemeester",
        "Els Vermeulen",
        [StaffRole.ONDERTEKENAAR],
        SignerFunction.BURGEMEESTER,
        False,
    ),
    ("schepen", "Bart Jacobs", [StaffRole.ONDERTEKENAAR], SignerFunction.BURGEMEESTER, True),
    ("dossierbehandelaar", "Nathalie Peeters", [StaffRole.DOSSIERBEHANDELAAR], None, False),
    ("onthaal", "Tom Willems", [StaffRole.ONTHAAL], None, False),
    ("financien", "Ingrid Mertens", [StaffRole.FINANCIEN], None, False),
    ("beheerder", "Ahmed Benali", [StaffRole.BEHEERDER, StaffRole.SECRETARIAAT], None, False),
]


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Organisation)))


def _recipient(session: Session, org: Organisation, citizen: DemoCitizen) -> Recipient:
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(citizen.ssin),
        ssin_sealed=seal(citizen.ssin),
        name=citizen.name,
        street=citizen.street,
        postal_code="9999",
        city="Zegelbeek",
        ebox_status=citizen.ebox,
        ebox_checked_at=utcnow() if citizen.ebox is not EboxStatus.UNKNOWN else None,
        ebox_source="demogegevens" if citizen.ebox is not EboxStatus.UNKNOWN else None,
    )
    session.add(recipient)
    return recipient


def _document(
    session: Session,
    org: Organisation,
    recipient: Recipient,
    *,
    owner: StaffUser,
    title: str,
    document_type: str,
    paragraphs: list[str],
    decision: Decision | None = None,
    amount_due_cents: int | None = None,
    dispute_right: DisputeRight = DisputeRight.NONE,
) -> Document:
    pdf = render_letter(
        Letter(
            sender_name=org.name,
            sender_address=[org.street or "", f"{org.postal_code} {org.city}"],
            recipient_name=recipient.name,
            recipient_address=[recipient.street or "", f"{recipient.postal_code} {recipient.city}"],
            place_and_date=f"{org.city}, {today():%d.%m.%Y}",
            subject=title,
            paragraphs=paragraphs,
            reference=decision.decision_number if decision else None,
            signatories=["De algemeen directeur", "De burgemeester"] if decision else [],
        )
    )
    sha256 = get_storage().put(pdf)
    document = Document(
        id=uuid.uuid4(),
        organisation_id=org.id,
        decision_id=decision.id if decision else None,
        recipient_id=recipient.id,
        document_type=document_type,
        title=title,
        file_name=f"{document_type}.pdf",
        original_sha256=sha256,
        current_sha256=sha256,
        page_count=1,
        amount_due_cents=amount_due_cents,
        due_date=today() + timedelta(days=30) if amount_due_cents else None,
        dispute_right=dispute_right,
        public_token=secrets.token_urlsafe(32),
        created_by_id=owner.id,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        actor=ACTOR,
        organisation_id=org.id,
        action="document.registered",
        object_type="document",
        object_id=document.id,
        status_after=document.status.value,
        data={"title": title},
    )
    create_for_document(session, document, actor=ACTOR)
    return document


def _screen(session: Session, document: Document) -> None:
    """Screen by the document type's default rule, as the secretariat would."""
    screen_document(session, document, actor=ACTOR)


DEMO_SIGNER_PASSPHRASE_ENV = "ZEGEL_DEMO_SIGNER_PASSPHRASE"  # noqa: S105 - a variable name
DEMO_SIGNER_PASSPHRASE = "zegel-demo"  # noqa: S105 - the demo signers' known passphrase


def ensure_demo_pki(settings: Settings | None = None) -> DevPki:
    """The development PKI of the demo under ZEGEL_DEV_PKI_PATH (created once): a test root,
    the sandbox TSA's certificate and a PKCS#12 key for each demo signer, protected by
    `DEMO_SIGNER_PASSPHRASE` (read from ZEGEL_DEMO_SIGNER_PASSPHRASE)."""
    settings = settings or get_settings()
    signers = [
        DevSigner(subject, name, f"{subject}@zegelbeek.example")
        for subject, name, _roles, function, _substitute in DEMO_STAFF
        if function is not None
    ]
    return ensure_dev_pki(
        settings.dev_pki_path,
        signers,
        passphrase_env=DEMO_SIGNER_PASSPHRASE_ENV,
        passphrase=DEMO_SIGNER_PASSPHRASE,
        organisation="Gemeente Zegelbeek",
    )


def load_demo_data(session: Session) -> None:
    issuer = get_settings().staff_oidc_issuer
    gemeente = create_organisation(
        session,
        name="Gemeente Zegelbeek",
        kind=OrganisationKind.GEMEENTE,
        slug="zegelbeek",
        actor=ACTOR,
        iban="BE32091000123402",
        bic="GKCCBEBB",
        email="info@zegelbeek.example",
        phone="09 123 45 67",
        street="Marktplein 1",
        postal_code="9999",
        city="Zegelbeek",
    )
    ocmw = create_organisation(
        session,
        name="OCMW Zegelbeek",
        kind=OrganisationKind.OCMW,
        slug="ocmw-zegelbeek",
        actor=ACTOR,
        parent_id=gemeente.id,
        iban="BE71096123456769",
        bic="GKCCBEBB",
        email="ocmw@zegelbeek.example",
        street="Marktplein 1",
        postal_code="9999",
        city="Zegelbeek",
    )
    staff: dict[str, StaffUser] = {}
    for subject, name, roles, function, substitute in DEMO_STAFF:
        for org in (gemeente, ocmw):
            staff[subject] = add_staff_member(
                session,
                org,
                issuer=issuer,
                subject=subject,
                name=name,
                email=f"{subject}@zegelbeek.example",
                roles=roles,
                actor=ACTOR,
                signer_function=function,
                substitute=substitute,
            )

    secretariat = staff["secretariaat"]  # registers the demo documents: their owner
    citizens = {c.name: _recipient(session, gemeente, c) for c in DEMO_CITIZENS}
    fatima_ocmw = _recipient(session, ocmw, DEMO_CITIZENS[2])
    session.flush()

    college = Decision(
        id=uuid.uuid4(),
        organisation_id=gemeente.id,
        body=GoverningBody.COLLEGE,
        session_date=today() - timedelta(days=6),
        decision_number="2026_CBS_01432",
        title="Omgevingsvergunning voor het plaatsen van een carport, Kerkstraat 12",
        short_title="Omgevingsvergunning carport",
        description="Het college verleent de omgevingsvergunning onder voorwaarden.",
        motivation="De aanvraag is verenigbaar met de goede ruimtelijke ordening.",
        legal_basis="Decreet van 25 april 2014 betreffende de omgevingsvergunning",
    )
    tax = Decision(
        id=uuid.uuid4(),
        organisation_id=gemeente.id,
        body=GoverningBody.COLLEGE,
        session_date=today() - timedelta(days=6),
        decision_number="2026_CBS_01433",
        title="Aanslag belasting op tweede verblijven, aanslagjaar 2026",
        short_title="Belasting tweede verblijven 2026",
        legal_basis=(
            "Gemeenteraadsbesluit van 17 december 2024 over de belasting op tweede verblijven"
        ),
    )
    gas = Decision(
        id=uuid.uuid4(),
        organisation_id=gemeente.id,
        body=GoverningBody.COLLEGE,
        session_date=today() - timedelta(days=13),
        decision_number="2026_CBS_01391",
        title="Administratieve geldboete wegens sluikstorten",
        short_title="GAS-boete sluikstorten",
        legal_basis="Wet van 24 juni 2013 betreffende de gemeentelijke administratieve sancties",
    )
    allowance = Decision(
        id=uuid.uuid4(),
        organisation_id=ocmw.id,
        body=GoverningBody.VAST_BUREAU,
        session_date=today() - timedelta(days=2),
        decision_number="2026_VB_00211",
        title="Toekenning van een verwarmingstoelage",
        short_title="Verwarmingstoelage",
    )
    session.add_all([college, tax, gas, allowance])
    session.flush()

    permit = _document(
        session,
        gemeente,
        citizens["An Janssens"],
        owner=secretariat,
        title=college.title,
        document_type="college_decision",
        decision=college,
        paragraphs=[
            "Het college van burgemeester en schepenen heeft in zitting uw aanvraag besproken.",
            "Het college verleent de omgevingsvergunning onder de voorwaarden in bijlage.",
        ],
    )
    _screen(session, permit)

    _document(
        session,
        gemeente,
        citizens["Pieter De Smet"],
        owner=secretariat,
        title=tax.title,
        document_type="tax_assessment",
        decision=tax,
        amount_due_cents=45000,
        dispute_right=DisputeRight.MUNICIPAL_TAX_OBJECTION,
        paragraphs=[
            "U bent eigenaar van een tweede verblijf in Zegelbeek op 1 januari 2026.",
            "Het bedrag van de belasting is 450,00 euro.",
        ],
    )

    fine = _document(
        session,
        gemeente,
        citizens["Luc Maes"],
        owner=secretariat,
        title=gas.title,
        document_type="gas_fine",
        decision=gas,
        amount_due_cents=12500,
        dispute_right=DisputeRight.GAS_APPEAL,
        paragraphs=[
            "De sanctionerend ambtenaar legt u een administratieve geldboete op van 125 euro."
        ],
    )
    _screen(session, fine)

    reminder = _document(
        session,
        gemeente,
        citizens["Fatima El Amrani"],
        owner=secretariat,
        title="Herinnering: retributie ophalen grofvuil",
        document_type="reminder",
        amount_due_cents=3500,
        paragraphs=[
            "Wij ontvingen uw betaling van 35,00 euro voor het ophalen van grofvuil nog niet."
        ],
    )
    _screen(session, reminder)

    _document(
        session,
        ocmw,
        fatima_ocmw,
        owner=secretariat,
        title=allowance.title,
        document_type="vast_bureau_decision",
        decision=allowance,
        paragraphs=["Het vast bureau kent u een verwarmingstoelage toe van 210 euro."],
    )
