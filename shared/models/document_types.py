"""An organisation's own policy per document type (the catalogue of types and their defaults
is `shared.services.document_types`)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, IdMixin, TimestampMixin, enum_column


class PaperDelivery(StrEnum):
    """How a document goes when it goes on paper."""

    NORMAL = "normal"
    REGISTERED = "registered"
    REGISTERED_WITH_ACKNOWLEDGEMENT = "registered_ack"


class DocumentTypePolicy(IdMixin, TimestampMixin, Base):
    """One organisation's choices for one document type. Without a row the catalogue's
    defaults apply; a row, once a beheerder saved it, holds the complete policy.

    Adding a rule: a column here (with a server default, so that rows saved before it
    existed get a value — or nullable, when "not set" has a meaning), its default on
    `document_types.DocumentType`, and its field in `document_types.Policy` and the form.
    """

    __tablename__ = "document_type_policy"
    __table_args__ = (UniqueConstraint("organisation_id", "document_type"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(50))
    paper_delivery: Mapped[PaperDelivery] = mapped_column(
        enum_column(PaperDelivery, "paper_delivery"), server_default=PaperDelivery.NORMAL.value
    )
    ebox_fallback_days: Mapped[int | None]
    """An eBox message still unread this many days after delivery goes on paper too (the
    same signed PDF, by `paper_delivery`); None: never."""
    legal_basis: Mapped[str | None] = mapped_column(Text)
    """The legal basis for national-register look-ups about documents of this type; None:
    the installation's (ZEGEL_MAGDA_LEGAL_BASIS)."""
    dispute_suspends_payment: Mapped[bool] = mapped_column(server_default=false())
    """A dispute against a document of this type suspends its payment request until the
    dispute is decided (or withdrawn)."""
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
