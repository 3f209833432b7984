"""The audit trail (append-only, HMAC-chained per organisation) and the national-register log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, IdMixin, utcnow

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

SYSTEM_CHAIN = uuid.UUID(int=0)
"""The chain of events that belong to no organisation (e.g. a new organisation created)."""


class AuditEvent(Base):
    """Who did what to which object, when; `hash` = HMAC(previous hash + this event)."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain_id", "sequence"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    chain_id: Mapped[uuid.UUID] = mapped_column(index=True)
    """The organisation's id, or SYSTEM_CHAIN."""
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    sequence: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))
    """staff, citizen, system, api."""
    actor_id: Mapped[str | None] = mapped_column(String(100))
    actor_label: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100), index=True)
    status_before: Mapped[str | None] = mapped_column(String(50))
    status_after: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The last event of each chain; appending locks this row, so a chain never forks."""

    __tablename__ = "audit_chain_head"

    chain_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RegisterConsultation(IdMixin, Base):
    """One look-up in the national register (or KBO): who, for whom, about whom, why."""

    __tablename__ = "register_consultation"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_label: Mapped[str] = mapped_column(String(200))
    subject_digest: Mapped[str] = mapped_column(String(64), index=True)
    subject_sealed: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(100))
    """What was asked, e.g. 'GeefPersoon', 'citizenEboxConsents'."""
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(String(50))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
