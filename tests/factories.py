"""Small builders for test data, going through the services where one exists."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.models import (
    Document,
    DocumentStatus,
    Organisation,
    OrganisationKind,
    Recipient,
    RecipientKind,
    SignerFunction,
    StaffRole,
    StaffUser,
    WebSession,
)
from shared.protection import seal, ssin_digest
from shared.services import audit
from shared.services.access import StaffContext
from shared.services.organisations import add_staff_member, create_organisation
from shared.services.transitions import transition

SYSTEM = audit.Actor.system("test")


def organisation(session: Session, name: str = "Gemeente Testdorp") -> Organisation:
    return create_organisation(
        session,
        name=name,
        kind=OrganisationKind.GEMEENTE,
        slug=f"org-{uuid.uuid4().hex[:8]}",
        actor=SYSTEM,
        iban="BE71096123456769",  # asking for money needs an account
        bic="GKCCBEBB",
    )


def citizen(
    session: Session, org: Organisation, ssin: str = "85073003328", name: str = "Jan Peeters"
) -> Recipient:
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(ssin),
        ssin_sealed=seal(ssin),
        name=name,
        street="Kerkstraat 1",
        postal_code="9999",
        city="Testdorp",
    )
    session.add(recipient)
    session.flush()
    return recipient


def document(
    session: Session,
    org: Organisation,
    recipient: Recipient,
    title: str = "Besluit over uw aanvraag",
    *,
    created_by: StaffUser | None = None,
) -> Document:
    doc = Document(
        id=uuid.uuid4(),
        organisation_id=org.id,
        recipient_id=recipient.id,
        document_type="college_decision",
        title=title,
        file_name="besluit.pdf",
        original_sha256="0" * 64,
        current_sha256="0" * 64,
        public_token=secrets.token_urlsafe(32),
        created_by_id=created_by.id if created_by is not None else None,
    )
    session.add(doc)
    session.flush()
    return doc


def staff_member(
    session: Session,
    org: Organisation,
    roles: list[StaffRole],
    *,
    subject: str | None = None,
    signer_function: SignerFunction | None = None,
    issuer: str = "https://idp.test",
    name: str | None = None,
    email: str | None = None,
) -> StaffUser:
    return add_staff_member(
        session,
        org,
        issuer=issuer,
        subject=subject or f"staff-{uuid.uuid4().hex[:8]}",
        name=name or "Medewerker " + "/".join(r.value for r in roles),
        email=email,
        roles=roles,
        actor=SYSTEM,
        signer_function=signer_function,
    )


def staff_context(session: Session, org: Organisation, *roles: StaffRole) -> StaffContext:
    """A new staff member of `org` with `roles`, as the services see them."""
    member = staff_member(session, org, list(roles))
    return StaffContext(
        user_id=member.id,
        name=member.name,
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset(roles),
        organisations=((org.id, org.name),),
    )


def web_session(
    session: Session,
    app: str,
    *,
    staff: StaffUser | None = None,
    organisation: Organisation | None = None,
    ssin: str | None = None,
    level: int = 3,
    last_seen_minutes_ago: int = 0,
    expires_in_minutes: int = 600,
) -> str:
    """A logged-in session as login would open it; returns the cookie value. For tests of what
    a session may do (login itself is tested through the identity providers)."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_digest=hashlib.sha256(token.encode()).hexdigest(),
            app=app,
            issuer="https://idp.test",
            subject=str(staff.id) if staff else "citizen",
            display_name=staff.name if staff else "Burger Test",
            acr=None,
            auth_level=level,
            citizen_ssin_digest=ssin_digest(ssin) if ssin else None,
            staff_user_id=staff.id if staff else None,
            organisation_id=organisation.id if organisation else None,
            created_at=now - timedelta(minutes=last_seen_minutes_ago),
            last_seen_at=now - timedelta(minutes=last_seen_minutes_ago),
            expires_at=now + timedelta(minutes=expires_in_minutes),
        )
    )
    session.flush()
    return token


def send(session: Session, document: Document) -> Document:
    """Move a document along its legal path to 'dispatched' (issue 5 dispatches for real)."""
    for target in (DocumentStatus.SCREENED, DocumentStatus.READY, DocumentStatus.DISPATCHED):
        transition(session, document, target, actor=SYSTEM)
    return document
