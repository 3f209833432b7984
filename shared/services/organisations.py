"""Organisations and their staff."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models.people import (
    Organisation,
    OrganisationKind,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.services import audit


def create_organisation(
    session: Session,
    *,
    name: str,
    kind: OrganisationKind,
    slug: str,
    actor: audit.Actor,
    parent_id: uuid.UUID | None = None,
    **details: str | None,
) -> Organisation:
    organisation = Organisation(
        id=uuid.uuid4(), name=name, kind=kind, slug=slug, parent_id=parent_id, **details
    )
    session.add(organisation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation.id,
        action="organisation.created",
        object_type="organisation",
        object_id=organisation.id,
        data={"name": name, "kind": kind.value, "slug": slug},
    )
    return organisation


def add_staff_member(
    session: Session,
    organisation: Organisation,
    *,
    issuer: str,
    subject: str,
    name: str,
    email: str | None,
    roles: list[StaffRole],
    actor: audit.Actor,
    signer_function: SignerFunction | None = None,
    substitute: bool = False,
) -> StaffUser:
    """Link a staff member (created when new) to `organisation` with `roles`; audited."""
    user = session.scalars(
        select(StaffUser).where(StaffUser.issuer == issuer, StaffUser.subject == subject)
    ).one_or_none()
    if user is None:
        user = StaffUser(id=uuid.uuid4(), issuer=issuer, subject=subject, name=name, email=email)
        session.add(user)
        session.flush()
    for role in roles:
        session.add(
            StaffRoleAssignment(
                organisation_id=organisation.id,
                staff_user_id=user.id,
                role=role,
                signer_function=signer_function if role is StaffRole.ONDERTEKENAAR else None,
                substitute=substitute if role is StaffRole.ONDERTEKENAAR else False,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        organisation_id=organisation.id,
        action="staff.roles_assigned",
        object_type="staff_user",
        object_id=user.id,
        data={"roles": [r.value for r in roles], "name": name},
    )
    return user
