"""Login sessions of citizens and staff, and the login attempts that lead to them.

Neither holds a national register number in clear: a citizen session keeps the keyed digest
(the same one `Recipient.ssin_digest` uses) and the ID token sealed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, utcnow
from shared.models.people import Organisation, StaffUser


class LoginAttempt(IdMixin, Base):
    """One trip to the identity provider: its state, nonce and PKCE verifier. Used once."""

    __tablename__ = "login_attempt"

    app: Mapped[str] = mapped_column(String(20))
    state_digest: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    return_to: Mapped[str] = mapped_column(String(500))
    required_level: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class WebSession(IdMixin, Base):
    """A logged-in citizen or staff member. The cookie holds a random token; we keep its digest."""

    __tablename__ = "web_session"

    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    app: Mapped[str] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200))
    acr: Mapped[str | None] = mapped_column(String(100))
    auth_level: Mapped[int]
    citizen_ssin_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisation.id"))
    """The staff member's current organisation (the switcher changes it)."""
    id_token_sealed: Mapped[str | None] = mapped_column(Text)
    """For RP-initiated logout (id_token_hint); sealed because a citizen's carries the rrn."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    staff_user: Mapped[StaffUser | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()


class AccessCodeAttempt(IdMixin, Base):
    """Failed tries with a paper letter's access code, per client, to stop guessing.

    The client is kept as a keyed digest of its address, never the address itself."""

    __tablename__ = "access_code_attempt"

    client_digest: Mapped[str] = mapped_column(String(64), unique=True)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
