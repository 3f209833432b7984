"""Beheer: a beheerder lists staff, gives them roles in organisations, and (de)activates them.

A beheerder manages only organisations where they are beheerder themselves. Every change is
audited with the roles before and after.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Forbidden, InvalidInput, NotFound
from shared.i18n import gettext as _
from shared.models.people import (
    Organisation,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.services import audit
from shared.services.access import StaffContext


@dataclass(frozen=True)
class StaffRow:
    user: StaffUser
    roles: list[StaffRoleAssignment]


@dataclass(frozen=True)
class Membership:
    organisation: Organisation
    roles: frozenset[StaffRole]
    signer_function: SignerFunction | None
    substitute: bool
    absent: bool = False


def _managed_organisations(session: Session, context: StaffContext) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .join(StaffRoleAssignment, StaffRoleAssignment.organisation_id == Organisation.id)
            .where(
                StaffRoleAssignment.staff_user_id == context.user_id,
                StaffRoleAssignment.role == StaffRole.BEHEERDER,
            )
            .order_by(Organisation.name)
        ).all()
    )


def list_staff(session: Session, context: StaffContext) -> list[StaffRow]:
    """Staff with a role in the current organisation, by name."""
    context.require(StaffRole.BEHEERDER)
    assignments = session.scalars(
        select(StaffRoleAssignment)
        .where(StaffRoleAssignment.organisation_id == context.organisation_id)
        .order_by(StaffRoleAssignment.role)
    ).all()
    by_user: dict[uuid.UUID, list[StaffRoleAssignment]] = {}
    for assignment in assignments:
        by_user.setdefault(assignment.staff_user_id, []).append(assignment)
    users = session.scalars(
        select(StaffUser).where(StaffUser.id.in_(by_user)).order_by(StaffUser.name)
    ).all()
    return [StaffRow(user, by_user[user.id]) for user in users]


def _user_in_scope(session: Session, context: StaffContext, user_id: uuid.UUID) -> StaffUser:
    managed = {o.id for o in _managed_organisations(session, context)}
    user = session.get(StaffUser, user_id)
    in_scope = user is not None and session.scalar(
        select(StaffRoleAssignment.id)
        .where(
            StaffRoleAssignment.staff_user_id == user_id,
            StaffRoleAssignment.organisation_id.in_(managed),
        )
        .limit(1)
    )
    if user is None or not in_scope:
        raise NotFound(_("Deze medewerker bestaat niet of hoort niet bij uw bestuur."))
    return user


def memberships(
    session: Session, context: StaffContext, user_id: uuid.UUID
) -> tuple[StaffUser, list[Membership]]:
    """The member and their roles in every organisation this beheerder manages."""
    context.require(StaffRole.BEHEERDER)
    user = _user_in_scope(session, context, user_id)
    rows: list[Membership] = []
    for organisation in _managed_organisations(session, context):
        assignments = session.scalars(
            select(StaffRoleAssignment).where(
                StaffRoleAssignment.staff_user_id == user.id,
                StaffRoleAssignment.organisation_id == organisation.id,
            )
        ).all()
        signer = next((a for a in assignments if a.role is StaffRole.ONDERTEKENAAR), None)
        rows.append(
            Membership(
                organisation=organisation,
                roles=frozenset(a.role for a in assignments),
                signer_function=signer.signer_function if signer else None,
                substitute=signer.substitute if signer else False,
                absent=signer.absent if signer else False,
            )
        )
    return user, rows


def set_roles(
    session: Session,
    context: StaffContext,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    roles: set[StaffRole],
    *,
    signer_function: SignerFunction | None = None,
    substitute: bool = False,
) -> None:
    """Give `user_id` exactly `roles` in `organisation_id` (none: remove them from it)."""
    managed = {o.id: o for o in _managed_organisations(session, context)}
    if organisation_id not in managed:
        raise Forbidden(_("U bent geen beheerder van dit bestuur."))
    user = _user_in_scope(session, context, user_id)
    _apply_roles(
        session,
        context,
        user,
        organisation_id,
        roles,
        signer_function=signer_function,
        substitute=substitute,
    )


def _apply_roles(
    session: Session,
    context: StaffContext,
    user: StaffUser,
    organisation_id: uuid.UUID,
    roles: set[StaffRole],
    *,
    signer_function: SignerFunction | None,
    substitute: bool,
) -> None:
    if StaffRole.ONDERTEKENAAR in roles and signer_function is None:
        raise InvalidInput(_("Kies in welke hoedanigheid deze ondertekenaar tekent."))
    if (
        user.id == context.user_id
        and organisation_id == context.organisation_id
        and StaffRole.BEHEERDER not in roles
    ):
        raise InvalidInput(
            _(
                "U kunt uw eigen rol van beheerder niet intrekken; vraag dat aan een andere"
                " beheerder."
            )
        )
    current = {
        a.role: a
        for a in session.scalars(
            select(StaffRoleAssignment).where(
                StaffRoleAssignment.staff_user_id == user.id,
                StaffRoleAssignment.organisation_id == organisation_id,
            )
        )
    }
    before = sorted(r.value for r in current)
    for role, assignment in current.items():
        if role not in roles:
            session.delete(assignment)
    for role in roles:
        existing = current.get(role)
        if existing is None:
            assignment = StaffRoleAssignment(
                organisation_id=organisation_id, staff_user_id=user.id, role=role
            )
            session.add(assignment)
        else:
            assignment = existing
        if role is StaffRole.ONDERTEKENAAR:
            assignment.signer_function = signer_function
            assignment.substitute = substitute
    session.flush()
    after = sorted(r.value for r in roles)
    audit.record(
        session,
        actor=context.actor,
        organisation_id=organisation_id,
        action="staff.roles_changed",
        object_type="staff_user",
        object_id=user.id,
        data={
            "before": before,
            "after": after,
            "signer_function": signer_function.value if signer_function else None,
            "substitute": substitute,
        },
    )


def set_absent(
    session: Session,
    context: StaffContext,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    *,
    absent: bool,
) -> None:
    """Mark a titular signer absent (their substitutes get the signing e-mails) or back."""
    managed = {o.id for o in _managed_organisations(session, context)}
    if organisation_id not in managed:
        raise Forbidden(_("U bent geen beheerder van dit bestuur."))
    user = _user_in_scope(session, context, user_id)
    signer = session.scalars(
        select(StaffRoleAssignment).where(
            StaffRoleAssignment.staff_user_id == user.id,
            StaffRoleAssignment.organisation_id == organisation_id,
            StaffRoleAssignment.role == StaffRole.ONDERTEKENAAR,
            StaffRoleAssignment.signer_function.is_not(None),
            StaffRoleAssignment.substitute.is_(False),
        )
    ).one_or_none()
    if signer is None:
        raise InvalidInput(
            _(
                "Alleen een titularis die ondertekent, kan afwezig gemeld worden; een vervanger"
                " wordt niet vervangen."
            )
        )
    if signer.absent == absent:
        return
    signer.absent = absent
    session.flush()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=organisation_id,
        action="staff.absent" if absent else "staff.present",
        object_type="staff_user",
        object_id=user.id,
        status_before="afwezig" if not absent else "aanwezig",
        status_after="afwezig" if absent else "aanwezig",
        data={"signer_function": signer.signer_function.value if signer.signer_function else None},
    )


def set_active(
    session: Session, context: StaffContext, user_id: uuid.UUID, *, active: bool
) -> None:
    """Switch an account off (its sessions end at their next request) or on again."""
    context.require(StaffRole.BEHEERDER)
    user = _user_in_scope(session, context, user_id)
    if user.id == context.user_id and not active:
        raise InvalidInput(_("U kunt uw eigen account niet uitschakelen."))
    if user.active == active:
        return
    user.active = active
    session.flush()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="staff.activated" if active else "staff.deactivated",
        object_type="staff_user",
        object_id=user.id,
        status_before="actief" if not active else "uitgeschakeld",
        status_after="actief" if active else "uitgeschakeld",
    )


def add_staff_member(
    session: Session,
    context: StaffContext,
    *,
    issuer: str,
    subject: str,
    name: str,
    email: str | None,
    roles: set[StaffRole],
    signer_function: SignerFunction | None = None,
) -> StaffUser:
    """Register a member before their first login (by the subject their provider gives them)."""
    context.require(StaffRole.BEHEERDER)
    if not subject.strip() or not name.strip():
        raise InvalidInput(_("Vul de naam en de gebruikersnaam bij de aanmeldingsdienst in."))
    if not roles:
        raise InvalidInput(_("Kies minstens één rol."))
    user = session.scalars(
        select(StaffUser).where(StaffUser.issuer == issuer, StaffUser.subject == subject.strip())
    ).one_or_none()
    if user is None:
        user = StaffUser(
            issuer=issuer, subject=subject.strip(), name=name.strip(), email=email or None
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor=context.actor,
            organisation_id=context.organisation_id,
            action="staff.created",
            object_type="staff_user",
            object_id=user.id,
            data={"name": user.name},
        )
    elif session.scalar(
        select(StaffRoleAssignment.id)
        .where(
            StaffRoleAssignment.staff_user_id == user.id,
            StaffRoleAssignment.organisation_id == context.organisation_id,
        )
        .limit(1)
    ):
        raise InvalidInput(_("Deze medewerker heeft al een rol in dit bestuur."))
    # A member known in another organisation is linked here too.
    _apply_roles(
        session,
        context,
        user,
        context.organisation_id,
        roles,
        signer_function=signer_function,
        substitute=False,
    )
    return user
