"""Disputes (bezwaar, betwisting) against a document, whatever channel they came in by."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column, utcnow
from shared.models.documents import Document
from shared.models.states import StateMachine, machine


class DisputeChannel(StrEnum):
    PORTAL = "portal"
    DESK = "desk"
    POST = "post"


class DisputeStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    HEARING_PLANNED = "hearing_planned"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


DISPUTE_STATES = machine(
    "dispute",
    "Het bezwaar",
    {
        DisputeStatus.RECEIVED: (DisputeStatus.IN_PROGRESS, DisputeStatus.WITHDRAWN),
        DisputeStatus.IN_PROGRESS: (
            DisputeStatus.HEARING_PLANNED,
            DisputeStatus.DECIDED,
            DisputeStatus.WITHDRAWN,
        ),
        DisputeStatus.HEARING_PLANNED: (
            DisputeStatus.IN_PROGRESS,
            DisputeStatus.DECIDED,
            DisputeStatus.WITHDRAWN,
        ),
        DisputeStatus.DECIDED: (DisputeStatus.CLOSED,),
    },
    {
        DisputeStatus.RECEIVED: "ontvangen",
        DisputeStatus.IN_PROGRESS: "in behandeling",
        DisputeStatus.HEARING_PLANNED: "hoorzitting gepland",
        DisputeStatus.DECIDED: "beslist",
        DisputeStatus.WITHDRAWN: "ingetrokken",
        DisputeStatus.CLOSED: "afgehandeld",
    },
)


class DisputeOutcome(StrEnum):
    FOUNDED = "gegrond"
    PARTLY_FOUNDED = "deels_gegrond"
    UNFOUNDED = "ongegrond"
    INADMISSIBLE = "onontvankelijk"


class Dispute(IdMixin, TimestampMixin, Base):
    __tablename__ = "dispute"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number"),
        UniqueConstraint("document_id", "submission_key"),
    )
    states: ClassVar[StateMachine[DisputeStatus]] = DISPUTE_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id"), index=True)
    number: Mapped[str] = mapped_column(String(30))
    channel: Mapped[DisputeChannel] = mapped_column(enum_column(DisputeChannel, "dispute_channel"))
    received_at: Mapped[datetime]
    postmark_date: Mapped[date | None]
    late: Mapped[bool] = mapped_column(default=False)
    grounds: Mapped[str] = mapped_column(Text)
    hearing_requested: Mapped[bool] = mapped_column(default=False)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[DisputeStatus] = mapped_column(
        enum_column(DisputeStatus, "dispute_status"), default=DisputeStatus.RECEIVED, index=True
    )
    outcome: Mapped[DisputeOutcome | None] = mapped_column(
        enum_column(DisputeOutcome, "dispute_outcome")
    )
    competent_service: Mapped[str] = mapped_column(String(50))
    assigned_to_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    answer_due_date: Mapped[date | None]
    answer_document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("document.id"))
    # -- handling in the back office (shared.services.dispute_office) --
    hearing_at: Mapped[datetime | None]
    """When the hearing (hoorzitting) is planned; set with the status hearing_planned."""
    reduced_amount_cents: Mapped[int | None]
    """For 'deels gegrond': the amount still due after the decision."""
    decision_motivation: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    """When the answer was sent (the dispute closed)."""
    deadline_date: Mapped[date | None]
    """The last day to dispute the document, as computed when the dispute came in (None: the
    term had not started, e.g. a registered letter not yet delivered)."""
    submission_key: Mapped[str | None] = mapped_column(String(64))
    """Generated when the form was first shown, sent with every submission of it: a second
    submission (double click, back button, another tab) finds the first dispute."""
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    """The front-office employee who registered a paper dispute; None for the portal."""

    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    attachments: Mapped[list[DisputeAttachment]] = relationship(
        back_populates="dispute", order_by="DisputeAttachment.created_at"
    )


class DisputeAttachment(IdMixin, TimestampMixin, Base):
    __tablename__ = "dispute_attachment"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispute.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]

    dispute: Mapped[Dispute] = relationship(back_populates="attachments")


class DisputeCounter(Base):
    """The last dispute number handed out per organisation and year (B-2026-00001)."""

    __tablename__ = "dispute_counter"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)


class DisputeRuleSet(TimestampMixin, Base):
    """An organisation's changes to the dispute rules, per dispute right, e.g.
    `{"municipal_tax_objection": {"months": 2}}` (see shared.services.dispute_deadlines);
    no row: the settings as they are."""

    __tablename__ = "dispute_rule_set"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id"), primary_key=True
    )
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DisputeNote(IdMixin, Base):
    """An internal note of a case handler on a dispute; never shown to the citizen."""

    __tablename__ = "dispute_note"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispute.id"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
