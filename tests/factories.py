"""Small builders for test data, going through the services where one exists."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.orm import Session

from shared.models import Document, Organisation, OrganisationKind, Recipient, RecipientKind
from shared.protection import seal, ssin_digest
from shared.services import audit
from shared.services.organisations import create_organisation

SYSTEM = audit.Actor.system("test")


def organisation(session: Session, name: str = "Gemeente Testdorp") -> Organisation:
    return create_organisation(
        session,
        name=name,
        kind=OrganisationKind.GEMEENTE,
        slug=f"org-{uuid.uuid4().hex[:8]}",
        actor=SYSTEM,
    )


def citizen(session: Session, org: Organisation, ssin: str = "85073003328") -> Recipient:
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(ssin),
        ssin_sealed=seal(ssin),
        name="Jan Peeters",
        street="Kerkstraat 1",
        postal_code="9999",
        city="Testdorp",
    )
    session.add(recipient)
    session.flush()
    return recipient


def document(session: Session, org: Organisation, recipient: Recipient) -> Document:
    doc = Document(
        id=uuid.uuid4(),
        organisation_id=org.id,
        recipient_id=recipient.id,
        document_type="college_decision",
        title="Besluit over uw aanvraag",
        file_name="besluit.pdf",
        original_sha256="0" * 64,
        current_sha256="0" * 64,
        public_token=secrets.token_urlsafe(32),
    )
    session.add(doc)
    session.flush()
    return doc
