"""Sending documents: queueing, the submission job against the sandbox over HTTP, retries,
permanent refusals, gapless register numbers, and delivery tracking."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shared.db import session_scope, utcnow
from shared.errors import DomainError, InvalidInput, NotFound
from shared.integrations.magda import testdata
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Channel,
    DeliveryEvent,
    Dispatch,
    DispatchStatus,
    DisputeRight,
    Document,
    DocumentStatus,
    EboxStatus,
    Job,
    JobStatus,
    Organisation,
    Recipient,
    RecipientKind,
    RegisterConsultation,
    StaffRole,
)
from shared.protection import seal, ssin_digest
from shared.services import access_codes, audit, dispute_deadlines
from shared.services import dispatch as dispatching
from shared.services.dispatch import ChannelOverride
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories
from tests.integration.dispatch.conftest import Magda, ready_document

AN = testdata.person_by_key("an-janssens")
PIETER = testdata.person_by_key("pieter-de-smet")
LUC = testdata.person_by_key("luc-maes")


def _citizen(
    session: Session, org: Organisation, person: testdata.SandboxPerson, ebox: EboxStatus
) -> Recipient:
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(person.ssin),
        ssin_sealed=seal(person.ssin),
        name=person.name,
        street=person.address.street_line if person.address else None,
        postal_code=person.address.postal_code if person.address else None,
        city=person.address.municipality if person.address else None,
        ebox_status=ebox,
        ebox_checked_at=utcnow() if ebox is not EboxStatus.UNKNOWN else None,
        ebox_source="test" if ebox is not EboxStatus.UNKNOWN else None,
    )
    session.add(recipient)
    session.flush()
    return recipient


def _setup(session: Session) -> tuple[Organisation, audit.Actor, uuid.UUID]:
    org = factories.organisation(session)
    staff = factories.staff_member(session, org, [StaffRole.DOSSIERBEHANDELAAR])
    return org, audit.Actor.staff(staff.id, staff.name), staff.id


def _run_jobs() -> int:
    return Worker("test-worker").run_pending()


def _make_due() -> None:
    with session_scope() as session:
        session.execute(update(Job).where(Job.status == JobStatus.QUEUED).values(run_at=utcnow()))


def _dispatch(document_id: uuid.UUID) -> Dispatch:
    with session_scope() as session:
        found = session.scalars(
            select(Dispatch)
            .where(Dispatch.document_id == document_id)
            .order_by(Dispatch.attempt.desc())
        ).first()
        assert found is not None
        return found


def _document(document_id: uuid.UUID) -> Document:
    with session_scope() as session:
        found = session.get(Document, document_id)
        assert found is not None
        return found


def test_an_ebox_citizen_gets_one_message_with_a_register_number(
    session: Session, magda: Magda
) -> None:
    org, actor, staff_id = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    queued = dispatching.send_one(session, org.id, document.id, actor=actor, staff_user_id=staff_id)
    assert queued.channel is Channel.EBOX
    assert "eBox geactiveerd" in queued.channel_reason
    assert queued.status is DispatchStatus.QUEUED
    assert queued.register_number is None, "numbers are given at submission, not at queueing"
    session.commit()
    session.close()

    assert _run_jobs() == 1
    sent = _dispatch(document.id)
    assert sent.status is DispatchStatus.SUBMITTED
    assert sent.register_number == f"{today().year}/000001"
    assert sent.external_message_id in magda.sandbox.messages
    assert sent.correlation_id
    message = magda.sandbox.messages[sent.external_message_id or ""]
    assert message.idempotency_key == sent.idempotency_key
    assert message.data["recipient"] == {"name": AN.name, "eboxType": "citizen", "ssin": AN.ssin}
    assert message.data["reference"] == sent.register_number
    assert message.data["portalUrl"].endswith(f"/d/{document.public_token}")
    assert [a["fileName"] for a in message.attachments] == ["besluit.pdf"]
    after = _document(document.id)
    assert after.status is DocumentStatus.DISPATCHED
    assert after.legal_sending_date == today()
    assert after.sent_at is not None
    with session_scope() as check:
        kinds = check.scalars(select(DeliveryEvent.kind)).all()
        assert kinds == ["submitted"]
        actions = set(check.scalars(select(AuditEvent.action)))
        assert {"dispatch.queued", "dispatch.submitted", "document.dispatched"} <= actions


def test_paper_gets_a_cover_page_and_an_access_code(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(
        session, org, _citizen(session, org, PIETER, EboxStatus.NOT_ACTIVATED)
    )
    queued = dispatching.send_one(session, org.id, document.id, actor=actor)
    assert queued.channel is Channel.PAPER
    assert "Gewone post" in queued.channel_reason
    session.commit()
    session.close()
    _run_jobs()
    sent = _dispatch(document.id)
    message = magda.sandbox.messages[sent.external_message_id or ""]
    assert message.data["channel"] == "PAPER"
    assert message.data["deliveryMethod"] == "normal"
    assert message.data["recipient"]["postalAddress"]["postalCode"] == "9999"
    assert [a["fileName"] for a in message.attachments] == ["voorblad.pdf", "besluit.pdf"]
    pdf = get_storage().get(_document(document.id).current_sha256)
    assert message.attachments[1]["sha256"] == __import__("hashlib").sha256(pdf).hexdigest(), (
        "the signed PDF travels unaltered"
    )
    code = _document(document.id).access_code
    assert code is not None
    assert len(code) == 12
    assert access_codes.normalise(access_codes.display(code)) == code  # what /code accepts


def test_a_gas_fine_on_paper_goes_registered_and_its_attestation_is_kept(
    session: Session, magda: Magda
) -> None:
    org, actor, _ = _setup(session)
    recipient = _citizen(session, org, PIETER, EboxStatus.NOT_ACTIVATED)
    document = ready_document(session, org, recipient, document_type="gas_fine")
    queued = dispatching.send_one(session, org.id, document.id, actor=actor)
    assert queued.channel is Channel.REGISTERED
    assert "GAS-boete" in queued.channel_reason
    session.commit()
    session.close()
    _run_jobs()
    result = dispatching.poll_statuses()
    assert result.errors == []
    assert result.attestations == 1
    sent = _dispatch(document.id)
    assert sent.status is DispatchStatus.DELIVERED
    assert sent.delivered_at is not None
    assert sent.attestation_sha256 is not None
    assert get_storage().get(sent.attestation_sha256).startswith(b"%PDF-")
    assert _document(document.id).status is DocumentStatus.DELIVERED
    with session_scope() as check:
        kinds = check.scalars(
            select(DeliveryEvent.kind).order_by(
                DeliveryEvent.occurred_at, DeliveryEvent.recorded_at
            )
        ).all()
    assert kinds[0] == "submitted"
    assert set(kinds) == {"submitted", "printed", "posted", "delivered"}
    assert dispatching.poll_statuses().events == 0, "asking again adds nothing"


def test_statuses_progress_to_delivered_and_read(session: Session, magda: Magda) -> None:
    magda.sandbox.step_seconds = 0.2
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    session.close()
    _run_jobs()
    dispatching.poll_statuses()
    assert _dispatch(document.id).status is DispatchStatus.SUBMITTED
    import time

    time.sleep(0.25)
    dispatching.poll_statuses()
    assert _dispatch(document.id).status is DispatchStatus.DELIVERED
    assert _document(document.id).status is DocumentStatus.DELIVERED
    time.sleep(0.45)
    dispatching.poll_statuses()
    assert _dispatch(document.id).status is DispatchStatus.READ
    with session_scope() as check:
        entries = dispatching.timeline(check, org.id, document.id)
    assert [e.label for e in entries] == [
        "in wachtrij",
        "aangeboden aan de Documentendienst",
        "afgeleverd in de eBox",
        "gelezen",
    ]


def test_a_returned_letter_returns_the_document(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    recipient = _citizen(session, org, testdata.UNDELIVERABLE, EboxStatus.NOT_ACTIVATED)
    document = ready_document(session, org, recipient)
    dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    session.close()
    _run_jobs()
    dispatching.poll_statuses()
    assert _dispatch(document.id).status is DispatchStatus.RETURNED
    assert _document(document.id).status is DocumentStatus.RETURNED


def test_clicking_twice_queues_once_with_a_clear_message(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    with pytest.raises(DomainError) as raised:
        dispatching.send_one(session, org.id, document.id, actor=actor)
    assert raised.value.message == "‘Besluit over uw aanvraag’ wordt al verzonden (in wachtrij)."
    org_id, document_id = org.id, document.id
    session.rollback()
    session.close()
    _run_jobs()
    with session_scope() as again, pytest.raises(DomainError, match="al verzonden"):
        dispatching.send_one(again, org_id, document_id, actor=actor)
    assert magda.sandbox.stats()["messages"] == 1


def test_the_unique_attempt_stops_a_race_past_the_check(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    first = dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    # As if a second click had not seen the first dispatch: same attempt number.
    session.add(
        Dispatch(
            organisation_id=org.id,
            document_id=document.id,
            attempt=first.attempt,
            channel=Channel.EBOX,
            channel_reason="x",
            idempotency_key=uuid.uuid4().hex,
        )
    )
    with pytest.raises(SAIntegrityError):
        session.flush()


def test_documents_that_cannot_go_are_refused_with_reasons(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    an = _citizen(session, org, AN, EboxStatus.ACTIVATED)
    unsigned = ready_document(session, org, an, status=DocumentStatus.AWAITING_SIGNATURE)
    draft = ready_document(session, org, an, title="Ontwerp", status=DocumentStatus.DRAFT)
    homeless = _citizen(session, org, testdata.NO_ADDRESS, EboxStatus.NOT_ACTIVATED)
    no_address = ready_document(session, org, homeless, title="Brief")
    good = ready_document(session, org, an, title="Goed")
    other_org = factories.organisation(session, "Andere gemeente")
    foreign = ready_document(
        session, other_org, _citizen(session, other_org, AN, EboxStatus.ACTIVATED)
    )

    result = dispatching.send(
        session,
        org.id,
        [unsigned.id, draft.id, no_address.id, good.id, foreign.id],
        actor=actor,
    )
    assert [d.document_id for d in result.queued] == [good.id]
    reasons = {r.document_id: r.reason for r in result.refused}
    assert reasons[unsigned.id] == (
        "‘Besluit over uw aanvraag’ is nog niet ondertekend; het kan pas verzonden worden na de"
        " laatste handtekening."
    )
    assert reasons[draft.id] == (
        "‘Ontwerp’ is nog niet klaar voor verzending (het staat op ‘ontwerp’)."
    )
    assert reasons[no_address.id] == (
        "‘Brief’ kan niet op papier: voor Ward Zonder Adres is geen volledig postadres gekend."
        " Zoek het adres op in het rijksregister."
    )
    assert reasons[foreign.id] == "Dit document bestaat niet."
    with pytest.raises(NotFound):
        dispatching.send_one(session, org.id, foreign.id, actor=actor)


def test_staff_override_the_channel_with_a_reason_and_it_is_audited(
    session: Session, magda: Magda
) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    with pytest.raises(InvalidInput, match="reden"):
        dispatching.send_one(
            session, org.id, document.id, actor=actor, override=ChannelOverride(Channel.PAPER, " ")
        )
    queued = dispatching.send_one(
        session,
        org.id,
        document.id,
        actor=actor,
        override=ChannelOverride(Channel.REGISTERED, "Burger vroeg een aangetekende brief", True),
    )
    assert queued.channel is Channel.REGISTERED
    assert queued.with_acknowledgement
    assert queued.channel_overridden
    assert "Burger vroeg een aangetekende brief" in queued.channel_reason
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "dispatch.queued")).one()
    assert event.data["overridden"] is True
    assert event.actor_label == actor.label
    session.commit()
    session.close()
    _run_jobs()
    sent = _dispatch(document.id)
    message = magda.sandbox.messages[sent.external_message_id or ""]
    assert message.data["deliveryMethod"] == "registered"
    assert message.data["acknowledgementOfReceipt"] is True


def test_unknown_ebox_status_is_asked_at_submission_and_logged(
    session: Session, magda: Magda
) -> None:
    org, actor, staff_id = _setup(session)
    recipient = _citizen(session, org, AN, EboxStatus.UNKNOWN)
    document = ready_document(session, org, recipient)
    queued = dispatching.send_one(session, org.id, document.id, actor=actor, staff_user_id=staff_id)
    assert queued.channel is Channel.PAPER
    assert "nog niet gekend" in queued.channel_reason
    session.commit()
    session.close()
    _run_jobs()
    sent = _dispatch(document.id)
    assert sent.channel is Channel.EBOX
    assert "eBox geactiveerd" in sent.channel_reason
    with session_scope() as check:
        [consultation] = check.scalars(select(RegisterConsultation)).all()
        assert consultation.service == "citizenEboxConsents"
        assert consultation.staff_user_id == staff_id
        assert check.get(Recipient, recipient.id).ebox_status is EboxStatus.ACTIVATED  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["500", "503", "429", "timeout"])
def test_retryable_errors_are_retried_and_delivered_once(
    session: Session, magda: Magda, mode: str
) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    session.close()
    magda.sandbox.fail_next(mode, times=2)

    for _ in range(2):
        _run_jobs()
        with session_scope() as check:
            job = check.scalars(select(Job)).one()
            assert job.status is JobStatus.QUEUED, "backing off"
            assert "MagdaRetryableError" in (job.last_error or "")
        assert _dispatch(document.id).status is DispatchStatus.QUEUED
        _make_due()
    _run_jobs()
    sent = _dispatch(document.id)
    assert sent.status is DispatchStatus.SUBMITTED
    assert sent.register_number == f"{today().year}/000001", "the number was kept across retries"
    stats = magda.sandbox.stats()
    assert stats["messages"] == 1
    if mode == "timeout":
        assert stats["duplicates"] == 2, "the repeats got the first answer"


def test_a_permanent_refusal_fails_the_dispatch_with_the_reason(
    session: Session, magda: Magda
) -> None:
    org, actor, _ = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    dispatching.send_one(session, org.id, document.id, actor=actor)
    session.commit()
    session.close()
    magda.sandbox.fail_next("permanent")
    _run_jobs()
    failed = _dispatch(document.id)
    assert failed.status is DispatchStatus.FAILED
    assert failed.failure_reason == (
        "MAGDA weigerde de vraag: De zandbak weigert deze vraag (foutinjectie). (99001)"
    )
    assert failed.register_number == f"{today().year}/000001", "the number stays, failed"
    assert _document(document.id).status is DocumentStatus.READY
    with session_scope() as check:
        assert check.scalars(select(Job.status)).one() is JobStatus.DONE
        # it can be sent again: a second attempt with the next number
        again = dispatching.send_one(check, org.id, document.id, actor=actor)
        assert again.attempt == 2
    _run_jobs()
    resent = _dispatch(document.id)
    assert resent.status is DispatchStatus.SUBMITTED
    assert resent.register_number == f"{today().year}/000002"


def test_register_numbers_are_gapless_per_organisation_even_with_failures(
    session: Session, magda: Magda
) -> None:
    org, actor, _ = _setup(session)
    other = factories.organisation(session, "OCMW Testdorp")
    an = _citizen(session, org, AN, EboxStatus.ACTIVATED)
    documents = [ready_document(session, org, an, title=f"Besluit {n}") for n in range(5)]
    foreign = ready_document(session, other, _citizen(session, other, AN, EboxStatus.ACTIVATED))
    dispatching.send(session, org.id, [d.id for d in documents], actor=actor)
    dispatching.send(session, other.id, [foreign.id], actor=actor)
    session.commit()
    session.close()
    magda.sandbox.fail_next("permanent", times=2)
    _run_jobs()
    with session_scope() as check:
        rows = check.execute(
            select(Dispatch.register_sequence, Dispatch.status)
            .where(Dispatch.organisation_id == org.id)
            .order_by(Dispatch.register_sequence)
        ).all()
        assert [r.register_sequence for r in rows] == [1, 2, 3, 4, 5]
        assert sum(r.status is DispatchStatus.FAILED for r in rows) == 2
        assert (
            check.scalar(
                select(Dispatch.register_sequence).where(Dispatch.organisation_id == other.id)
            )
            == 1
        )


def test_the_documentendienst_down_for_an_hour_loses_nothing(
    session: Session, magda: Magda
) -> None:
    org, actor, _ = _setup(session)
    an = _citizen(session, org, AN, EboxStatus.ACTIVATED)
    documents = [ready_document(session, org, an, title=f"Besluit {n}") for n in range(3)]
    dispatching.send(session, org.id, [d.id for d in documents], actor=actor)
    session.commit()
    session.close()
    magda.sandbox.go_down(3600)
    for _ in range(8):  # eight rounds of backoff (10 s … 21 min): still down
        _run_jobs()
        _make_due()
    with session_scope() as check:
        assert set(check.scalars(select(Dispatch.status))) == {DispatchStatus.QUEUED}
        assert set(check.scalars(select(Job.status))) == {JobStatus.QUEUED}
    magda.sandbox.go_down(0)
    _run_jobs()
    with session_scope() as check:
        assert set(check.scalars(select(Dispatch.status))) == {DispatchStatus.SUBMITTED}
    assert magda.sandbox.stats()["messages"] == 3


def test_progress_counts_queued_sent_and_failed(session: Session, magda: Magda) -> None:
    org, actor, _ = _setup(session)
    an = _citizen(session, org, AN, EboxStatus.ACTIVATED)
    documents = [ready_document(session, org, an, title=f"Besluit {n}") for n in range(4)]
    result = dispatching.send(session, org.id, [d.id for d in documents], actor=actor)
    ids = [d.id for d in result.queued]
    assert dispatching.progress(session, org.id, ids) == dispatching.Progress(4, 0, 0)
    session.commit()
    session.close()
    magda.sandbox.fail_next("permanent")
    _run_jobs()
    with session_scope() as check:
        done = dispatching.progress(check, org.id, ids)
    assert done == dispatching.Progress(0, 3, 1)
    assert done.done


def test_jobs_handler_is_registered_and_periodic_poll_exists() -> None:
    from shared import jobs

    assert dispatching.SUBMIT_JOB in jobs.registered_handlers()
    assert dispatching.POLL_JOB in jobs.registered_handlers()
    assert dispatching.POLL_JOB in jobs._periodic


def test_counters_are_per_year(session: Session) -> None:
    org = factories.organisation(session)
    recipient = factories.citizen(session, org)
    document = factories.document(session, org, recipient)
    numbers = []
    for year in (2026, 2026, 2027):
        dispatch = Dispatch(
            organisation_id=org.id,
            document_id=document.id,
            attempt=len(numbers) + 1,
            channel=Channel.EBOX,
            channel_reason="test",
            idempotency_key=uuid.uuid4().hex,
        )
        session.add(dispatch)
        numbers.append(dispatching.assign_register_number(session, dispatch, year))
    assert numbers == ["2026/000001", "2026/000002", "2027/000001"]
    assert session.scalar(select(func.count()).select_from(Dispatch)) == 3


def test_a_sent_document_keeps_the_dispute_rule_it_was_sent_with(
    session: Session, magda: Magda
) -> None:
    org, actor, staff_id = _setup(session)
    document = ready_document(session, org, _citizen(session, org, AN, EboxStatus.ACTIVATED))
    document.dispute_right = DisputeRight.GAS_APPEAL
    dispatching.send_one(session, org.id, document.id, actor=actor, staff_user_id=staff_id)
    session.commit()
    session.close()
    assert _run_jobs() == 1

    with session_scope() as check:
        sent = check.get(Document, document.id)
        assert sent is not None
        assert sent.dispute_rule is not None
        assert sent.dispute_rule["months"] == 1  # the standard GAS term when it was sent
        before = dispute_deadlines.deadline_for(check, sent)
        assert before is not None
        # the organisation lengthens the term afterwards: this letter keeps its deadline
        dispute_deadlines.set_organisation_rules(
            check, org.id, {"gas_appeal": {"months": 3}}, actor=actor
        )
        after = dispute_deadlines.deadline_for(check, sent)
        assert after is not None
        assert after.last_day == before.last_day
        assert after.rule.months == 1
        later = ready_document(check, org, _citizen(check, org, PIETER, EboxStatus.ACTIVATED))
        later.dispute_right = DisputeRight.GAS_APPEAL
        unsent = dispute_deadlines.deadline_for(check, later)
        assert unsent is not None
        assert unsent.rule.months == 3  # not sent yet: today's rule
