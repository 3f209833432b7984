"""Durable background jobs: a transactional outbox in the database.

- `enqueue()` writes a job in the caller's transaction, so it exists exactly when the change
  that needs it is committed; its idempotency key makes a second enqueue a no-op.
- Workers `claim()` due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer)
  under a lease. A job whose worker died is claimed again once its lease has expired.
- A failing job is retried with exponential backoff up to `max_attempts`, then marked failed
  with its last error kept.
- Periodic jobs are ordinary jobs whose key names their time slot, so however many workers
  schedule them, each slot runs once.
Handlers must be idempotent: a job may run again after a crash between its effect and `done`.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, configure_mappers

from shared.config import get_settings
from shared.db import get_session_factory, session_scope, utcnow
from shared.logging import bound_request_id, current_request_id
from shared.models.jobs import Job, JobStatus

log = logging.getLogger("zegel.jobs")


@dataclass(frozen=True)
class JobContext:
    """What a handler knows about the job it runs."""

    id: uuid.UUID
    kind: str
    attempt: int
    organisation_id: uuid.UUID | None
    idempotency_key: str


Handler = Callable[[dict[str, Any], JobContext], None]


@dataclass(frozen=True)
class Periodic:
    kind: str
    every: timedelta
    payload: dict[str, Any] = field(default_factory=dict)


_handlers: dict[str, Handler] = {}
_periodic: dict[str, Periodic] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def periodic(kind: str, every: timedelta, payload: dict[str, Any] | None = None) -> None:
    """Run jobs of `kind` once per `every` (its handler must be registered too)."""
    _periodic[kind] = Periodic(kind, every, payload or {})


def registered_handlers() -> dict[str, Handler]:
    return dict(_handlers)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str,
    organisation_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job in the caller's transaction; return the existing job when `key` is known."""
    existing = session.scalars(select(Job).where(Job.idempotency_key == key)).one_or_none()
    if existing is not None:
        return existing
    job = Job(
        kind=kind,
        payload=payload or {},
        idempotency_key=key,
        organisation_id=organisation_id,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts or get_settings().job_max_attempts,
        request_id=current_request_id(),
        status=JobStatus.QUEUED,
        attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except SAIntegrityError:
        return session.scalars(select(Job).where(Job.idempotency_key == key)).one()
    return job


def backoff_delay(attempt: int) -> timedelta:
    """Exponential backoff after failed attempt number `attempt` (1-based), with 0-10% jitter."""
    settings = get_settings()
    seconds = min(
        settings.job_backoff_base_seconds * 2 ** (attempt - 1), settings.job_backoff_max_seconds
    )
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311 - jitter only


def count_jobs_by_status(session: Session) -> dict[str, int]:
    counts = {status.value: 0 for status in JobStatus}
    for status, count in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[JobStatus(status).value] = count
    return counts


def schedule_periodic(session: Session, now: datetime | None = None) -> None:
    """Make sure the current slot of every periodic job exists."""
    now = now or utcnow()
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    for item in _periodic.values():
        period = item.every.total_seconds()
        slot = int((now - epoch).total_seconds() // period)
        slot_start = epoch + timedelta(seconds=slot * period)
        enqueue(
            session,
            item.kind,
            item.payload,
            key=f"periodic:{item.kind}:{slot_start.isoformat()}",
            run_at=slot_start,
        )


@dataclass(frozen=True)
class ClaimedJob:
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    organisation_id: uuid.UUID | None
    idempotency_key: str
    request_id: str | None


def settle_worker_process() -> None:
    """Call once in a worker process when start-up is done (modules imported, handlers
    registered), before it runs jobs: configures the mappers and moves every object alive
    now into the garbage collector's permanent generation (`gc.freeze()`).

    A worker holds some 200,000 such objects (modules, SQLAlchemy mappers and compiled
    statements, templates) that live as long as the process. Without the freeze, each
    collection of the older generations walks all of them again while a job runs; submitting
    dispatches spent about a third of its CPU in the collector (bench/dispatch.py). Frozen
    objects are never collected, which costs nothing for objects that live as long as the
    process; garbage made by jobs is collected as before."""
    configure_mappers()
    gc.freeze()


class Worker:
    """Claims and runs due jobs. Several workers (threads or processes) may run at once."""

    def __init__(
        self,
        name: str | None = None,
        *,
        lease: timedelta | None = None,
        batch_size: int = 10,
        kinds: set[str] | None = None,
    ) -> None:
        settings = get_settings()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = lease or timedelta(seconds=settings.job_lease_seconds)
        self.batch_size = batch_size
        self.kinds = kinds
        self.poll_seconds = settings.worker_poll_seconds

    # -- claiming -------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[ClaimedJob]:
        now = utcnow()
        with session_scope() as session:
            due = or_(
                (Job.status == JobStatus.QUEUED) & (Job.run_at <= now),
                (Job.status == JobStatus.RUNNING) & (Job.lease_expires_at < now),
            )
            query = select(Job).where(due).order_by(Job.run_at).limit(limit or self.batch_size)
            if self.kinds is not None:
                query = query.where(Job.kind.in_(self.kinds))
            jobs = session.scalars(query.with_for_update(skip_locked=True)).all()
            claimed: list[ClaimedJob] = []
            for job in jobs:
                if job.status is JobStatus.RUNNING and job.attempts >= job.max_attempts:
                    # Its last worker died holding it, and it has no attempts left.
                    job.status = JobStatus.FAILED
                    job.finished_at = now
                    job.locked_by = None
                    job.lease_expires_at = None
                    job.last_error = (job.last_error or "") + "\nworker lost (lease expired)"
                    continue
                job.status = JobStatus.RUNNING
                job.attempts += 1
                job.locked_by = self.name
                job.lease_expires_at = now + self.lease
                job.started_at = now
                claimed.append(
                    ClaimedJob(
                        id=job.id,
                        kind=job.kind,
                        payload=dict(job.payload),
                        attempt=job.attempts,
                        max_attempts=job.max_attempts,
                        organisation_id=job.organisation_id,
                        idempotency_key=job.idempotency_key,
                        request_id=job.request_id,
                    )
                )
            return claimed

    # -- running --------------------------------------------------------------------------

    def _extend_lease(self, job_id: uuid.UUID) -> None:
        with session_scope() as session:
            session.execute(
                update(Job)
                .where(
                    Job.id == job_id, Job.locked_by == self.name, Job.status == JobStatus.RUNNING
                )
                .values(lease_expires_at=utcnow() + self.lease)
            )

    def _finish(self, job: ClaimedJob, error: str | None) -> None:
        now = utcnow()
        mine = (Job.id == job.id) & (Job.locked_by == self.name) & (Job.status == JobStatus.RUNNING)
        if error is None:
            values: dict[str, Any] = {"status": JobStatus.DONE, "last_error": None}
        elif job.attempt >= job.max_attempts:
            values = {"status": JobStatus.FAILED, "last_error": error}
        else:
            values = {
                "status": JobStatus.QUEUED,
                "last_error": error,
                "run_at": now + backoff_delay(job.attempt),
            }
        if values["status"] is not JobStatus.QUEUED:
            values["finished_at"] = now
        values.update(locked_by=None, lease_expires_at=None)
        session = get_session_factory()()
        try:
            result = session.execute(update(Job).where(mine).values(**values))
            session.commit()
        finally:
            session.close()
        if getattr(result, "rowcount", 1) == 0:
            log.warning("job %s finished after its lease was taken over", job.id)

    def run_job(self, job: ClaimedJob) -> None:
        run = _handlers.get(job.kind)
        context = JobContext(
            job.id, job.kind, job.attempt, job.organisation_id, job.idempotency_key
        )
        stop_heartbeat = threading.Event()

        def heartbeat() -> None:
            while not stop_heartbeat.wait(self.lease.total_seconds() / 3):
                self._extend_lease(job.id)

        beat = threading.Thread(target=heartbeat, daemon=True, name=f"lease-{job.id}")
        with bound_request_id(job.request_id):
            beat.start()
            try:
                if run is None:
                    raise LookupError(f"no handler registered for job kind {job.kind!r}")
                run(job.payload, context)
            except Exception as error:
                stop_heartbeat.set()
                beat.join()
                detail = "".join(traceback.format_exception_only(error)).strip()
                log.warning(
                    "job failed",
                    extra={"job_id": str(job.id), "kind": job.kind, "attempt": job.attempt},
                    exc_info=True,
                )
                self._finish(job, detail)
                return
            stop_heartbeat.set()
            beat.join()
            self._finish(job, None)

    def run_pending(self, limit: int | None = None) -> int:
        """Claim and run what is due now; return how many jobs ran."""
        ran = 0
        while True:
            jobs = self.claim(limit)
            for job in jobs:
                self.run_job(job)
            ran += len(jobs)
            if not jobs or (limit is not None and ran >= limit):
                return ran

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                if _periodic:
                    with session_scope() as session:
                        schedule_periodic(session)
                ran = self.run_pending()
            except Exception:
                log.exception("worker loop error")
                ran = 0
            if ran == 0:
                stop.wait(self.poll_seconds)
        log.info("worker stopped", extra={"worker": self.name})
