"""The audit chain detects a changed, an inserted and a deleted event."""

from __future__ import annotations

import uuid

from click.testing import CliRunner
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from shared.cli import main
from shared.models import AuditEvent, Organisation
from shared.services import audit
from shared.services.audit import verify_all
from tests import factories


def _chain(session: Session, events: int = 5) -> Organisation:
    org = factories.organisation(session)  # event #1
    for n in range(events - 1):
        audit.record(
            session,
            actor=factories.SYSTEM,
            organisation_id=org.id,
            action="test.step",
            object_type="document",
            object_id=uuid.uuid4(),
            data={"n": n, "bedrag": 1250, "tekst": "één"},
        )
    session.commit()
    return org


def _event(session: Session, org: Organisation, sequence: int) -> AuditEvent:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.chain_id == org.id, AuditEvent.sequence == sequence)
    ).one()


def _verify_cli(session: Session) -> tuple[int, str]:
    session.rollback()  # end the test's transaction: SQLite has one writer
    result = CliRunner().invoke(main, ["audit", "verify"])
    return result.exit_code, result.output


def test_an_untouched_chain_verifies(session: Session) -> None:
    _chain(session)
    _chain(session)
    assert verify_all(session) == []
    code, output = _verify_cli(session)
    assert code == 0, output
    assert "intact" in output


def test_a_changed_event_is_named(session: Session) -> None:
    org = _chain(session)
    target = _event(session, org, 3)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == target.id).values(actor_label="iemand anders")
    )
    session.commit()

    findings = verify_all(session)
    assert [(f.kind, f.sequence) for f in findings] == [("changed", 3)]
    code, output = _verify_cli(session)
    assert code == 1
    assert f"event #3 (id {target.id}" in output
    assert "was changed" in output


def test_a_deleted_event_is_named(session: Session) -> None:
    org = _chain(session)
    session.execute(
        text("DELETE FROM audit_event WHERE id = :id"), {"id": _event(session, org, 3).id}
    )
    session.commit()

    findings = verify_all(session)
    assert [(f.kind, f.sequence) for f in findings] == [("deleted", 4)]
    code, output = _verify_cli(session)
    assert code == 1
    assert "deleted between #2 and event #4" in output


def test_deleting_the_last_event_is_detected(session: Session) -> None:
    org = _chain(session)
    session.execute(
        text("DELETE FROM audit_event WHERE id = :id"), {"id": _event(session, org, 5).id}
    )
    session.commit()

    assert [(f.kind, f.sequence) for f in verify_all(session)] == [("deleted", 5)]


def test_an_inserted_event_is_named(session: Session) -> None:
    org = _chain(session)
    genuine = _event(session, org, 3)
    # Make room after #3 and slip a forged event in that claims to follow #3.
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.chain_id == org.id, AuditEvent.sequence > 3)
        .values(sequence=AuditEvent.sequence + 100)
    )
    forged = AuditEvent(
        chain_id=org.id,
        organisation_id=org.id,
        sequence=4,
        occurred_at=genuine.occurred_at,
        actor_type="staff",
        actor_id=None,
        actor_label="Vervalser",
        action="payment.refunded",
        object_type="payment",
        object_id=str(uuid.uuid4()),
        data={},
        previous_hash=genuine.hash,
        hash="f" * 64,
    )
    session.add(forged)
    session.commit()

    findings = verify_all(session)
    assert [(f.kind, f.event_id) for f in findings] == [("inserted", forged.id)]
    code, output = _verify_cli(session)
    assert code == 1
    assert "payment.refunded on payment) was inserted" in output


def test_an_event_appended_behind_the_head_is_inserted(session: Session) -> None:
    org = _chain(session)
    last = _event(session, org, 5)
    forged = AuditEvent(
        chain_id=org.id,
        organisation_id=org.id,
        sequence=6,
        occurred_at=last.occurred_at,
        actor_type="system",
        actor_label="x",
        action="document.dispatched",
        object_type="document",
        object_id="x",
        data={},
        previous_hash=last.hash,
        hash="e" * 64,
    )
    session.add(forged)
    session.commit()

    assert [(f.kind, f.sequence) for f in verify_all(session)] == [("inserted", 6)]


def test_chains_of_organisations_are_independent(session: Session) -> None:
    first, second = _chain(session), _chain(session)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == _event(session, first, 2).id).values(action="x")
    )
    session.commit()
    findings = verify_all(session)
    assert {f.chain_id for f in findings} == {first.id}
    assert second.id not in {f.chain_id for f in findings}
