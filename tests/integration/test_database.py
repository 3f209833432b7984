"""The database runs as designed: SQLite as a WAL file with foreign keys, or PostgreSQL 15+."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models import Document, Job
from tests import factories


def test_backend_is_configured_as_designed(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    else:
        assert dialect == "postgresql"
        version = session.execute(text("SHOW server_version_num")).scalar()
        assert int(str(version)) >= 150000
        assert session.get_bind().dialect.driver == "psycopg"


def test_foreign_keys_are_enforced(session: Session) -> None:
    org = factories.organisation(session)
    session.add(
        Document(
            organisation_id=org.id,
            recipient_id=uuid.uuid4(),  # no such recipient
            document_type="x",
            title="x",
            file_name="x.pdf",
            original_sha256="0" * 64,
            current_sha256="0" * 64,
            public_token=uuid.uuid4().hex,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_timestamps_come_back_timezone_aware_utc(session: Session) -> None:
    brussels_noon = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    job = Job(kind="x", idempotency_key="tz", max_attempts=1, run_at=brussels_noon)
    session.add(job)
    session.commit()
    session.expire_all()
    stored = session.get(Job, job.id)
    assert stored is not None
    assert stored.run_at == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert stored.run_at.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(
        Job(kind="x", idempotency_key="naive", max_attempts=1, run_at=datetime(2026, 1, 1))  # noqa: DTZ001
    )
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()
