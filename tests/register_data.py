"""Register rows for tests: numbered dispatches with their documents, inserted in bulk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.models import Channel, Dispatch, DispatchStatus, Document, Organisation
from shared.services import register
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday morning; the rows of a call are sent one `step` apart from here."""


def add_dispatches(
    session: Session,
    org: Organisation,
    count: int,
    *,
    year: int = 2026,
    first_sequence: int = 1,
    start: datetime = T0,
    step: timedelta = timedelta(hours=1),
    channel: Channel = Channel.EBOX,
    status: DispatchStatus = DispatchStatus.DELIVERED,
    recipient_name: str = "Jan Peeters",
    title: str = "Besluit over uw aanvraag",
    document_type: str = "college_decision",
) -> None:
    """`count` numbered dispatches (each with its document), inserted in bulk; the register's
    daily totals are counted again afterwards (a bulk insert bypasses the unit of work)."""
    ssin = f"{uuid.uuid4().int % 10**11:011d}"
    recipient = factories.citizen(session, org, ssin=ssin, name=recipient_name)
    documents, dispatches = [], []
    for index in range(count):
        document_id = uuid.uuid4()
        sent = start + index * step
        documents.append(
            {
                "id": document_id,
                "organisation_id": org.id,
                "recipient_id": recipient.id,
                "document_type": document_type,
                "title": title,
                "file_name": "besluit.pdf",
                "original_sha256": "0" * 64,
                "current_sha256": "0" * 64,
                "public_token": uuid.uuid4().hex,
            }
        )
        failed = status is DispatchStatus.FAILED
        dispatches.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": org.id,
                "document_id": document_id,
                "recipient_name": recipient_name,
                "channel": channel,
                "channel_reason": "test",
                "status": status,
                "idempotency_key": uuid.uuid4().hex,
                "register_year": year,
                "register_sequence": first_sequence + index,
                "created_at": sent - timedelta(minutes=5),
                "submitted_at": None if failed else sent,
                "delivered_at": sent + timedelta(hours=2)
                if status in (DispatchStatus.DELIVERED, DispatchStatus.READ)
                else None,
                "failure_reason": "Adres onbekend bij bpost" if failed else None,
            }
        )
    session.execute(insert(Document), documents)
    session.execute(insert(Dispatch), dispatches)
    session.flush()
    register.rebuild_daily_totals(session, org.id)
