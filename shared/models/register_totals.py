"""Daily totals of the register of outgoing mail, kept exact in the transaction that changes a
dispatch.

`RegisterDailyTotal` counts the numbered dispatches per organisation, register day, channel,
status and document type. The register day is the Brussels date of the sending (or, for a
numbered dispatch never sent, of its queueing): the day the register's period filter uses.
The register's totals and chart (`shared.services.register.overview`) sum these rows instead
of counting a million dispatches.

**How it stays exact.** A session listener sees every flushed insert, change and delete of a
`Dispatch` (the old values come from the attribute history; the columns that decide the
counted key load their old value before a change, `active_history`) and notes +1 for the
dispatch's new key and -1 for its old one. The notes are kept per transaction (a savepoint
that rolls back takes its notes with it) and written just before the transaction commits,
summed per row and in a fixed order, as `count = count + n` upserts. Writing them last keeps
the row locks short (they are held only while the commit runs), and the fixed order means
two transactions never wait for each other in a circle. A rollback writes nothing.

The document type is read from the document when the notes are written; it is fixed when
a document is registered (nothing changes it afterwards, and nothing may once the document
has a numbered dispatch without counting its dispatches again).

Writes that bypass the unit of work — bulk `insert(Dispatch)` with a list, `update(Dispatch)`
statements on these columns, raw SQL — are not seen: the code that does so (test data, the
register bench) calls `shared.services.register.rebuild_daily_totals()` afterwards, which
also serves to check the totals against a recount.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, String, Table, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, PassiveFlag, Session, SessionTransaction, mapped_column
from sqlalchemy.orm.attributes import get_history

from shared.db import Base
from shared.models.dispatch import Channel, Dispatch, DispatchStatus
from shared.models.documents import Document
from shared.timeutil import BRUSSELS


class RegisterDailyTotal(Base):
    """How many numbered dispatches an organisation's register holds per day, channel,
    status and document type."""

    __tablename__ = "register_daily_total"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisation.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


def register_day(submitted_at: datetime | None, created_at: datetime) -> date:
    """The day a dispatch counts in the register: sent, or (never sent) queued, in Brussels."""
    return (submitted_at or created_at).astimezone(BRUSSELS).date()


_Key = tuple[uuid.UUID, date, str, str, uuid.UUID]
"""organisation, day, channel, status, document (its type is looked up when written)."""
_NOTES = "zegel.register_totals"


def _value(value: Any) -> str:
    return value.value if isinstance(value, Channel | DispatchStatus) else str(value)


def _key(values: dict[str, Any]) -> _Key | None:
    if values["register_year"] is None or values["created_at"] is None:
        return None
    return (
        values["organisation_id"],
        register_day(values["submitted_at"], values["created_at"]),
        _value(values["channel"]),
        _value(values["status"]),
        values["document_id"],
    )


_FIELDS = (
    "organisation_id",
    "document_id",
    "register_year",
    "submitted_at",
    "created_at",
    "channel",
    "status",
)


def _current(dispatch: Dispatch) -> dict[str, Any]:
    return {name: getattr(dispatch, name) for name in _FIELDS}


def _previous(dispatch: Dispatch) -> dict[str, Any]:
    # `get_history` reads one attribute's history; `inspect(dispatch).attrs` would first build
    # an AttributeState for every mapped attribute of the dispatch (a cost on each flush).
    values = {}
    for name in _FIELDS:
        history = get_history(dispatch, name, passive=PassiveFlag.PASSIVE_NO_INITIALIZE)
        if history.deleted:
            values[name] = history.deleted[0]
        elif history.added:
            values[name] = None  # set where it was None (its old value is always loaded)
        else:
            values[name] = getattr(dispatch, name)  # unchanged
    return values


def _notes(session: Session) -> dict[SessionTransaction, Counter[_Key]]:
    notes: dict[SessionTransaction, Counter[_Key]] = session.info.setdefault(_NOTES, {})
    return notes


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    changes: Counter[_Key] = Counter()
    for obj in session.new:
        if isinstance(obj, Dispatch) and (key := _key(_current(obj))) is not None:
            changes[key] += 1
    for obj in session.dirty:
        if isinstance(obj, Dispatch) and session.is_modified(obj, include_collections=False):
            old, new = _key(_previous(obj)), _key(_current(obj))
            if old != new:
                if old is not None:
                    changes[old] -= 1
                if new is not None:
                    changes[new] += 1
    for obj in session.deleted:
        if isinstance(obj, Dispatch) and (key := _key(_previous(obj))) is not None:
            changes[key] -= 1
    if changes:
        transaction = session.get_nested_transaction() or session.get_transaction()
        assert transaction is not None
        notes = _notes(session).setdefault(transaction, Counter())
        notes.update(changes)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    notes = session.info.get(_NOTES)
    if not notes:
        return
    for transaction in list(notes):
        current: SessionTransaction | None = transaction
        while current is not None:
            if current is previous_transaction:
                del notes[transaction]
                break
            current = current.parent


@event.listens_for(Session, "before_commit")
def _write_totals(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released: its notes wait for the outer commit
    session.flush()
    notes = session.info.pop(_NOTES, None)
    if not notes:
        return
    summed: Counter[_Key] = Counter()
    for changes in notes.values():
        summed.update(changes)
    write_changes(session, summed)


def write_changes(session: Session, changes: Counter[_Key]) -> None:
    """Add `changes` (by organisation, day, channel, status and document) to the totals."""
    changes = Counter({key: n for key, n in changes.items() if n})
    if not changes:
        return
    documents = {key[4] for key in changes}
    types = dict(
        session.execute(
            select(Document.id, Document.document_type).where(Document.id.in_(documents))
        ).all()
    )
    rows: Counter[tuple[uuid.UUID, date, str, str, str]] = Counter()
    for (organisation_id, day, channel, status, document_id), n in changes.items():
        rows[(organisation_id, day, channel, status, types.get(document_id, ""))] += n
    add_counts(session, rows)


def add_counts(session: Session, rows: Counter[tuple[uuid.UUID, date, str, str, str]]) -> None:
    """`count = count + n` for each (organisation, day, channel, status, type), in key order."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = RegisterDailyTotal.__table__
    assert isinstance(table, Table)
    for (organisation_id, day, channel, status, document_type), n in sorted(
        rows.items(), key=lambda item: (str(item[0][0]), *item[0][1:])
    ):
        if not n:
            continue
        statement = insert(table).values(
            organisation_id=organisation_id,
            day=day,
            channel=channel,
            status=status,
            document_type=document_type,
            count=n,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    table.c.organisation_id,
                    table.c.day,
                    table.c.channel,
                    table.c.status,
                    table.c.document_type,
                ],
                set_={"count": table.c.count + n},
            )
        )
