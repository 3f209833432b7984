"""Signature requests: each signer's place in a document's signing order."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column
from shared.models.documents import Document
from shared.models.people import SignerFunction, StaffUser
from shared.models.states import StateMachine, machine


class SignatureStatus(StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    """Another signer of the same round declined, so this signature is no longer asked."""


SIGNATURE_STATES = machine(
    "signature_request",
    "De handtekening",
    {
        SignatureStatus.PENDING: (
            SignatureStatus.SIGNED,
            SignatureStatus.DECLINED,
            SignatureStatus.CANCELLED,
        )
    },
    {
        SignatureStatus.PENDING: "wacht op handtekening",
        SignatureStatus.SIGNED: "ondertekend",
        SignatureStatus.DECLINED: "geweigerd",
        SignatureStatus.CANCELLED: "vervallen",
    },
)


class SignatureRequest(IdMixin, TimestampMixin, Base):
    __tablename__ = "signature_request"
    __table_args__ = (UniqueConstraint("document_id", "signing_round", "position"),)
    states: ClassVar[StateMachine[SignatureStatus]] = SIGNATURE_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id"), index=True)
    signing_round: Mapped[int] = mapped_column(default=1, server_default="1")
    """Each screening of a document starts a new round (a declined document is screened again
    after it has been fixed); earlier rounds stay as history."""
    position: Mapped[int]
    """Order of signing within the round: 1 signs first."""
    signer_function: Mapped[SignerFunction] = mapped_column(
        enum_column(SignerFunction, "signer_function")
    )
    signer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    """Who signed (or declined): the titular signer or a substitute."""
    capacity: Mapped[str | None] = mapped_column(String(200))
    """As stated above the signature, e.g. 'waarnemend burgemeester'."""
    status: Mapped[SignatureStatus] = mapped_column(
        enum_column(SignatureStatus, "signature_status"),
        default=SignatureStatus.PENDING,
        index=True,
    )
    signed_at: Mapped[datetime | None]
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None]
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """pyHanko's verdict on this signature in the final PDF (see
    `shared.pdf.validation.SignatureValidation`), stored for the portal."""

    @property
    def field_name(self) -> str:
        """The name of this signature's field in the PDF."""
        return f"Handtekening-{self.signing_round}-{self.position}"

    document: Mapped[Document] = relationship()
    signer: Mapped[StaffUser | None] = relationship()


class SigningBatchStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


SIGNING_BATCH_STATES = machine(
    "signing_batch",
    "De reeks handtekeningen",
    {
        SigningBatchStatus.QUEUED: (SigningBatchStatus.RUNNING, SigningBatchStatus.FINISHED),
        SigningBatchStatus.RUNNING: (SigningBatchStatus.FINISHED,),
    },
    {
        SigningBatchStatus.QUEUED: "in de wachtrij",
        SigningBatchStatus.RUNNING: "bezig",
        SigningBatchStatus.FINISHED: "klaar",
    },
)


class SigningBatch(TimestampMixin, Base):
    """One confirmed "sign these" of a signer: signed in the background, with its progress.

    Its id comes from the confirmation form, so submitting that form twice (a double click, a
    second tab, a reload) finds the same batch instead of starting a second one."""

    __tablename__ = "signing_batch"
    states: ClassVar[StateMachine[SigningBatchStatus]] = SIGNING_BATCH_STATES

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    signer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), index=True)
    request_ids: Mapped[list[str]] = mapped_column(JSON)
    """The signature requests to sign, in order."""
    status: Mapped[SigningBatchStatus] = mapped_column(
        enum_column(SigningBatchStatus, "signing_batch_status"),
        default=SigningBatchStatus.QUEUED,
    )
    outcomes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Per request, when finished: {request_id, document_id, signed, code, message}."""
    finished_at: Mapped[datetime | None]

    signer: Mapped[StaffUser] = relationship()
