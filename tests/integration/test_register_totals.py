"""The register's daily totals stay exactly what a recount of the dispatches gives: inserts,
status changes, a sending that moves a dispatch to another day, deletes, several flushes,
savepoints and rollbacks; and the overview read from them equals the overview counted from
the dispatches, across the change to summer time in Brussels."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.models import (
    Channel,
    Dispatch,
    DispatchStatus,
    Document,
    Organisation,
    RegisterDailyTotal,
    StaffRole,
)
from shared.models.register_totals import register_day
from shared.services import register
from shared.services.access import StaffContext
from tests import factories

TYPES = ("college_decision", "tax_assessment", "gas_fine")


def _document(session: Session, org: Organisation, document_type: str) -> Document:
    recipient = factories.citizen(session, org, ssin=f"{uuid.uuid4().int % 10**11:011d}")
    document = factories.document(session, org, recipient)
    document.document_type = document_type
    session.flush()
    return document


def _dispatch(
    session: Session,
    org: Organisation,
    *,
    document_type: str = "college_decision",
    channel: Channel = Channel.EBOX,
    status: DispatchStatus = DispatchStatus.QUEUED,
    numbered: bool = True,
    created_at: datetime | None = None,
    submitted_at: datetime | None = None,
    sequence: int | None = None,
) -> Dispatch:
    document = _document(session, org, document_type)
    dispatch = Dispatch(
        id=uuid.uuid4(),
        organisation_id=org.id,
        document_id=document.id,
        channel=channel,
        channel_reason="test",
        status=status,
        idempotency_key=uuid.uuid4().hex,
        register_year=2026 if numbered else None,
        register_sequence=(sequence or random.randrange(1, 10**8)) if numbered else None,
        submitted_at=submitted_at,
    )
    if created_at is not None:
        dispatch.created_at = created_at
    session.add(dispatch)
    session.flush()
    return dispatch


def _exact(session: Session) -> None:
    session.expire_all()
    stored = register.daily_totals(session)
    recount = register.recount_daily_totals(session)
    assert stored == recount, (sorted(stored.items()), sorted(recount.items()))


def test_inserts_changes_and_deletes_are_counted(session: Session) -> None:
    org = factories.organisation(session)
    unnumbered = _dispatch(session, org, numbered=False)
    queued = _dispatch(session, org, document_type="gas_fine")
    session.commit()
    _exact(session)
    stored = register.daily_totals(session, org.id)
    assert sum(stored.values()) == 1  # an unnumbered dispatch is not in the register

    # Numbered, then sent on another day (a dispatch counts on its sending day), then read.
    yesterday = datetime.now(UTC) - timedelta(days=1)
    queued.created_at = yesterday  # (never changes in the app; here to cross days)
    session.commit()
    _exact(session)
    queued.status = DispatchStatus.SUBMITTED
    queued.submitted_at = datetime.now(UTC)
    session.flush()
    queued.status = DispatchStatus.DELIVERED  # a second flush in the same transaction
    session.commit()
    _exact(session)
    unnumbered.register_year, unnumbered.register_sequence = 2026, 424242
    session.commit()
    _exact(session)
    assert sum(register.daily_totals(session, org.id).values()) == 2

    # An object whose attributes were expired still leaves its old key behind.
    session.expire_all()
    unnumbered.status = DispatchStatus.FAILED
    session.commit()
    _exact(session)

    session.delete(unnumbered)
    session.commit()
    _exact(session)
    assert sum(register.daily_totals(session, org.id).values()) == 1


def test_a_rollback_or_a_rolled_back_savepoint_leaves_no_trace(session: Session) -> None:
    org = factories.organisation(session)
    kept = _dispatch(session, org)
    session.commit()
    before = register.daily_totals(session)

    kept.status = DispatchStatus.SUBMITTED
    _dispatch(session, org)
    session.flush()
    session.rollback()
    _exact(session)
    assert register.daily_totals(session) == before

    kept.status = DispatchStatus.SUBMITTED
    savepoint = session.begin_nested()
    _dispatch(session, org, channel=Channel.PAPER)
    savepoint.rollback()
    with session.begin_nested():
        _dispatch(session, org, channel=Channel.REGISTERED)
    session.commit()
    _exact(session)
    channels = {key[2] for key in register.daily_totals(session)}
    assert channels == {"ebox", "registered"}


def test_random_work_in_many_transactions_stays_exact(session: Session) -> None:
    rng = random.Random(20261129)
    org = factories.organisation(session)
    other = factories.organisation(session, "Gemeente Buurdorp")
    session.commit()
    ids: list[uuid.UUID] = []
    start = datetime(2026, 3, 27, 20, 0, tzinfo=UTC)  # across the change to summer time
    for round_ in range(30):
        with session_scope() as work:
            for _ in range(rng.randrange(1, 6)):
                owner = rng.choice((org, other))
                action = rng.random()
                if action < 0.45 or not ids:
                    dispatch = _dispatch(
                        work,
                        work.get(Organisation, owner.id) or owner,
                        document_type=rng.choice(TYPES),
                        channel=rng.choice(list(Channel)),
                        numbered=rng.random() < 0.8,
                        created_at=start + timedelta(hours=rng.randrange(0, 96)),
                    )
                    ids.append(dispatch.id)
                    continue
                found = work.get(Dispatch, rng.choice(ids))
                if found is None:
                    continue
                if action < 0.8:
                    found.status = rng.choice(list(DispatchStatus))
                    if rng.random() < 0.5:
                        found.submitted_at = start + timedelta(minutes=rng.randrange(0, 96 * 60))
                elif action < 0.9:
                    found.register_year, found.register_sequence = 2026, rng.randrange(1, 10**8)
                else:
                    work.delete(found)
                    ids.remove(found.id)
                if rng.random() < 0.5:
                    work.flush()
            if round_ % 7 == 3:
                work.rollback()
    _exact(session)
    assert sum(register.daily_totals(session).values()) > 10


def test_rebuild_gives_the_recount(session: Session) -> None:
    org = factories.organisation(session)
    for _ in range(3):
        _dispatch(session, org)
    session.commit()
    session.execute(RegisterDailyTotal.__table__.delete())  # lost, e.g. after a bulk load
    session.commit()
    assert register.daily_totals(session) == {}
    assert register.rebuild_daily_totals(session) == 3
    session.commit()
    _exact(session)


def _context(org: Organisation) -> StaffContext:
    return StaffContext(
        user_id=uuid.uuid4(),
        name="Secretariaat",
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset({StaffRole.SECRETARIAAT}),
        organisations=((org.id, org.name),),
    )


@pytest.mark.parametrize(
    "wanted",
    [
        register.RegisterFilter(),
        register.RegisterFilter(date(2026, 3, 28), date(2026, 3, 29)),
        register.RegisterFilter(date(2026, 3, 29), date(2026, 3, 29)),
        register.RegisterFilter(date(2026, 1, 1), date(2026, 12, 31), Channel.PAPER),
        register.RegisterFilter(status=DispatchStatus.DELIVERED),
        register.RegisterFilter(document_type="gas_fine"),
        register.RegisterFilter(
            date(2026, 3, 1), date(2026, 4, 30), Channel.EBOX, DispatchStatus.READ, "tax_assessment"
        ),
    ],
)
def test_the_overview_from_the_totals_equals_the_count_of_the_dispatches(
    session: Session, wanted: register.RegisterFilter
) -> None:
    rng = random.Random(7)
    org = factories.organisation(session)
    other = factories.organisation(session, "Gemeente Buurdorp")
    edge = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 in Brussels, the night of the change
    for index in range(120):
        sent = edge + timedelta(minutes=37 * index - 2000)
        _dispatch(
            session,
            rng.choice((org, org, other)),
            document_type=rng.choice(TYPES),
            channel=rng.choice(list(Channel)),
            status=rng.choice(list(DispatchStatus)),
            created_at=sent - timedelta(minutes=10),
            submitted_at=None if rng.random() < 0.1 else sent,
        )
    session.commit()
    assert register_day(edge, edge) == date(2026, 3, 28)
    assert register_day(edge + timedelta(hours=1), edge) == date(2026, 3, 29)
    context = _context(org)
    chart_to = wanted.date_to or date(2026, 4, 30)
    edges = [wanted.date_from or date(2026, 1, 1), date(2026, 3, 29), chart_to + timedelta(days=1)]
    if wanted.date_from and wanted.date_from >= date(2026, 3, 29):
        edges = [wanted.date_from, chart_to + timedelta(days=1)]
    counted = register._from_dispatches(session, context, wanted, edges)
    summed = register._from_daily_totals(session, context, wanted, edges)
    assert summed == counted
    assert sum(count for count, _ in counted[0].values()) > 0 or wanted.status is not None
    full = register.overview(session, context, wanted)
    searched = register.overview(session, context, replace(wanted, search="Besluit"))
    assert [(t.channel, t.count, t.delivered) for t in full.totals] == [
        (t.channel, t.count, t.delivered) for t in searched.totals
    ]
    assert register.totals(session, context, wanted) == full.totals
    assert register.totals(session, context, replace(wanted, search="Besluit")) == searched.totals
    assert [(b.counts, b.delivered) for b in full.buckets] == [
        (b.counts, b.delivered) for b in searched.buckets
    ]
