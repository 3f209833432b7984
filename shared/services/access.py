"""Who may do what: the staff member's context in their current organisation, and the checks
that every query and action goes through. Objects of another organisation, or documents of
another citizen, do not exist for the asker (NotFound), so their ids leak nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, joinedload

from shared.config import get_settings
from shared.db import utcnow
from shared.errors import Forbidden, NotFound
from shared.i18n import N_, gettext
from shared.models.documents import Document, DocumentStatus
from shared.models.people import STAFF_ROLE_LABELS, Organisation, StaffRole, StaffRoleAssignment
from shared.models.sessions import WebSession
from shared.services.audit import Actor
from shared.services.auth import staff_organisations

VISIBLE_TO_CITIZENS = (
    DocumentStatus.DISPATCHED,
    DocumentStatus.DELIVERED,
    DocumentStatus.RETURNED,
)
"""A citizen sees a document once it has been sent to them, never before (and never again once
it is withdrawn)."""


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Documents sent before this moment are past their retention in the portal."""
    now = now or utcnow()
    years = get_settings().portal_retention_years
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February, and the year `years` back is no leap year
        return now.replace(year=now.year - years, day=28)


def open_to_citizens(
    now: datetime | None = None, *, cutoff: ColumnElement[datetime] | None = None
) -> list[ColumnElement[bool]]:
    """The conditions under which a document's link, code and page still open: sent (and not
    withdrawn), and within the retention of the installation (`cutoff`, a bound parameter, in
    statements built once; else from `now`)."""
    limit = cutoff if cutoff is not None else retention_cutoff(now)
    return [
        Document.status.in_(VISIBLE_TO_CITIZENS),
        Document.withdrawn_at.is_(None),
        or_(Document.sent_at.is_(None), Document.sent_at >= limit),
    ]


@dataclass(frozen=True)
class StaffContext:
    user_id: uuid.UUID
    name: str
    organisation_id: uuid.UUID
    organisation_name: str
    roles: frozenset[StaffRole]
    organisations: tuple[tuple[uuid.UUID, str], ...]

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.user_id, self.name)

    def has(self, *roles: StaffRole) -> bool:
        return bool(self.roles.intersection(roles))

    def require(self, *roles: StaffRole) -> None:
        if not self.has(*roles):
            names = " of ".join(STAFF_ROLE_LABELS[r].lower() for r in roles)
            raise Forbidden(
                gettext("Hiervoor hebt u de rol %(roles)s nodig in %(organisation)s.")
                % {"roles": names, "organisation": self.organisation_name}
            )


def staff_context(session: Session, web_session: WebSession) -> StaffContext:
    assert web_session.staff_user_id is not None
    assert web_session.organisation_id is not None
    organisations = staff_organisations(session, web_session.staff_user_id)
    current = next((o for o in organisations if o.id == web_session.organisation_id), None)
    if current is None:  # the member lost access to it since logging in
        if not organisations:
            raise Forbidden(gettext("U hebt geen rol meer in een bestuur in Zegel."))
        current = organisations[0]
        web_session.organisation_id = current.id
    roles = frozenset(
        session.scalars(
            select(StaffRoleAssignment.role).where(
                StaffRoleAssignment.staff_user_id == web_session.staff_user_id,
                StaffRoleAssignment.organisation_id == current.id,
            )
        ).all()
    )
    return StaffContext(
        user_id=web_session.staff_user_id,
        name=web_session.display_name,
        organisation_id=current.id,
        organisation_name=current.name,
        roles=roles,
        organisations=tuple((o.id, o.name) for o in organisations),
    )


def organisation(session: Session, context: StaffContext) -> Organisation:
    found = session.get(Organisation, context.organisation_id)
    assert found is not None
    return found


def document_for_staff(session: Session, context: StaffContext, document_id: uuid.UUID) -> Document:
    document = session.scalars(
        select(Document)
        .options(joinedload(Document.recipient), joinedload(Document.decision))
        .where(Document.id == document_id, Document.organisation_id == context.organisation_id)
    ).one_or_none()
    if document is None:
        raise NotFound("Dit stuk bestaat niet of hoort bij een ander bestuur.")
    return document


NOT_YOURS = N_("Dit document bestaat niet of is niet aan u gericht.")
"""The one answer for a document that does not exist, is another citizen's, was withdrawn or
is past its retention: none of these may be told apart."""


def document_for_citizen(session: Session, ssin_digest: str, public_token: str) -> Document:
    from shared.models.people import Recipient

    document = session.scalars(
        select(Document)
        .join(Recipient, Recipient.id == Document.recipient_id)
        .options(joinedload(Document.organisation))
        .where(
            Document.public_token == public_token,
            Recipient.ssin_digest == ssin_digest,
            *open_to_citizens(),
        )
    ).one_or_none()
    if document is None:
        raise NotFound(NOT_YOURS)
    return document


def documents_for_citizen(session: Session, ssin_digest: str) -> list[Document]:
    from shared.models.people import Recipient

    return list(
        session.scalars(
            select(Document)
            .join(Recipient, Recipient.id == Document.recipient_id)
            .options(joinedload(Document.organisation))
            .where(
                Recipient.ssin_digest == ssin_digest,
                *open_to_citizens(),
            )
            .order_by(Document.created_at.desc())
        ).all()
    )
