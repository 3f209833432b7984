"""API keys with which minutes software registers decisions, one organisation per key.

A key is `zgl_<prefix>_<secret>`: 12 hex characters of prefix (stored, to find the key) and
64 hex characters (256 bits) of secret. Only the SHA-256 of the whole key is stored: with 256
random bits a fast hash is as safe as a slow one, and a database copy holds no usable key. The
key is shown once, when a beheerder creates it; revoking it is immediate. Both are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shared.db import utcnow
from shared.errors import FieldErrors, InvalidInput, NotFound, Unauthenticated
from shared.i18n import gettext
from shared.models.intake import ApiKey
from shared.models.people import StaffRole
from shared.services import audit
from shared.services.access import StaffContext

_ = gettext

KEY_PATTERN = re.compile(r"zgl_([0-9a-f]{12})_([0-9a-f]{64})")


@dataclass(frozen=True)
class ApiClient:
    """Who calls the API: the key's organisation, and the key as the actor of what it does."""

    key_id: uuid.UUID
    organisation_id: uuid.UUID
    name: str

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(type="api", id=str(self.key_id), label=f"API: {self.name}")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def list_keys(session: Session, context: StaffContext) -> list[ApiKey]:
    context.require(StaffRole.BEHEERDER)
    return list(
        session.scalars(
            select(ApiKey)
            .options(joinedload(ApiKey.created_by))
            .where(ApiKey.organisation_id == context.organisation_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())
        ).all()
    )


def create_key(session: Session, context: StaffContext, name: str) -> tuple[ApiKey, str]:
    """A new key for the current organisation; returns the row and the key (shown once)."""
    context.require(StaffRole.BEHEERDER)
    name = name.strip()
    if not name:
        raise FieldErrors({"naam": _("Geef aan voor welke toepassing de sleutel dient.")})
    if len(name) > 100:
        raise FieldErrors(
            {"naam": _("Dit veld is te lang: ten hoogste %(limit)d tekens.") % {"limit": 100}}
        )
    prefix = secrets.token_hex(6)
    key = f"zgl_{prefix}_{secrets.token_hex(32)}"
    row = ApiKey(
        id=uuid.uuid4(),
        organisation_id=context.organisation_id,
        name=name,
        prefix=prefix,
        key_sha256=_digest(key),
        created_by_id=context.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="api_key.created",
        object_type="api_key",
        object_id=row.id,
        data={"name": name, "prefix": prefix},
    )
    return row, key


def revoke_key(session: Session, context: StaffContext, key_id: uuid.UUID) -> ApiKey:
    context.require(StaffRole.BEHEERDER)
    row = session.scalars(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organisation_id == context.organisation_id)
    ).one_or_none()
    if row is None:
        raise NotFound(_("Deze API-sleutel bestaat niet of hoort bij een ander bestuur."))
    if row.revoked_at is not None:
        raise InvalidInput(_("Deze API-sleutel is al ingetrokken."))
    row.revoked_at = utcnow()
    row.revoked_by_id = context.user_id
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="api_key.revoked",
        object_type="api_key",
        object_id=row.id,
        data={"name": row.name, "prefix": row.prefix},
    )
    return row


def authenticate(session: Session, authorization: str | None) -> ApiClient:
    """The client of an `Authorization: Bearer <key>` header; Unauthenticated otherwise.
    Marks when the key was last used."""
    scheme, _space, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            _("Geef een API-sleutel mee in de kop ‘Authorization: Bearer <sleutel>’.")
        )
    match = KEY_PATTERN.fullmatch(token)
    row = (
        session.scalars(select(ApiKey).where(ApiKey.prefix == match.group(1))).one_or_none()
        if match
        else None
    )
    if row is None or not hmac.compare_digest(row.key_sha256, _digest(token)):
        raise Unauthenticated(_("Deze API-sleutel is ongeldig."))
    if row.revoked_at is not None:
        raise Unauthenticated(_("Deze API-sleutel is ingetrokken."))
    row.last_used_at = utcnow()
    return ApiClient(key_id=row.id, organisation_id=row.organisation_id, name=row.name)
