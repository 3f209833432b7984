"""Time: timezone-aware UTC in the database, Europe/Brussels for legal dates and on screen."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Belgium (what a letter's date and a legal deadline count from)."""
    return datetime.now(BRUSSELS).date()
