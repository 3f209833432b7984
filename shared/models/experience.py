"""How citizens experienced a step of the digital flow: anonymous one-click ratings."""

from __future__ import annotations

import uuid
from enum import IntEnum, StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, IdMixin, enum_column


class ExperiencePhase(StrEnum):
    READ = "read"
    PAY = "pay"
    DISPUTE = "dispute"


class ExperienceScore(IntEnum):
    BAD = 1
    NEUTRAL = 2
    GOOD = 3


class ExperienceRating(IdMixin, Base):
    """One rating. Anonymous on purpose: it names the organisation and the step, never the
    citizen or the document (the month is enough to follow trends)."""

    __tablename__ = "experience_rating"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    phase: Mapped[ExperiencePhase] = mapped_column(enum_column(ExperiencePhase, "experience_phase"))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    month: Mapped[str] = mapped_column(String(7), index=True)
    """YYYY-MM in Brussels time; no finer timestamp is kept."""
