"""Alembic environment: the URL comes from Zegel's settings (ZEGEL_DATABASE_URL)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

import shared.models  # noqa: F401 - registers every table
from shared.db import Base, UTCDateTime, get_engine

target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine().connect() as connection:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Zegel migrations run online only: zegel db upgrade")
run_migrations_online()
