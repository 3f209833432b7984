"""A document's history in words: the audit events of the document and of its signatures,
described in Dutch for the people who follow it (the portal shows its own citizen version)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.i18n import N_, format_money
from shared.i18n import gettext as _
from shared.models.audit import AuditEvent
from shared.models.documents import DOCUMENT_STATES, DocumentStatus
from shared.models.payments import PAYMENT_REQUEST_STATES, Payment, PaymentRequestStatus
from shared.models.signing import SignatureRequest


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    text: str
    actor: str | None
    tone: str = "neutral"
    """For the badge beside it: neutral, success, warning, danger."""


def document_timeline(
    session: Session, organisation_id: uuid.UUID, document_id: uuid.UUID
) -> list[TimelineEntry]:
    """Every event of the document and of its signature requests, oldest first."""
    request_ids = [
        str(i)
        for i in session.scalars(
            select(SignatureRequest.id).where(SignatureRequest.document_id == document_id)
        )
    ]
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id == organisation_id,
            or_(
                AuditEvent.object_id == str(document_id),
                AuditEvent.object_id.in_(request_ids),
            ),
        )
        .order_by(AuditEvent.sequence)
    ).all()
    return [describe(event) for event in events]


def describe(event: AuditEvent) -> TimelineEntry:
    data: dict[str, Any] = event.data or {}
    text, tone = _text(event.action, data, event.status_after)
    return TimelineEntry(event.occurred_at, text, event.actor_label, tone)


def _text(action: str, data: dict[str, Any], status_after: str | None) -> tuple[str, str]:
    match action:
        case "document.registered":
            return _("Geregistreerd"), "neutral"
        case "document.pdf_replaced":
            return _("Nieuw PDF-bestand opgeladen: %(name)s") % {
                "name": data.get("file_name", "")
            }, "neutral"
        case "document.screened":
            return _("Gescreend"), "neutral"
        case "document.awaiting_signature":
            return _("Ter ondertekening voorgelegd"), "neutral"
        case "document.signed":
            return _("Volledig ondertekend"), "success"
        case "document.ready":
            return _("Klaar voor verzending"), "neutral"
        case "document.declined":
            return (
                _("Teruggestuurd door %(who)s (%(capacity)s): %(reason)s")
                % {
                    "who": data.get("declined_by") or _("de ondertekenaar"),
                    "capacity": data.get("capacity", ""),
                    "reason": data.get("reason", ""),
                },
                "warning",
            )
        case "document.signatures_validated":
            return (
                _("Handtekeningen gecontroleerd: %(valid)d van %(count)d geldig")
                % {"valid": data.get("valid", 0), "count": data.get("signatures", 0)},
                "success" if data.get("valid") == data.get("signatures") else "danger",
            )
        case "signature_request.signed":
            return _("Ondertekend als %(capacity)s") % {
                "capacity": data.get("capacity", "")
            }, "success"
        case "signature_request.declined":
            return (
                _("Ondertekening geweigerd als %(capacity)s: %(reason)s")
                % {"capacity": data.get("capacity", ""), "reason": data.get("reason", "")},
                "warning",
            )
        case "document.withdrawn":
            return (
                _("Ingetrokken: de burger kan het niet meer openen. Reden: %(reason)s")
                % {"reason": data.get("reason", "")},
                "danger",
            )
        case "document.paper_copy_queued":
            return (
                _("Ook op papier verstuurd: %(reason)s") % {"reason": data.get("reason", "")},
                "warning",
            )
        case "signature_request.cancelled":
            return _("Handtekening niet meer gevraagd"), "neutral"
        case "payment_request.created" | "payment_request.checkout_started":
            return _payment_text(action, data), "neutral"
        case "bank_statement_line.assigned":
            return _("Lijn van het rekeninguittreksel met de hand gekoppeld (%(amount)s)") % {
                "amount": _cents(data, "amount_cents")
            }, "success"
        case "bank_statement_line.dismissed":
            return _("Lijn van het rekeninguittreksel afgewezen: %(reason)s") % {
                "reason": data.get("reason", "")
            }, "neutral"
        case "payment_reminder.created":
            return _("Herinnering %(level)s aangemaakt voor %(amount)s") % {
                "level": data.get("level", ""),
                "amount": _cents(data, "amount_cents"),
            }, "warning"
        case "payment_request.amount_reduced":
            return _("Te betalen bedrag verminderd van %(before)s tot %(amount)s na bezwaar") % {
                "before": _cents(data, "amount_before_cents"),
                "amount": _cents(data, "amount_cents"),
            }, "neutral"
        case "payment_request.refund_due":
            return _("Terug te betalen na bezwaar: %(amount)s") % {
                "amount": _cents(data, "refund_cents")
            }, "warning"
        case "payment.received" | "payment.refunded" | "payment_request.online_amount_mismatch":
            return _payment_text(action, data), (
                "danger" if action.endswith("mismatch") else "success"
            )
    if action.startswith("payment_request.") and status_after:
        try:
            label = PAYMENT_REQUEST_STATES.label(PaymentRequestStatus(status_after))
        except ValueError:
            return action, "neutral"
        tone = "success" if status_after == "paid" else "neutral"
        return _("Betaalverzoek: %(status)s") % {"status": label}, tone
    if action.startswith("document.") and status_after:
        try:
            label = DOCUMENT_STATES.label(DocumentStatus(status_after))
        except ValueError:
            return action, "neutral"
        return label[:1].upper() + label[1:], "neutral"
    return action, "neutral"


_METHODS = {
    "card": N_("kaart"),
    "bancontact": N_("Bancontact"),
    "bank_transfer": N_("overschrijving"),
    "cash": N_("contant"),
    "card_terminal": N_("betaalterminal"),
}


def _cents(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return format_money(value) if isinstance(value, int) else ""


def _payment_text(action: str, data: dict[str, Any]) -> str:
    match action:
        case "payment_request.created":
            return _("Betaalverzoek van %(amount)s aangemaakt") % {
                "amount": _cents(data, "amount_cents")
            }
        case "payment_request.checkout_started":
            return _("Online betaling gestart voor %(amount)s") % {
                "amount": _cents(data, "amount_cents")
            }
        case "payment.received":
            method = _METHODS.get(str(data.get("method")))
            return _("%(amount)s ontvangen (%(method)s)") % {
                "amount": _cents(data, "amount_cents"),
                "method": _(method) if method else data.get("method", ""),
            }
        case "payment.refunded":
            return _("%(amount)s terugbetaald") % {"amount": _cents(data, "amount_cents")}
    return _("Online betaald bedrag (%(paid)s) verschilt van het gevraagde (%(asked)s)") % {
        "paid": _cents(data, "paid_cents"),
        "asked": _cents(data, "asked_cents"),
    }


def payment_request_timeline(
    session: Session, organisation_id: uuid.UUID, payment_request_id: uuid.UUID
) -> list[TimelineEntry]:
    """Every event of a payment request and of its payments, oldest first."""
    payment_ids = [
        str(i)
        for i in session.scalars(
            select(Payment.id).where(Payment.payment_request_id == payment_request_id)
        )
    ]
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id == organisation_id,
            AuditEvent.object_id.in_([str(payment_request_id), *payment_ids]),
        )
        .order_by(AuditEvent.sequence)
    ).all()
    return [describe(event) for event in events]
