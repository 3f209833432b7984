"""What a citizen sees of a payment request: how much is still due, and how to pay it —
online, or by transfer with the structured communication and the EPC QR code (an inline SVG:
nothing is fetched from anyone)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import DomainError
from shared.i18n import gettext as _
from shared.models.disputes import DisputeOutcome
from shared.models.payments import PaymentRequest, PaymentRequestStatus
from shared.models.people import Organisation
from shared.services import payments
from shared.services.payment_references import epc_payload, epc_qr_svg, ogm_transfer


@dataclass(frozen=True)
class PaymentPanel:
    request: PaymentRequest
    balance: payments.Balance
    creditor_name: str
    payable: bool
    """The Betalen button and the transfer details are shown."""
    reason: str | None
    """Why not, for the citizen (Dutch)."""
    qr_svg: str | None
    online: bool = True
    """Paying online (Stripe) is offered."""
    outcome: DisputeOutcome | None = None
    """The decision on the citizen's latest dispute, when one was taken and the page may say
    so (the logged-in document page, not the paper code's summary): the "why" of a cancelled,
    reduced or to-be-refunded amount."""

    @property
    def founded(self) -> bool:
        return self.outcome is DisputeOutcome.FOUNDED

    @property
    def reduced(self) -> bool:
        return self.outcome is DisputeOutcome.PARTLY_FOUNDED

    @property
    def status(self) -> PaymentRequestStatus:
        return self.request.status

    @property
    def status_label(self) -> str:
        return self.request.states.label(self.request.status)


def epc_for(request: PaymentRequest, creditor_name: str, amount_cents: int) -> str:
    """The EPC QR payload for paying `amount_cents` of the request by transfer."""
    return epc_payload(
        ogm_transfer(
            name=creditor_name,
            iban=request.iban,
            bic=request.bic,
            amount_cents=amount_cents,
            ogm_digits=request.structured_communication,
        )
    )


def panel(
    session: Session,
    request: PaymentRequest,
    *,
    outcome: DisputeOutcome | None = None,
    totals: payments.Balance | None = None,
) -> PaymentPanel:
    """The panel of `request`; `outcome` as in `PaymentPanel.outcome`; `totals`: its balance
    when the caller loaded it in the same transaction (otherwise asked here)."""
    organisation = session.get(Organisation, request.organisation_id)
    name = organisation.name if organisation is not None else ""
    totals = totals or payments.balance(session, request)
    reason: str | None = None
    try:
        payments.ensure_payable(request)
    except DomainError as refused:
        reason = refused.message
    payable = reason is None and totals.outstanding_cents > 0
    qr_svg = None
    if payable:
        qr_svg = epc_qr_svg(
            ogm_transfer(
                name=name,
                iban=request.iban,
                bic=request.bic,
                amount_cents=totals.outstanding_cents,
                ogm_digits=request.structured_communication,
            ),
            title=_("QR-code om over te schrijven met uw bankapp"),
        )
    return PaymentPanel(
        request,
        totals,
        name,
        payable,
        reason,
        qr_svg,
        online=get_settings().stripe_enabled,
        outcome=outcome,
    )
