"""Bank statements (CAMT.053) imported by finance, and their lines.

A statement is stored once per account and statement id; a line once per account and entry
reference, so importing the same statement (or an overlapping one) twice changes nothing.
Credit lines are matched to payment requests by structured communication; what cannot be
matched waits on the review list until finance assigns or dismisses it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column


class BankStatement(IdMixin, TimestampMixin, Base):
    __tablename__ = "bank_statement"
    __table_args__ = (UniqueConstraint("organisation_id", "account_iban", "statement_id"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    statement_id: Mapped[str] = mapped_column(String(35))
    """Stmt/Id of the CAMT.053 message."""
    sequence_number: Mapped[str | None] = mapped_column(String(35))
    """Stmt/ElctrncSeqNb (or LglSeqNb): the bank's running number of the statement."""
    message_id: Mapped[str] = mapped_column(String(35))
    created_on: Mapped[datetime | None]
    """Stmt/CreDtTm: when the bank made the statement."""
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    imported_by_label: Mapped[str] = mapped_column(String(200))
    line_count: Mapped[int] = mapped_column(default=0)

    lines: Mapped[list[BankStatementLine]] = relationship(
        back_populates="statement", order_by="BankStatementLine.position"
    )


class LineStatus(StrEnum):
    MATCHED = "matched"
    """Matched by its structured communication and booked as a payment."""
    REVIEW = "review"
    """Waiting for finance: no usable reference, ambiguous, or the payment was refused."""
    ASSIGNED = "assigned"
    """Finance assigned it to a payment request by hand; booked as a payment."""
    DISMISSED = "dismissed"
    """Finance decided it is no payment of a request (with a reason)."""
    DEBIT = "debit"
    """Money going out: shown, never matched."""


class ReviewReason(StrEnum):
    NO_REFERENCE = "no_reference"
    UNKNOWN_REFERENCE = "unknown_reference"
    AMBIGUOUS = "ambiguous"
    REFUSED = "refused"
    CURRENCY = "currency"


class BankStatementLine(IdMixin, TimestampMixin, Base):
    __tablename__ = "bank_statement_line"
    __table_args__ = (UniqueConstraint("organisation_id", "account_iban", "entry_reference"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    entry_reference: Mapped[str] = mapped_column(String(140))
    """The bank's reference of the entry (AcctSvcrRef, else NtryRef; per transaction when an
    entry holds several)."""
    position: Mapped[int]
    booking_date: Mapped[date | None]
    value_date: Mapped[date | None]
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    is_credit: Mapped[bool]
    counterparty_name: Mapped[str | None] = mapped_column(String(140))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    structured_reference: Mapped[str | None] = mapped_column(String(35))
    """The 12 digits found (structured or in the text), when exactly one valid one was."""
    remittance_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[LineStatus] = mapped_column(
        enum_column(LineStatus, "bank_line_status"), index=True
    )
    review_reason: Mapped[ReviewReason | None] = mapped_column(
        enum_column(ReviewReason, "bank_line_review_reason")
    )
    review_detail: Mapped[str | None] = mapped_column(Text)
    payment_request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment_request.id"), index=True
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment.id"))
    amount_note: Mapped[str | None] = mapped_column(String(20))
    """partial or overpaid: the line was booked, for less or more than was still due."""
    resolved_by_label: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)

    statement: Mapped[BankStatement] = relationship(back_populates="lines")


class PaymentReminder(IdMixin, TimestampMixin, Base):
    """A reminder letter (herinnering) for an overdue payment request: at most one per level."""

    __tablename__ = "payment_reminder"
    __table_args__ = (UniqueConstraint("payment_request_id", "level"),)

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    payment_request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_request.id"), index=True
    )
    level: Mapped[int]
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id"), unique=True)
    outstanding_cents: Mapped[int]
