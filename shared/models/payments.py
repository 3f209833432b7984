"""Payment requests and the payments that settle them. Money is integer euro cents."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base, IdMixin, TimestampMixin, enum_column
from shared.models.documents import Document
from shared.models.states import StateMachine, machine


class PaymentRequestStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


PAYMENT_REQUEST_STATES = machine(
    "payment_request",
    "Het betaalverzoek",
    {
        PaymentRequestStatus.OPEN: (
            PaymentRequestStatus.PARTIALLY_PAID,
            PaymentRequestStatus.PAID,
            PaymentRequestStatus.SUSPENDED,
            PaymentRequestStatus.CANCELLED,
        ),
        PaymentRequestStatus.PARTIALLY_PAID: (
            PaymentRequestStatus.PAID,
            PaymentRequestStatus.OPEN,
            PaymentRequestStatus.SUSPENDED,
            PaymentRequestStatus.CANCELLED,
            PaymentRequestStatus.REFUNDED,
        ),
        PaymentRequestStatus.PAID: (
            PaymentRequestStatus.PARTIALLY_PAID,
            PaymentRequestStatus.OPEN,
            PaymentRequestStatus.REFUNDED,
        ),
        PaymentRequestStatus.SUSPENDED: (
            PaymentRequestStatus.OPEN,
            PaymentRequestStatus.PARTIALLY_PAID,
            # Money that arrived while suspended (a transfer already under way) counts when
            # the request resumes.
            PaymentRequestStatus.PAID,
            PaymentRequestStatus.CANCELLED,
        ),
    },
    {
        PaymentRequestStatus.OPEN: "te betalen",
        PaymentRequestStatus.PARTIALLY_PAID: "gedeeltelijk betaald",
        PaymentRequestStatus.PAID: "betaald",
        PaymentRequestStatus.SUSPENDED: "opgeschort",
        PaymentRequestStatus.CANCELLED: "geannuleerd",
        PaymentRequestStatus.REFUNDED: "terugbetaald",
    },
)


class PaymentRequest(IdMixin, TimestampMixin, Base):
    __tablename__ = "payment_request"
    states: ClassVar[StateMachine[PaymentRequestStatus]] = PAYMENT_REQUEST_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id"), unique=True)
    amount_cents: Mapped[int]
    due_date: Mapped[date]
    structured_communication: Mapped[str] = mapped_column(String(12), unique=True)
    """The 12 digits of +++xxx/xxxx/xxxxx+++."""
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    status: Mapped[PaymentRequestStatus] = mapped_column(
        enum_column(PaymentRequestStatus, "payment_request_status"),
        default=PaymentRequestStatus.OPEN,
        index=True,
    )

    document: Mapped[Document] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="payment_request")


class PaymentMethod(StrEnum):
    CARD = "card"
    BANCONTACT = "bancontact"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CARD_TERMINAL = "card_terminal"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


PAYMENT_STATES = machine(
    "payment",
    "De betaling",
    {
        PaymentStatus.PENDING: (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED),
        PaymentStatus.SUCCEEDED: (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED),
        PaymentStatus.PARTIALLY_REFUNDED: (
            PaymentStatus.REFUNDED,
            PaymentStatus.PARTIALLY_REFUNDED,
        ),
    },
    {
        PaymentStatus.PENDING: "in behandeling",
        PaymentStatus.SUCCEEDED: "ontvangen",
        PaymentStatus.FAILED: "mislukt",
        PaymentStatus.REFUNDED: "terugbetaald",
        PaymentStatus.PARTIALLY_REFUNDED: "gedeeltelijk terugbetaald",
    },
)


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("method", "external_id"),)
    states: ClassVar[StateMachine[PaymentStatus]] = PAYMENT_STATES

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    payment_request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_request.id"), index=True
    )
    amount_cents: Mapped[int]
    refunded_cents: Mapped[int] = mapped_column(default=0)
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "payment_method"))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    """Stripe Checkout Session / PaymentIntent id, bank statement entry reference, receipt no."""
    received_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    payment_request: Mapped[PaymentRequest] = relationship(back_populates="payments")


class PaymentRefund(IdMixin, TimestampMixin, Base):
    """Money given back from one payment: through Stripe (external_id is the refund id,
    re_...) or recorded by hand for a transfer. `Payment.refunded_cents` is their sum."""

    __tablename__ = "payment_refund"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_cents: Mapped[int]
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    refunded_at: Mapped[datetime]
    actor_label: Mapped[str] = mapped_column(String(200))

    payment: Mapped[Payment] = relationship()


class CheckoutStatus(StrEnum):
    """Stripe's status of a Checkout Session."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class CheckoutSession(TimestampMixin, Base):
    """A Stripe Checkout Session opened for a payment request (id cs_...)."""

    __tablename__ = "checkout_session"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    payment_request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_request.id"), index=True
    )
    amount_cents: Mapped[int]
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[CheckoutStatus] = mapped_column(
        enum_column(CheckoutStatus, "checkout_status"), default=CheckoutStatus.OPEN
    )
    payment_status: Mapped[str] = mapped_column(String(32), default="unpaid")
    """Stripe's payment_status: unpaid, paid or no_payment_required."""
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    expires_at: Mapped[datetime | None]

    payment_request: Mapped[PaymentRequest] = relationship()


class StripeEvent(Base):
    """Each webhook event handled once: a replay of the same id is a no-op."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, object] | None] = mapped_column(JSON)
