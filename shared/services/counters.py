"""Gapless numbers per organisation and year (register numbers, dispute numbers).

A counter is a row (organisation, year, last_sequence) of its own table. `lock_year()` returns
the row for the year locked until the transaction ends (`SELECT … FOR UPDATE`; SQLite has a
single writer), creating it first when the year has none — two transactions opening the same
year at once both end up with the one row. The caller takes the next number and writes it in the
same transaction, so a number exists exactly when the thing it numbers does.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.models.dispatch import RegisterCounter
from shared.models.disputes import DisputeCounter

C = TypeVar("C", RegisterCounter, DisputeCounter)


def lock_year(session: Session, model: type[C], organisation_id: uuid.UUID, year: int) -> C:
    """The organisation's counter row of `model` for `year`, locked until the transaction ends."""
    query = (
        select(model)
        .where(model.organisation_id == organisation_id, model.year == year)
        .with_for_update()
    )
    counter = session.scalars(query).one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(model(organisation_id=organisation_id, year=year, last_sequence=0))
        except IntegrityError:
            pass  # another transaction opened this year first
        counter = session.scalars(query).one()
    return counter
