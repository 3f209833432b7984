"""The crash test of issue 5: 1,000 documents are dispatched while worker processes are killed
with SIGKILL several times and restarted. Afterwards the sandbox holds exactly 1,000 distinct
messages, the register 1,000 gapless numbers, and every dispatch is submitted.

Runs on both databases (SQLite survives a killed writer: its locks die with the process)."""

from __future__ import annotations

import multiprocessing
import os
import secrets
import signal
import time
import uuid
from datetime import timedelta
from multiprocessing.process import BaseProcess

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from shared import db
from shared.db import session_scope, utcnow
from shared.jobs import Worker, settle_worker_process
from shared.models import (
    Dispatch,
    DispatchStatus,
    Document,
    DocumentStatus,
    EboxStatus,
    Job,
    JobStatus,
    Recipient,
    RecipientKind,
    StaffRole,
)
from shared.protection import seal, ssin_digest
from shared.services import audit, register
from shared.services import dispatch as dispatching
from shared.storage import get_storage
from shared.timeutil import today
from tests import factories
from tests.integration.dispatch.conftest import SMALL_PDF, Magda

COUNT = 1000
KILLS = 5
LEASE_SECONDS = 2


def _work(name: str) -> None:
    db.after_fork()
    settle_worker_process()  # as `zegel worker` does after start-up
    worker = Worker(name, lease=timedelta(seconds=LEASE_SECONDS), batch_size=5)
    while True:
        if worker.run_pending() == 0:
            time.sleep(0.05)


def _start(context: multiprocessing.context.BaseContext, name: str) -> BaseProcess:
    process = context.Process(target=_work, args=(name,), daemon=True)  # type: ignore[attr-defined]
    process.start()
    return process


def _submitted() -> int:
    with session_scope() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Dispatch)
                .where(Dispatch.status == DispatchStatus.SUBMITTED)
            )
            or 0
        )


def test_killed_workers_neither_lose_nor_double_a_letter(session: Session, magda: Magda) -> None:
    started = time.monotonic()
    org = factories.organisation(session)
    staff = factories.staff_member(session, org, [StaffRole.DOSSIERBEHANDELAAR])
    person = magda.sandbox.people[next(iter(magda.sandbox.people))]
    recipient = Recipient(
        id=uuid.uuid4(),
        organisation_id=org.id,
        kind=RecipientKind.CITIZEN,
        ssin_digest=ssin_digest(person.ssin),
        ssin_sealed=seal(person.ssin),
        name=person.name,
        ebox_status=EboxStatus.ACTIVATED,
        ebox_checked_at=utcnow(),
    )
    session.add(recipient)
    sha256 = get_storage().put(SMALL_PDF)
    ids = [uuid.uuid4() for _ in range(COUNT)]
    session.execute(
        insert(Document),
        [
            {
                "id": document_id,
                "organisation_id": org.id,
                "recipient_id": recipient.id,
                "document_type": "college_decision",
                "title": f"Besluit {n}",
                "status": DocumentStatus.READY,
                "file_name": "besluit.pdf",
                "original_sha256": sha256,
                "current_sha256": sha256,
                "public_token": secrets.token_urlsafe(32),
            }
            for n, document_id in enumerate(ids)
        ],
    )
    result = dispatching.send(
        session, org.id, ids, actor=audit.Actor.staff(staff.id, staff.name), staff_user_id=staff.id
    )
    assert len(result.queued) == COUNT
    assert result.refused == []
    session.commit()
    session.close()
    db.get_engine().dispose()

    context = multiprocessing.get_context("fork")
    workers = [_start(context, f"w{n}") for n in range(2)]
    kills = 0
    try:
        deadline = time.monotonic() + 120
        for kill in range(KILLS):
            # Kill at evenly spread points of progress, so every kill hits work in flight.
            threshold = COUNT * (kill + 1) // (KILLS + 2)
            while _submitted() < threshold:
                assert time.monotonic() < deadline, f"only {_submitted()} of {COUNT} submitted"
                time.sleep(0.05)
            index = kill % len(workers)
            victim = workers[index]
            assert victim.pid is not None
            os.kill(victim.pid, signal.SIGKILL)
            victim.join()
            kills += 1
            workers[index] = _start(context, f"w-restart-{kill}")
        while _submitted() < COUNT:
            assert time.monotonic() < deadline, f"only {_submitted()} of {COUNT} submitted"
            time.sleep(0.2)
    finally:
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGKILL)
                process.join()

    stats = magda.sandbox.stats()
    assert stats["messages"] == COUNT, stats
    assert stats["distinctIdempotencyKeys"] == COUNT
    with session_scope() as check:
        rows = check.execute(
            select(
                Dispatch.status,
                Dispatch.register_year,
                Dispatch.register_sequence,
                Dispatch.external_message_id,
            ).where(Dispatch.organisation_id == org.id)
        ).all()
        assert len(rows) == COUNT
        assert {r.status for r in rows} == {DispatchStatus.SUBMITTED}
        assert {r.register_year for r in rows} == {today().year}
        assert sorted(r.register_sequence for r in rows) == list(range(1, COUNT + 1))
        message_ids = {r.external_message_id for r in rows}
        assert message_ids == set(magda.sandbox.messages)
        documents = check.scalars(
            select(Document.status).where(Document.organisation_id == org.id)
        ).all()
        assert set(documents) == {DocumentStatus.DISPATCHED}
        # Killed mid-transaction or not, the register's daily totals count what committed.
        assert register.daily_totals(check) == register.recount_daily_totals(check)
        assert sum(register.daily_totals(check, org.id).values()) == COUNT
        jobs = dict(
            check.execute(select(Job.status, func.count()).group_by(Job.status)).all()  # type: ignore[arg-type]
        )
    # A job whose worker died mid-run may still be waiting for its lease; its dispatch is done.
    assert set(jobs) <= {JobStatus.DONE, JobStatus.RUNNING, JobStatus.QUEUED}
    print(  # shown with -s: how many repeats the kills caused
        f"\ncrash test: {COUNT} dispatches, {kills} kills, {stats['duplicates']} replays,"
        f" {time.monotonic() - started:.1f} s"
    )
