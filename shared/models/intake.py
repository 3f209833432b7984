"""Intake from outside the back-office forms: API keys of minutes software, and bulk imports
of a ZIP file (a manifest with PDFs), registered item by item by a background job."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column
from shared.models.people import Organisation, StaffUser
from shared.models.states import StateMachine, machine


class ApiKey(IdMixin, TimestampMixin, Base):
    """A key with which software of one organisation calls the API.

    The key is `zgl_<prefix>_<secret>`; only its prefix (to find the row) and the SHA-256 of
    the whole key are stored, so the database never holds a usable key. A revoked key stays
    (for the audit trail) but no longer opens anything.
    """

    __tablename__ = "api_key"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    """What the key is for, e.g. 'Gelinkt Notuleren'."""
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))

    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """The job itself gave up (not: some rows failed; those are counted per item)."""


IMPORT_STATES = machine(
    "import_batch",
    "De import",
    {
        ImportStatus.QUEUED: (ImportStatus.RUNNING, ImportStatus.FAILED),
        ImportStatus.RUNNING: (ImportStatus.DONE, ImportStatus.FAILED),
    },
    {
        ImportStatus.QUEUED: "wacht",
        ImportStatus.RUNNING: "bezig",
        ImportStatus.DONE: "klaar",
        ImportStatus.FAILED: "mislukt",
    },
)


class ImportBatch(IdMixin, TimestampMixin, Base):
    """One uploaded ZIP file. Its items are registered by the job `intake.import`."""

    __tablename__ = "import_batch"
    states: ClassVar[StateMachine[ImportStatus]] = IMPORT_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    manifest_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[ImportStatus] = mapped_column(
        enum_column(ImportStatus, "import_status"), default=ImportStatus.QUEUED
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    created_by: Mapped[StaffUser | None] = relationship()
    items: Mapped[list[ImportItem]] = relationship(
        back_populates="batch", order_by="ImportItem.position"
    )


class ImportItemStatus(StrEnum):
    PENDING = "pending"
    REGISTERED = "registered"
    SKIPPED = "skipped"
    """Registered before, with the same content (same external id)."""
    FAILED = "failed"


IMPORT_ITEM_LABELS: dict[ImportItemStatus, str] = {
    ImportItemStatus.PENDING: "wacht",
    ImportItemStatus.REGISTERED: "geregistreerd",
    ImportItemStatus.SKIPPED: "al geregistreerd",
    ImportItemStatus.FAILED: "fout",
}


class ImportItem(IdMixin, Base):
    """One decision (with its letters) or one letter of an import.

    `payload` holds what the manifest said, with the PDFs as SHA-256 addresses in storage and
    a national register number only sealed (`shared.protection.seal`), never in clear.
    """

    __tablename__ = "import_item"
    __table_args__ = (UniqueConstraint("batch_id", "position"),)

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_batch.id"), index=True)
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(200))
    """Where it came from in the manifest, e.g. 'regels 2–3' or 'beslissing 4'."""
    kind: Mapped[str] = mapped_column(String(20))
    """'decision' or 'letter'."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ImportItemStatus] = mapped_column(
        enum_column(ImportItemStatus, "import_item_status"), default=ImportItemStatus.PENDING
    )
    message: Mapped[str | None] = mapped_column(Text)
    """Why it failed, in Dutch, one line per problem."""
    decision_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("decision.id"))
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("document.id"))

    batch: Mapped[ImportBatch] = relationship(back_populates="items")
