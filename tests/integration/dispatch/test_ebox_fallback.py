"""Per document type: an eBox message unread after N days goes on paper too, with the same
signed PDF, once only — against the MAGDA sandbox over HTTP, whose statuses move over time."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared import jobs
from shared.db import session_scope, utcnow
from shared.integrations.magda import testdata
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Channel,
    Dispatch,
    DispatchStatus,
    Document,
    DocumentStatus,
    DocumentTypePolicy,
    EboxStatus,
    Organisation,
    PaperDelivery,
    Recipient,
    RecipientKind,
    StaffRole,
)
from shared.protection import seal, ssin_digest
from shared.services import audit, ebox_fallback, register, timeline
from shared.services import dispatch as dispatching
from shared.services.access import StaffContext
from shared.storage import get_storage
from tests import factories
from tests.integration.dispatch.conftest import Magda, ready_document

AN = testdata.person_by_key("an-janssens")
DAYS = 14


def _citizen(session: Session, org: Organisation, *, address: bool = True) -> Recipient:
    known = session.scalars(
        select(Recipient).where(
            Recipient.organisation_id == org.id, Recipient.ssin_digest == ssin_digest(AN.ssin)
        )
    ).one_or_none()
    if known is not None:
        return known
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(AN.ssin),
        ssin_sealed=seal(AN.ssin),
        name=AN.name,
        street=AN.address.street_line if address and AN.address else None,
        postal_code=AN.address.postal_code if address and AN.address else None,
        city=AN.address.municipality if address and AN.address else None,
        ebox_status=EboxStatus.ACTIVATED,
        ebox_checked_at=utcnow(),
        ebox_source="test",
    )
    session.add(recipient)
    session.flush()
    return recipient


def _policy(
    session: Session,
    org: Organisation,
    *,
    days: int | None = DAYS,
    paper: PaperDelivery = PaperDelivery.NORMAL,
    document_type: str = "college_decision",
) -> None:
    session.add(
        DocumentTypePolicy(
            id=uuid.uuid4(),
            organisation_id=org.id,
            document_type=document_type,
            paper_delivery=paper,
            ebox_fallback_days=days,
        )
    )
    session.flush()


def _sent_to_ebox(
    session: Session,
    org: Organisation,
    *,
    address: bool = True,
    document_type: str = "college_decision",
) -> uuid.UUID:
    """A document sent to AN's eBox, submitted and polled (delivered, or read); its id."""
    document = ready_document(
        session, org, _citizen(session, org, address=address), document_type=document_type
    )
    dispatching.send_one(session, org.id, document.id, actor=audit.Actor.system("test"))
    session.commit()
    session.close()
    assert Worker("test-worker").run_pending() >= 1
    assert dispatching.poll_statuses().errors == []
    return document.id


def _dispatches(document_id: uuid.UUID) -> list[Dispatch]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Dispatch)
                .where(Dispatch.document_id == document_id)
                .order_by(Dispatch.attempt)
            )
        )


def _days_pass(document_id: uuid.UUID, days: int) -> None:
    """Move the eBox delivery `days` into the past (as if they went by)."""
    with session_scope() as session:
        session.execute(
            update(Dispatch)
            .where(Dispatch.document_id == document_id, Dispatch.channel == Channel.EBOX)
            .values(delivered_at=utcnow() - timedelta(days=days))
        )


def _copies() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).where(Dispatch.copy_of_id.is_not(None))) or 0


def test_a_message_read_before_n_days_gets_no_paper(session: Session, magda: Magda) -> None:
    org = factories.organisation(session)
    _policy(session, org)
    document_id = _sent_to_ebox(session, org)
    assert _dispatches(document_id)[0].status is DispatchStatus.READ
    _days_pass(document_id, DAYS + 1)
    result = ebox_fallback.send_unread_on_paper()
    assert (result.checked, result.queued) == (0, [])
    assert _copies() == 0
    assert len(magda.sandbox.messages) == 1


