"""Dispatches of documents, their delivery events, and the register of outgoing mail."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column, utcnow
from shared.models.documents import Document
from shared.models.states import StateMachine, machine


class Channel(StrEnum):
    EBOX = "ebox"
    PAPER = "paper"
    REGISTERED = "registered"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.EBOX: "eBox",
    Channel.PAPER: "gewone post",
    Channel.REGISTERED: "aangetekende zending",
}


class DispatchStatus(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    PRINTED = "printed"
    POSTED = "posted"
    DELIVERED = "delivered"
    READ = "read"
    RETURNED = "returned"
    FAILED = "failed"


DISPATCH_STATES = machine(
    "dispatch",
    "De verzending",
    {
        DispatchStatus.QUEUED: (DispatchStatus.SUBMITTED, DispatchStatus.FAILED),
        DispatchStatus.SUBMITTED: (
            DispatchStatus.PRINTED,
            DispatchStatus.POSTED,
            DispatchStatus.DELIVERED,
            DispatchStatus.FAILED,
        ),
        DispatchStatus.PRINTED: (DispatchStatus.POSTED, DispatchStatus.FAILED),
        DispatchStatus.POSTED: (DispatchStatus.DELIVERED, DispatchStatus.RETURNED),
        DispatchStatus.DELIVERED: (DispatchStatus.READ, DispatchStatus.RETURNED),
    },
    {
        DispatchStatus.QUEUED: "in wachtrij",
        DispatchStatus.SUBMITTED: "aangeboden",
        DispatchStatus.PRINTED: "afgedrukt",
        DispatchStatus.POSTED: "gepost",
        DispatchStatus.DELIVERED: "afgeleverd",
        DispatchStatus.READ: "gelezen",
        DispatchStatus.RETURNED: "teruggekeerd",
        DispatchStatus.FAILED: "mislukt",
    },
)


class Dispatch(IdMixin, TimestampMixin, Base):
    """One sending of one document over one channel; its register number makes the register."""

    __tablename__ = "dispatch"
    __table_args__ = (
        UniqueConstraint("organisation_id", "register_year", "register_sequence"),
        UniqueConstraint("document_id", "attempt"),
        # The register (shared.services.register): a period, and totals and charts over it
        # read from the index alone on PostgreSQL; a search in names by trigram (pg_trgm).
        Index(
            "ix_dispatch_organisation_id_submitted_at",
            "organisation_id",
            "submitted_at",
            postgresql_include=[
                "channel",
                "status",
                "created_at",
                "register_year",
                "register_sequence",
            ],
        ),
        Index(
            "ix_dispatch_recipient_name_trgm",
            "recipient_name",
            postgresql_using="gin",
            postgresql_ops={"recipient_name": "gin_trgm_ops"},
        ),
    )
    states: ClassVar[StateMachine[DispatchStatus]] = DISPATCH_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id"), index=True, active_history=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document.id"), index=True, active_history=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, active_history=True)
    """(As `TimestampMixin`'s; the old value of the columns the register's daily totals count
    by is always loaded before a change: `active_history`, see `register_totals`.)"""
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")
    """1 for a document's first dispatch, 2 for the next (after a failure or a return), ...
    Unique per document: two clicks that race both ask for the same attempt, one loses."""
    recipient_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """The recipient's name when it was queued (the register shows and searches it)."""
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    """The "Verzenden" click that queued it (its progress view counts the run's dispatches)."""
    requested_by_label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"), active_history=True)
    with_acknowledgement: Mapped[bool] = mapped_column(default=False)
    channel_reason: Mapped[str] = mapped_column(Text)
    """Why this channel was chosen (rule or staff override with reason)."""
    channel_overridden: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[DispatchStatus] = mapped_column(
        enum_column(DispatchStatus, "dispatch_status"),
        default=DispatchStatus.QUEUED,
        index=True,
        active_history=True,
    )
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    register_year: Mapped[int | None] = mapped_column(active_history=True)
    register_sequence: Mapped[int | None]
    external_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    """The x-correlation-id of the submission (to find it in MAGDA's logs)."""
    submitted_at: Mapped[datetime | None] = mapped_column(active_history=True)
    delivered_at: Mapped[datetime | None]
    """When it reached the eBox or the letter was delivered (or came back)."""
    attestation_sha256: Mapped[str | None] = mapped_column(String(64))
    """bpost's proof of a registered letter (PDF in storage)."""
    last_polled_at: Mapped[datetime | None]
    copy_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("dispatch.id"), unique=True)
    """A paper copy of this eBox dispatch (unread for too long, see
    `shared.services.ebox_fallback`): the same signed PDF; it changes neither the document's
    status nor its legal sending date. Unique: a dispatch has at most one copy."""

    document: Mapped[Document] = relationship()
    events: Mapped[list[DeliveryEvent]] = relationship(
        back_populates="dispatch", order_by="DeliveryEvent.occurred_at"
    )

    @property
    def is_copy(self) -> bool:
        return self.copy_of_id is not None

    @property
    def register_number(self) -> str | None:
        if self.register_year is None or self.register_sequence is None:
            return None
        return f"{self.register_year}/{self.register_sequence:06d}"


class DeliveryEvent(IdMixin, Base):
    """Something the delivery chain reported about a dispatch (delivered, read, returned, ...)."""

    __tablename__ = "delivery_event"
    __table_args__ = (UniqueConstraint("dispatch_id", "source_event_id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    dispatch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispatch.id"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(50))
    source_event_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    dispatch: Mapped[Dispatch] = relationship(back_populates="events")


class RegisterCounter(Base):
    """The last register number handed out per organisation and year (gapless)."""

    __tablename__ = "register_counter"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)
