"""Payments at the desk: front office (onthaal) or finance registers a cash or card-terminal
payment against a payment request, and hands over a receipt (a small PDF).

The receipt number is made when the form is shown and sent back with it; it is the payment's
external id, so submitting the form twice books the payment once (`record_payment` is
idempotent by method and external id).
"""

from __future__ import annotations

import re
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.errors import FieldErrors, NotFound
from shared.i18n import format_datetime, format_money, format_structured_communication
from shared.i18n import gettext as _
from shared.models.payments import Payment, PaymentMethod, PaymentRequest
from shared.models.people import Organisation, StaffRole
from shared.pdf.receipts import Receipt, render_receipt
from shared.services import payment_overview, payments
from shared.services.access import StaffContext
from shared.services.registration import parse_amount_cents
from shared.timeutil import today

DESK_ROLES = (StaffRole.ONTHAAL, StaffRole.FINANCIEN)
DESK_METHODS = (PaymentMethod.CASH, PaymentMethod.CARD_TERMINAL)
MAX_DESK_CENTS = 10_000_00
"""Cash above € 3.000 is forbidden in Belgium; a card terminal takes more, but a desk
payment above € 10.000 is surely a typing error."""
_RECEIPT = re.compile(r"^B\d{4}-[0-9A-F]{10}$")


def new_receipt_number() -> str:
    """B2026-3F9A12BC07: the year and ten random hex digits (not guessable, not sequential)."""
    return f"B{today().year}-{secrets.token_hex(5).upper()}"


def register_desk_payment(
    session: Session,
    staff: StaffContext,
    *,
    payment_request_id: uuid.UUID,
    method: str,
    amount: str,
    receipt_number: str,
    note: str = "",
) -> Payment:
    """Book a desk payment; raise FieldErrors (nothing changed) on bad input."""
    staff.require(*DESK_ROLES)
    request = payment_overview.request_for_staff(session, staff, payment_request_id)
    errors: dict[str, str] = {}
    chosen = next((m for m in DESK_METHODS if m.value == method), None)
    if chosen is None:
        errors["wijze"] = _("Kies contant of betaalterminal.")
    cents: int | None = None
    try:
        cents = parse_amount_cents(amount)
    except Exception as error:  # InvalidInput: its message is for the user
        errors["bedrag"] = getattr(error, "message", str(error))
    if cents is None and "bedrag" not in errors:
        errors["bedrag"] = _("Geef het ontvangen bedrag.")
    if cents is not None and cents > MAX_DESK_CENTS:
        errors["bedrag"] = _("Een betaling aan de balie is ten hoogste € 10.000.")
    if chosen is PaymentMethod.CASH and cents is not None and cents > 3_000_00:
        errors["bedrag"] = _("Contant betalen kan in België tot € 3.000.")
    if not _RECEIPT.fullmatch(receipt_number):
        errors["ontvangstbewijs"] = _("Het formulier is verlopen; laad de pagina opnieuw.")
    note = note.strip()
    if len(note) > 500:
        errors["opmerking"] = _("De opmerking is te lang (ten hoogste 500 tekens).")
    if errors:
        raise FieldErrors(errors)
    assert chosen is not None
    assert cents is not None
    payment = payments.record_payment(
        session,
        payment_request=request,
        amount_cents=cents,
        method=chosen,
        external_id=receipt_number,
        received_at=utcnow(),
        actor=staff.actor,
        note=note or None,
    )
    if payment.payment_request_id != request.id:
        raise FieldErrors(
            {"ontvangstbewijs": _("Dit ontvangstbewijs hoort bij een ander betaalverzoek.")}
        )
    return payment


def payment_for_staff(session: Session, staff: StaffContext, payment_id: uuid.UUID) -> Payment:
    payment = session.scalars(
        select(Payment).where(
            Payment.id == payment_id, Payment.organisation_id == staff.organisation_id
        )
    ).one_or_none()
    if payment is None:
        raise NotFound(_("Deze betaling bestaat niet of hoort bij een ander bestuur."))
    return payment


def receipt_pdf(session: Session, staff: StaffContext, payment_id: uuid.UUID) -> bytes:
    """The receipt of a desk payment, for the staff of its organisation."""
    staff.require(*DESK_ROLES, *payment_overview.FINANCE_ROLES)
    payment = payment_for_staff(session, staff, payment_id)
    if payment.method not in DESK_METHODS:
        raise NotFound(_("Alleen voor een betaling aan de balie is er een ontvangstbewijs."))
    request = session.get(PaymentRequest, payment.payment_request_id)
    organisation = session.get(Organisation, payment.organisation_id)
    assert request is not None
    assert organisation is not None
    document = request.document
    address = [
        part
        for part in (
            organisation.street,
            " ".join(p for p in (organisation.postal_code, organisation.city) if p),
        )
        if part
    ]
    rows = [
        (_("Ontvangstbewijs"), payment.external_id or ""),
        (_("Datum"), format_datetime(payment.received_at) if payment.received_at else ""),
        (_("Bedrag"), format_money(payment.amount_cents)),
        (_("Betaalwijze"), payment_overview.method_label(payment.method)),
        (_("Betaald door"), document.recipient.name),
        (_("Voor"), document.title),
        (
            _("Gestructureerde mededeling"),
            format_structured_communication(request.structured_communication),
        ),
        (_("Ontvangen door"), _audit_label(session, payment) or staff.name),
    ]
    if payment.note:
        rows.append((_("Opmerking"), payment.note))
    return render_receipt(
        Receipt(
            title=_("Betalingsbewijs"),
            organisation_name=organisation.name,
            organisation_address=address,
            rows=rows,
            footer=_("Bewaar dit bewijs. Het bedrag is geboekt op het betaalverzoek hierboven."),
        )
    )


def _audit_label(session: Session, payment: Payment) -> str | None:
    from shared.models.audit import AuditEvent

    return session.scalar(
        select(AuditEvent.actor_label)
        .where(
            AuditEvent.organisation_id == payment.organisation_id,
            AuditEvent.object_id == str(payment.id),
        )
        .order_by(AuditEvent.sequence)
        .limit(1)
    )
