"""What the Stripe client returns: plain typed values, never SDK objects or ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str
    """open, complete or expired."""
    payment_status: str
    """unpaid, paid or no_payment_required."""
    amount_total: int | None
    currency: str | None
    payment_intent_id: str | None
    payment_method_type: str | None
    """card, bancontact, ... from the payment's charge (None while unpaid)."""
    paid_at: datetime | None
    expires_at: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int
    status: str
    """pending, succeeded, failed or canceled."""
    payment_intent_id: str | None
    charge_id: str | None
    created: datetime | None


class StripeFailure(Exception):
    """Stripe refused or could not be reached. `retryable`: trying again later may work
    (network trouble, 5xx, rate limit); otherwise the request itself was wrong."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.http_status = http_status
