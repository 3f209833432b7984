"""Decisions of the college or vast bureau, and the outgoing documents they produce."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column
from shared.models.people import Organisation, Recipient
from shared.models.states import StateMachine, machine


class GoverningBody(StrEnum):
    """Bestuursorgaan (OSLO Besluit Publicatie: bestuursorgaan)."""

    COLLEGE = "college"
    VAST_BUREAU = "vast_bureau"
    GEMEENTERAAD = "gemeenteraad"
    RAAD_MAATSCHAPPELIJK_WELZIJN = "raad_maatschappelijk_welzijn"
    BIJZONDER_COMITE = "bijzonder_comite"


GOVERNING_BODY_LABELS: dict[GoverningBody, str] = {
    GoverningBody.COLLEGE: "college van burgemeester en schepenen",
    GoverningBody.VAST_BUREAU: "vast bureau",
    GoverningBody.GEMEENTERAAD: "gemeenteraad",
    GoverningBody.RAAD_MAATSCHAPPELIJK_WELZIJN: "raad voor maatschappelijk welzijn",
    GoverningBody.BIJZONDER_COMITE: "bijzonder comité voor de sociale dienst",
}


class Decision(IdMixin, TimestampMixin, Base):
    """A besluit; field names follow OSLO 'Besluit Publicatie' where it has one."""

    __tablename__ = "decision"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id"),
        UniqueConstraint("organisation_id", "body", "session_date", "decision_number"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    body: Mapped[GoverningBody] = mapped_column(enum_column(GoverningBody, "governing_body"))
    session_date: Mapped[date]
    decision_number: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(500))
    short_title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    motivation: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    """The id the minutes software gave it; makes the intake API idempotent."""
    intake_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 over what was submitted with the external id (fields and PDFs): a replay with
    the same content gets the first answer, the same id with other content is refused."""

    organisation: Mapped[Organisation] = relationship()
    documents: Mapped[list[Document]] = relationship(back_populates="decision")


class DocumentStatus(StrEnum):
    DRAFT = "draft"
    SCREENED = "screened"
    AWAITING_SIGNATURE = "awaiting_signature"
    SIGNED = "signed"
    READY = "ready"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    RETURNED = "returned"
    FAILED = "failed"


DOCUMENT_STATES = machine(
    "document",
    "Het document",
    {
        DocumentStatus.DRAFT: (DocumentStatus.SCREENED,),
        DocumentStatus.SCREENED: (
            DocumentStatus.DRAFT,
            DocumentStatus.AWAITING_SIGNATURE,
            DocumentStatus.READY,
        ),
        DocumentStatus.AWAITING_SIGNATURE: (DocumentStatus.SIGNED, DocumentStatus.DRAFT),
        DocumentStatus.SIGNED: (DocumentStatus.READY,),
        DocumentStatus.READY: (DocumentStatus.DISPATCHED,),
        DocumentStatus.DISPATCHED: (
            DocumentStatus.DELIVERED,
            DocumentStatus.RETURNED,
            DocumentStatus.FAILED,
        ),
        DocumentStatus.DELIVERED: (DocumentStatus.RETURNED,),
        DocumentStatus.RETURNED: (DocumentStatus.DISPATCHED,),
        DocumentStatus.FAILED: (DocumentStatus.DISPATCHED,),
    },
    {
        DocumentStatus.DRAFT: "ontwerp",
        DocumentStatus.SCREENED: "gescreend",
        DocumentStatus.AWAITING_SIGNATURE: "wacht op handtekening",
        DocumentStatus.SIGNED: "ondertekend",
        DocumentStatus.READY: "klaar voor verzending",
        DocumentStatus.DISPATCHED: "verzonden",
        DocumentStatus.DELIVERED: "afgeleverd",
        DocumentStatus.RETURNED: "teruggekeerd",
        DocumentStatus.FAILED: "verzending mislukt",
    },
)


class DisputeRight(StrEnum):
    NONE = "none"
    MUNICIPAL_TAX_OBJECTION = "municipal_tax_objection"
    GAS_APPEAL = "gas_appeal"
    CUSTOM = "custom"


class Document(IdMixin, TimestampMixin, Base):
    """An uitgaand stuk: one PDF for one recipient, with its follow-up."""

    __tablename__ = "document"
    __table_args__ = (
        # The register's search in titles, by trigram on PostgreSQL (pg_trgm).
        Index(
            "ix_document_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )
    states: ClassVar[StateMachine[DocumentStatus]] = DOCUMENT_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    decision_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("decision.id"), index=True)
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("recipient.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(50))
    """E.g. 'college_decision', 'tax_assessment', 'reminder', 'dispute_answer'."""
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[DocumentStatus] = mapped_column(
        enum_column(DocumentStatus, "document_status"), default=DocumentStatus.DRAFT, index=True
    )

    file_name: Mapped[str] = mapped_column(String(255))
    original_sha256: Mapped[str] = mapped_column(String(64))
    """The PDF as uploaded (in storage, addressed by this hash)."""
    current_sha256: Mapped[str] = mapped_column(String(64))
    """The PDF as it stands: the original, or after the last signature."""
    page_count: Mapped[int | None]
    intake_check: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The intake checks of the current PDF: {"sha256", "checked_at", "findings": [{"page",
    "code", "message"}], "previews": {page: sha256 of a PNG in storage}}. While it has
    findings the document stays a draft (screening runs the checks again)."""

    signature_required: Mapped[bool | None]
    """Decided at screening; None until screened."""
    screening_reason: Mapped[str | None] = mapped_column(Text)

    amount_due_cents: Mapped[int | None]
    due_date: Mapped[date | None]
    dispute_right: Mapped[DisputeRight] = mapped_column(
        enum_column(DisputeRight, "dispute_right"), default=DisputeRight.NONE
    )
    dispute_legal_text: Mapped[str | None] = mapped_column(Text)
    dispute_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The dispute rule as it stood when the document was sent (its term, start, answer term,
    service and legal text): its deadline keeps it when the organisation changes its terms
    later. None before sending (the current rule applies)."""

    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    """Random token in the portal link (/d/<token>); carries no personal data."""
    access_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    """Short code printed on paper letters."""
    legal_sending_date: Mapped[date | None]
    sent_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    """When the organisation withdrew the document after sending it: from then on its link,
    its access code and its page no longer open for the citizen."""
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    """The staff member who registered the document: its owner, to whom it returns when a
    signer declines. None when it came in through the API or an import (then the
    organisation's secretariat is told)."""

    organisation: Mapped[Organisation] = relationship()
    decision: Mapped[Decision | None] = relationship(back_populates="documents")
    recipient: Mapped[Recipient] = relationship()
