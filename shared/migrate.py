"""Run Alembic migrations from code (the CLI's `db upgrade`, the demo and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db import get_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def upgrade_database(revision: str = "head") -> None:
    config = alembic_config()
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_database_schema() -> None:
    """Raise when the models and the migrated schema differ (alembic check)."""
    config = alembic_config()
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)
