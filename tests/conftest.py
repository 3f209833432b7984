"""Test set-up: one migrated database per run, emptied after every test.

SQLite (a file in a temporary folder) by default; PostgreSQL when DATABASE_URL points to one.
The database DATABASE_URL names is wiped at the start of the run: give the suite its own.

On SQLite every transaction takes the write lock when it begins (BEGIN IMMEDIATE, see
shared/db.py), so a test ends its own transaction (commit or rollback) before it makes a
request to an app or runs a worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

_run_dir = Path(tempfile.mkdtemp(prefix="zegel-tests-"))
os.environ["ZEGEL_ENV"] = "test"
os.environ["ZEGEL_DATABASE_URL"] = (
    os.environ.get("DATABASE_URL") or f"sqlite:///{_run_dir}/zegel.db"
)
os.environ["ZEGEL_STORAGE_PATH"] = str(_run_dir / "files")
os.environ["ZEGEL_DEV_PKI_PATH"] = str(_run_dir / "pki")
os.environ["ZEGEL_LOG_JSON"] = "true"
os.environ.setdefault("ZEGEL_JOB_BACKOFF_BASE_SECONDS", "10")

from shared import db  # noqa: E402 - the environment above must come first
from shared.db import Base  # noqa: E402
from shared.migrate import upgrade_database  # noqa: E402


def _wipe(engine_url_is_sqlite: bool) -> None:
    engine = db.get_engine()
    with engine.begin() as connection:
        if engine_url_is_sqlite:
            Base.metadata.drop_all(connection)
        else:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[str]:
    """Migrate the test database once per run with the real migrations."""
    db.reset_caches()
    settings = db.get_settings()
    _wipe(settings.is_sqlite)
    upgrade_database()
    yield settings.database_url
    db.reset_caches()
    shutil.rmtree(_run_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _empty_tables(database: str) -> Iterator[None]:
    yield
    engine = db.get_engine()
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def session() -> Iterator[Session]:
    s = db.get_session_factory()()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def is_postgres(database: str) -> bool:
    return database.startswith("postgresql")
