"""Durable jobs: idempotent enqueue, exactly-once with concurrent workers, backoff, leases."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared import db, jobs
from shared.db import session_scope, utcnow
from shared.jobs import JobContext, Worker, enqueue, schedule_periodic
from shared.models import Job, JobStatus

RECORD = Path(os.environ.get("ZEGEL_STORAGE_PATH", "/tmp")).parent / "job-runs.txt"


@jobs.handler("test.record")
def _record(payload: dict[str, Any], context: JobContext) -> None:
    time.sleep(0.002)
    with open(payload["file"], "a") as handle:  # O_APPEND: lines from processes never mix
        handle.write(f"{context.id} {os.getpid()}\n")


@jobs.handler("test.fail")
def _fail(payload: dict[str, Any], context: JobContext) -> None:
    raise RuntimeError(f"MAGDA antwoordde 503 (poging {context.attempt})")


@jobs.handler("test.hang_first_time")
def _hang_first_time(payload: dict[str, Any], context: JobContext) -> None:
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)  # killed long before this ends
    Path(payload["done"]).write_text(f"attempt {context.attempt}")


def _job(session: Session, key: str) -> Job:
    return session.scalars(select(Job).where(Job.idempotency_key == key)).one()


def test_enqueue_is_idempotent_by_key(session: Session) -> None:
    first = enqueue(session, "test.record", {"file": "x"}, key="send:doc-1")
    second = enqueue(session, "test.record", {"file": "y"}, key="send:doc-1")
    session.commit()
    assert first.id == second.id
    assert session.scalar(select(func.count()).select_from(Job)) == 1
    assert _job(session, "send:doc-1").payload == {"file": "x"}


def test_a_job_exists_only_when_its_transaction_commits(session: Session) -> None:
    enqueue(session, "test.record", {}, key="rolled-back")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_job_runs_once_and_is_done(session: Session, tmp_path: Path) -> None:
    record = tmp_path / "runs.txt"
    enqueue(session, "test.record", {"file": str(record)}, key="one")
    session.commit()
    session.close()

    worker = Worker("w1")
    assert worker.run_pending() == 1
    assert worker.run_pending() == 0
    assert len(record.read_text().splitlines()) == 1
    with session_scope() as check:
        job = _job(check, "one")
        assert job.status is JobStatus.DONE
        assert job.attempts == 1
        assert job.finished_at is not None


def test_a_failing_job_backs_off_exponentially_then_fails(session: Session) -> None:
    enqueue(session, "test.fail", {}, key="failing", max_attempts=3)
    session.commit()
    session.close()
    worker = Worker("w1")
    base = db.get_settings().job_backoff_base_seconds

    for attempt in (1, 2):
        before = utcnow()
        assert worker.run_pending() == 1
        with session_scope() as check:
            job = _job(check, "failing")
            assert job.status is JobStatus.QUEUED
            assert job.attempts == attempt
            assert job.last_error == f"RuntimeError: MAGDA antwoordde 503 (poging {attempt})"
            delay = (job.run_at - before).total_seconds()
            expected = base * 2 ** (attempt - 1)
            assert expected <= delay <= expected * 1.1 + 1, (attempt, delay)
        assert worker.run_pending() == 0, "not due before its backoff has passed"
        with session_scope() as move:  # let the clock pass the backoff
            move.execute(
                update(Job).where(Job.idempotency_key == "failing").values(run_at=utcnow())
            )

    assert worker.run_pending() == 1
    with session_scope() as check:
        job = _job(check, "failing")
        assert job.status is JobStatus.FAILED
        assert job.attempts == 3
        assert job.last_error == "RuntimeError: MAGDA antwoordde 503 (poging 3)"
        assert job.finished_at is not None
    assert worker.run_pending() == 0


def _work_until_empty(name: str) -> None:
    db.after_fork()
    Worker(name, batch_size=5).run_pending()


def test_two_worker_processes_run_500_jobs_each_exactly_once(
    session: Session, tmp_path: Path
) -> None:
    record = tmp_path / "runs.txt"
    for n in range(500):
        enqueue(session, "test.record", {"file": str(record)}, key=f"bulk:{n}")
    session.commit()
    session.close()
    db.get_engine().dispose()

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_work_until_empty, args=(f"p{n}",)) for n in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=240)
        assert process.exitcode == 0

    lines = record.read_text().splitlines()
    job_ids = [line.split()[0] for line in lines]
    assert len(job_ids) == 500
    assert len(set(job_ids)) == 500, "a job ran twice"
    pids = {line.split()[1] for line in lines}
    assert pids == {str(p.pid) for p in workers}, "both workers took part"
    with session_scope() as check:
        statuses = dict(check.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        assert statuses == {JobStatus.DONE: 500}


def _hang(lease_seconds: int) -> None:
    db.after_fork()
    Worker("doomed", lease=timedelta(seconds=lease_seconds)).run_pending()


def test_a_job_whose_worker_is_killed_runs_again_after_its_lease(
    session: Session, tmp_path: Path
) -> None:
    marker, done = tmp_path / "started", tmp_path / "done"
    enqueue(
        session,
        "test.hang_first_time",
        {"marker": str(marker), "done": str(done)},
        key="hang",
    )
    session.commit()
    session.close()
    db.get_engine().dispose()

    lease = 2
    process = multiprocessing.get_context("fork").Process(target=_hang, args=(lease,))
    process.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the first worker never started the job"
        time.sleep(0.05)
    time.sleep(lease)  # its heartbeat keeps the lease alive while it lives
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join()

    rescuer = Worker("rescuer", lease=timedelta(seconds=lease))
    with session_scope() as check:
        job = _job(check, "hang")
        assert job.status is JobStatus.RUNNING
        assert job.locked_by == "doomed"
        assert job.lease_expires_at is not None
        assert job.lease_expires_at > utcnow(), "the heartbeat extended the lease"
    assert rescuer.run_pending() == 0, "a live lease is respected"

    deadline = time.monotonic() + 30
    while rescuer.run_pending() == 0:
        assert time.monotonic() < deadline, "the job was never taken over"
        time.sleep(0.2)
    assert done.read_text() == "attempt 2"
    with session_scope() as check:
        job = _job(check, "hang")
        assert job.status is JobStatus.DONE
        assert job.attempts == 2


def test_a_lost_job_without_attempts_left_is_failed(session: Session) -> None:
    enqueue(session, "test.record", {"file": "unused"}, key="lost", max_attempts=1)
    session.commit()
    session.execute(
        update(Job)
        .where(Job.idempotency_key == "lost")
        .values(
            status=JobStatus.RUNNING,
            attempts=1,
            locked_by="dead",
            lease_expires_at=utcnow() - timedelta(seconds=1),
        )
    )
    session.commit()
    session.close()
    assert Worker("w").run_pending() == 0
    with session_scope() as check:
        job = _job(check, "lost")
        assert job.status is JobStatus.FAILED
        assert job.last_error is not None
        assert "worker lost" in job.last_error


def test_unknown_kind_fails_with_a_clear_error(session: Session) -> None:
    enqueue(session, "nobody.handles.this", {}, key="orphan", max_attempts=1)
    session.commit()
    session.close()
    Worker("w").run_pending()
    with session_scope() as check:
        job = _job(check, "orphan")
        assert job.status is JobStatus.FAILED
        assert "no handler registered for job kind 'nobody.handles.this'" in (job.last_error or "")


def test_periodic_jobs_are_scheduled_once_per_slot(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "_periodic", {})
    jobs.periodic("test.record", timedelta(hours=1), {"file": "x"})
    # Five minutes into an hour: the minute later below stays in the same slot whatever the
    # clock says (with utcnow() the test failed in the last minute of every hour).
    now = utcnow().replace(minute=5, second=0, microsecond=0)
    schedule_periodic(session, now)
    schedule_periodic(session, now)  # a second worker in the same slot
    schedule_periodic(session, now + timedelta(minutes=1))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Job)) == 1
    schedule_periodic(session, now + timedelta(hours=1))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Job)) == 2


def test_count_by_status_for_metrics(session: Session) -> None:
    enqueue(session, "test.record", {}, key="a")
    enqueue(session, "test.record", {}, key="b")
    session.commit()
    assert jobs.count_jobs_by_status(session) == {
        "queued": 2,
        "running": 0,
        "done": 0,
        "failed": 0,
    }


@jobs.handler("test.request_id")
def _capture_request_id(payload: dict[str, Any], context: JobContext) -> None:
    from shared.logging import current_request_id

    Path(payload["file"]).write_text(current_request_id() or "none")


def test_the_request_id_of_the_enqueuing_request_is_carried_into_the_job(
    session: Session, tmp_path: Path
) -> None:
    from shared.logging import bound_request_id

    seen = tmp_path / "request-id"
    with bound_request_id("req-4711"):
        enqueue(session, "test.request_id", {"file": str(seen)}, key="rid")
    session.commit()
    session.close()
    Worker("w").run_pending()
    assert seen.read_text() == "req-4711"