def test_read_after_the_last_poll_is_seen_before_any_paper_goes(
    session: Session, magda: Magda
) -> None:
    magda.sandbox.step_seconds = 0.3  # delivered after 0.3 s, read after 0.9 s
    org = factories.organisation(session)
    _policy(session, org)
    document = ready_document(session, org, _citizen(session, org))
    dispatching.send_one(session, org.id, document.id, actor=audit.Actor.system("test"))
    session.commit()
    session.close()
    Worker("test-worker").run_pending()
    time.sleep(0.4)
    dispatching.poll_statuses()
    assert _dispatches(document.id)[0].status is DispatchStatus.DELIVERED
    _days_pass(document.id, DAYS + 1)
    time.sleep(0.6)  # the citizen reads it; the periodic poll has not asked yet
    result = ebox_fallback.send_unread_on_paper()
    assert result.errors == []
    assert (result.checked, result.read_meanwhile, result.queued) == (1, 1, [])
    assert _dispatches(document.id)[0].status is DispatchStatus.READ
    assert _copies() == 0


def test_an_unread_message_goes_on_paper_exactly_once(session: Session, magda: Magda) -> None:
    magda.sandbox.leave_unread(AN.ssin)
    org = factories.organisation(session)
    _policy(session, org)
    document_id = _sent_to_ebox(session, org)
    [original] = _dispatches(document_id)
    assert original.status is DispatchStatus.DELIVERED
    with session_scope() as check:
        before = check.get(Document, document_id)
        assert before is not None
        legal_date, sent_at = before.legal_sending_date, before.sent_at

    # Not yet N days: nothing.
    assert ebox_fallback.send_unread_on_paper().queued == []
    _days_pass(document_id, DAYS - 1)
    assert ebox_fallback.send_unread_on_paper().queued == []
    _days_pass(document_id, DAYS)
    result = ebox_fallback.send_unread_on_paper()
    assert len(result.queued) == 1
    original, copy = _dispatches(document_id)
    assert copy.copy_of_id == original.id
    assert (copy.channel, copy.with_acknowledgement, copy.status) == (
        Channel.PAPER,
        False,
        DispatchStatus.QUEUED,
    )
    assert f"was na {DAYS} dagen nog niet gelezen" in copy.channel_reason
    assert "met de gewone post op papier" in copy.channel_reason
    assert original.register_number
    assert original.register_number in copy.channel_reason

    # Submitted by the ordinary submission job: the same signed PDF, behind a cover page.
    Worker("test-worker").run_pending()
    original, copy = _dispatches(document_id)
    assert copy.status is DispatchStatus.SUBMITTED
    assert copy.register_number
    assert copy.register_number.endswith("/000002")
    letter = magda.sandbox.messages[copy.external_message_id or ""]
    assert (letter.data["channel"], letter.data["deliveryMethod"]) == ("PAPER", "normal")
    with session_scope() as check:
        document = check.get(Document, document_id)
        assert document is not None
        pdf = get_storage().get(document.current_sha256)
    assert [a["fileName"] for a in letter.attachments] == ["voorblad.pdf", "besluit.pdf"]
    assert letter.attachments[1]["sha256"] == hashlib.sha256(pdf).hexdigest()
    first = magda.sandbox.messages[original.external_message_id or ""]
    assert first.attachments[0]["sha256"] == letter.attachments[1]["sha256"]

    # The letter is delivered; the document keeps its eBox delivery and legal sending date.
    dispatching.poll_statuses()
    original, copy = _dispatches(document_id)
    assert (original.status, copy.status) == (DispatchStatus.DELIVERED, DispatchStatus.DELIVERED)
    with session_scope() as check:
        document = check.get(Document, document_id)
        assert document is not None
        assert document.status is DocumentStatus.DELIVERED
        assert (document.legal_sending_date, document.sent_at) == (legal_date, sent_at)
        texts = [e.text for e in timeline.document_timeline(check, org.id, document_id)]
        assert any(t.startswith("Ook op papier verstuurd: Het eBox-bericht") for t in texts)
        delivery = dispatching.timeline(check, org.id, document_id)
        assert "gewone post (papieren kopie van het eBox-bericht)" in {e.channel for e in delivery}
        actions = check.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_id.in_([str(copy.id), str(document_id)])
            )
        ).all()
        assert actions.count("document.paper_copy_queued") == 1
        assert actions.count("dispatch.queued") == 1
        context = StaffContext(
            user_id=uuid.uuid4(),
            name="Secretariaat",
            organisation_id=org.id,
            organisation_name=org.name,
            roles=frozenset({StaffRole.SECRETARIAAT}),
            organisations=((org.id, org.name),),
        )
        rows = register.register_page(check, context, register.RegisterFilter()).rows
        assert [(r.channel, r.copy_of_id) for r in rows] == [
            (Channel.PAPER, original.id),
            (Channel.EBOX, None),
        ]

        # The register's daily totals followed every step exactly.
        assert register.daily_totals(check) == register.recount_daily_totals(check)
        assert sum(register.daily_totals(check).values()) == 2

    # Again, and again later: nothing more.
    _days_pass(document_id, DAYS * 3)
    assert ebox_fallback.send_unread_on_paper().queued == []
    assert _copies() == 1
    assert len(magda.sandbox.messages) == 2


