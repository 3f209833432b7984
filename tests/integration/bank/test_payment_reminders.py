"""Reminder letters for overdue payment requests: made once per request and level, screened
without signature and queued for dispatch; none for paid, suspended or not-yet-late requests."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import format_structured_communication
from shared.models import (
    AuditEvent,
    Dispatch,
    Document,
    DocumentStatus,
    PaymentMethod,
    PaymentReminder,
)
from shared.services import payment_reminders, payments
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories
from tests.integration.bank.conftest import World, payment_request


def test_overdue_requests_get_one_reminder_per_level(session: Session, world: World) -> None:
    on = today()
    late = payment_request(session, world.a, amount_cents=8000, due=on - timedelta(days=20))
    paid_late = payment_request(session, world.a, amount_cents=1000, due=on - timedelta(days=20))
    suspended = payment_request(session, world.a, amount_cents=1000, due=on - timedelta(days=20))
    in_grace = payment_request(session, world.a, amount_cents=1000, due=on - timedelta(days=5))
    payments.record_payment(
        session,
        payment_request=paid_late,
        amount_cents=1000,
        method=PaymentMethod.CASH,
        external_id="B2026-0000000001",
        received_at=utcnow(),
        actor=factories.SYSTEM,
    )
    payments.suspend(session, suspended, actor=factories.SYSTEM, reason="bezwaar")
    for doc in session.scalars(select(Document)).all():
        doc.recipient.street = "Kerkstraat 1"
    session.commit()

    created = payment_reminders.create_due_reminders(session, on=on)
    session.commit()
    assert [c.reminder.payment_request_id for c in created] == [late.id]
    reminder = created[0]
    assert reminder.reminder.level == 1
    assert reminder.document.document_type == "reminder"
    assert reminder.document.signature_required is False
    assert reminder.document.status is DocumentStatus.READY
    assert reminder.dispatched
    assert session.scalar(select(func.count()).select_from(Dispatch)) == 1
    pdf = PdfReader(io.BytesIO(get_storage().get(reminder.document.current_sha256)))
    text = " ".join(pdf.pages[0].extract_text().replace("\xa0", " ").split())
    assert "€ 80,00" in text
    assert format_structured_communication(late.structured_communication) in text
    assert "BE71 0961 2345 6769" in text
    assert len(pdf.pages[0].images) == 1  # the EPC QR code
    assert (
        session.scalar(select(func.count()).where(AuditEvent.action == "payment_reminder.created"))
        == 1
    )

    # Again the same day, and again a week later: nothing new (idempotent, interval).
    assert payment_reminders.create_due_reminders(session, on=on) == []
    assert payment_reminders.create_due_reminders(session, on=on + timedelta(days=7)) == []
    # After the interval: level 2 for the first; the one that was in its grace period is
    # late by now and gets its first. Then no more for the first (two levels by default).
    second = payment_reminders.create_due_reminders(session, on=on + timedelta(days=31))
    assert [(c.reminder.payment_request_id, c.reminder.level) for c in second] == [
        (late.id, 2),
        (in_grace.id, 1),
    ]
    third = payment_reminders.create_due_reminders(session, on=on + timedelta(days=90))
    assert [(c.reminder.payment_request_id, c.reminder.level) for c in third] == [(in_grace.id, 2)]
    session.commit()
    assert session.scalar(select(func.count()).select_from(PaymentReminder)) == 4