def test_the_job_run_twice_or_at_the_same_time_still_sends_one_letter(
    session: Session, magda: Magda
) -> None:
    magda.sandbox.leave_unread(AN.ssin)
    org = factories.organisation(session)
    _policy(session, org, paper=PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT)
    document_id = _sent_to_ebox(session, org)
    _days_pass(document_id, DAYS + 2)

    results: list[ebox_fallback.FallbackResult] = []
    runs = [
        threading.Thread(target=lambda: results.append(ebox_fallback.send_unread_on_paper()))
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(len(r.queued) for r in results) == [0, 0, 1]
    # The periodic job itself, replayed under other keys: still one.
    with session_scope() as s:
        for n in range(2):
            jobs.enqueue(s, ebox_fallback.FALLBACK_JOB, key=f"replay-{n}")
    Worker("test-worker").run_pending()
    Worker("test-worker").run_pending()
    dispatches = _dispatches(document_id)
    assert len(dispatches) == 2
    copy = dispatches[1]
    assert (copy.channel, copy.with_acknowledgement) == (Channel.REGISTERED, True)
    assert "aangetekend met ontvangstbewijs op papier" in copy.channel_reason
    assert copy.status is DispatchStatus.SUBMITTED
    letters = [m for m in magda.sandbox.messages.values() if m.channel == "PAPER"]
    assert len(letters) == 1
    assert letters[0].registered


def test_without_a_postal_address_the_copy_fails_at_once_and_is_not_tried_again(
    session: Session, magda: Magda
) -> None:
    magda.sandbox.leave_unread(AN.ssin)
    org = factories.organisation(session)
    _policy(session, org)
    document_id = _sent_to_ebox(session, org, address=False)
    _days_pass(document_id, DAYS + 1)
    assert len(ebox_fallback.send_unread_on_paper().queued) == 1
    _, copy = _dispatches(document_id)
    assert copy.status is DispatchStatus.FAILED
    assert copy.failure_reason
    assert "geen volledig postadres" in copy.failure_reason
    assert ebox_fallback.send_unread_on_paper().queued == []
    Worker("test-worker").run_pending()
    assert len(magda.sandbox.messages) == 1
    with session_scope() as check:
        document = check.get(Document, document_id)
        assert document is not None
        assert document.status is DocumentStatus.DELIVERED


def test_when_magda_cannot_say_whether_it_was_read_no_paper_goes_yet(
    session: Session, magda: Magda
) -> None:
    magda.sandbox.leave_unread(AN.ssin)
    org = factories.organisation(session)
    _policy(session, org)
    document_id = _sent_to_ebox(session, org)
    _days_pass(document_id, DAYS + 1)
    magda.sandbox.fail_next("503", endpoint="statuses")
    refused = ebox_fallback.send_unread_on_paper()
    assert refused.errors
    assert refused.queued == []
    assert _copies() == 0
    assert len(ebox_fallback.send_unread_on_paper().queued) == 1


def test_only_types_and_organisations_with_the_option_get_paper(
    session: Session, magda: Magda
) -> None:
    magda.sandbox.leave_unread(AN.ssin)
    org = factories.organisation(session)
    other = factories.organisation(session, "Gemeente Buurdorp")
    _policy(session, org, document_type="tax_assessment")
    _policy(session, org, days=None, document_type="reminder")
    _policy(session, other)
    plain = _sent_to_ebox(session, org)  # college_decision: no option for this organisation
    reminder = _sent_to_ebox(session, org, document_type="reminder")
    for document_id in (plain, reminder):
        _days_pass(document_id, 300)
    assert ebox_fallback.send_unread_on_paper().checked == 0
    assert _copies() == 0
