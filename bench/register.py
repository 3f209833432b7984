"""The register of outgoing mail with a million rows: page queries and a full CSV export.

    ZEGEL_DATABASE_URL=postgresql://postgres@127.0.0.1/bench_register \\
        .venv/bin/python bench/register.py [N=1000000] [--keep] [--no-export]

Migrates the database, creates one organisation (plus a second one with 5 % as many rows, so
that every query must scope) and fills N numbered dispatches over four years — each with its
own document, recipient names from a small pool, channels ~60 % eBox / 30 % paper / 10 %
registered, statuses mostly delivered — with SQLAlchemy core in batches. `--keep` reuses the
rows of an earlier run when the bench organisation already has N of them; `--no-export`
leaves out the (slow) CSV exports.

Then it times typical page queries through `shared.services.register.register_page()` (first
page, a deep page by keyset, each filter alone and combined, search by number, name and title),
each several times, and prints their p50/p95; then the totals per channel alone (`totals()`)
and the overview (totals and the chart, `overview()`), both read from the daily totals
(`RegisterDailyTotal`, counted again with `rebuild_daily_totals()` after the bulk fill, which
bypasses the unit of work, and checked against a recount); then a full CSV export of all N
rows through the streaming generator `export_csv()`, with its time and the peak of Python
memory (tracemalloc) compared with a 10,000-row export: flat memory means streaming works.
The last line is `p95_ms: N`, the p95 over all page queries. PostgreSQL only: SQLite is refused.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 20_000
YEARS = (2023, 2024, 2025, 2026)
SURNAMES = (
    *("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens"),
    *("Wouters", "De Smet", "Dubois", "Lambert", "Dupont", "Martens", "Hermans", "Leclercq"),
    *("Vermeulen", "Van Damme", "Pauwels", "Declercq"),
)
GIVEN = (
    *("Jan", "An", "Luc", "Marie", "Pieter", "Els", "Tom", "Sofie", "Koen", "Lotte", "Bart"),
    *("Nele", "Wim", "Ine", "Dirk", "Lien"),
)
TYPES = (
    ("college_decision", 50),
    ("tax_assessment", 30),
    ("reminder", 12),
    ("gas_fine", 5),
    ("dispute_answer", 3),
)
TITLES = {
    "college_decision": "Beslissing van het college over uw aanvraag {n}",
    "tax_assessment": "Aanslagbiljet belasting op tweede verblijven {n}",
    "reminder": "Herinnering betaling {n}",
    "gas_fine": "GAS-boete dossier {n}",
    "dispute_answer": "Beslissing over uw bezwaar {n}",
}


def _refuse_sqlite() -> str:
    url = os.environ.get("ZEGEL_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit(
            "bench/register.py measures PostgreSQL (production) with a million rows; "
            "set ZEGEL_DATABASE_URL=postgresql://… to a scratch database (SQLite is refused)."
        )
    return url


def fill(org_id: uuid.UUID, count: int, seed: int) -> None:
    """`count` numbered dispatches with their documents and recipients, in batches."""
    from sqlalchemy import insert

    from shared.db import get_engine
    from shared.models import Dispatch, Document, Recipient

    rng = random.Random(seed)
    engine = get_engine()
    per_year = -(-count // len(YEARS))
    recipients = [uuid.uuid4() for _ in range(2000)]
    names = [f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}" for _ in recipients]
    type_names = [t for t, _ in TYPES]
    type_weights = [w for _, w in TYPES]
    with engine.begin() as connection:
        connection.execute(
            insert(Recipient),
            [
                {
                    "id": rid,
                    "organisation_id": org_id,
                    "kind": "citizen",
                    "ssin_digest": uuid.uuid4().hex,
                    "ssin_sealed": "bench",
                    "name": name,
                    "country": "BE",
                    "ebox_status": "unknown",
                }
                for rid, name in zip(recipients, names, strict=True)
            ],
        )
    made = 0
    started = time.perf_counter()
    while made < count:
        documents, dispatches = [], []
        for _ in range(min(BATCH, count - made)):
            year = YEARS[made // per_year]
            sequence = made % per_year + 1
            start = datetime(year, 1, 1, 7, tzinfo=UTC)
            sent = start + timedelta(seconds=int(sequence * (365 * 86400 * 0.98) / per_year))
            who = rng.randrange(len(recipients))
            kind = rng.choices(type_names, type_weights)[0]
            channel = rng.choices(("ebox", "paper", "registered"), (60, 30, 10))[0]
            roll = rng.random()
            failed = roll < 0.01
            status = (
                "failed"
                if failed
                else "returned"
                if roll < 0.02
                else ("read" if channel == "ebox" and roll < 0.5 else "delivered")
                if roll < 0.97 or year < 2026
                else ("submitted" if channel == "ebox" else "posted")
            )
            document_id = uuid.uuid4()
            documents.append(
                {
                    "id": document_id,
                    "organisation_id": org_id,
                    "recipient_id": recipients[who],
                    "document_type": kind,
                    "title": TITLES[kind].format(n=rng.randrange(100_000)),
                    "status": "delivered",
                    "file_name": "besluit.pdf",
                    "original_sha256": "0" * 64,
                    "current_sha256": "0" * 64,
                    "public_token": uuid.uuid4().hex,
                    "dispute_right": "none",
                    "created_at": sent,
                    "updated_at": sent,
                }
            )
            dispatches.append(
                {
                    "id": uuid.uuid4(),
                    "organisation_id": org_id,
                    "document_id": document_id,
                    "attempt": 1,
                    "recipient_name": names[who],
                    "requested_by_label": "bench",
                    "channel": channel,
                    "with_acknowledgement": channel == "registered" and roll < 0.5,
                    "channel_reason": "bench",
                    "channel_overridden": False,
                    "status": status,
                    "idempotency_key": uuid.uuid4().hex,
                    "register_year": year,
                    "register_sequence": sequence,
                    "submitted_at": None if failed else sent,
                    "delivered_at": sent + timedelta(hours=30)
                    if status in ("delivered", "read", "returned")
                    else None,
                    "failure_reason": "Adres onbekend" if failed else None,
                    "created_at": sent - timedelta(minutes=3),
                    "updated_at": sent,
                }
            )
            made += 1
        with engine.begin() as connection:
            connection.execute(insert(Document), documents)
            connection.execute(insert(Dispatch), dispatches)
        rate = made / (time.perf_counter() - started)
        print(f"\r  filled {made:,}/{count:,} ({rate:,.0f} rows/s)", end="", flush=True)
    print()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    _refuse_sqlite()
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keep = "--keep" in sys.argv
    count = int(args[0]) if args else 1_000_000

    from sqlalchemy import func, select, text

    from shared.db import get_engine, session_scope
    from shared.migrate import upgrade_database
    from shared.models import Dispatch, Organisation, OrganisationKind, StaffRole
    from shared.services import audit, register
    from shared.services.access import StaffContext
    from shared.services.organisations import create_organisation

    upgrade_database()
    slug = f"bench-register-{count}"
    with session_scope() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == slug)).first()
        have = 0
        if org is not None:
            have = (
                session.scalar(select(func.count()).where(Dispatch.organisation_id == org.id)) or 0
            )
        if org is None or not keep or have != count:
            if org is not None:
                slug = f"{slug}-{uuid.uuid4().hex[:6]}"
            actor = audit.Actor.system("bench")
            org = create_organisation(
                session,
                name="Gemeente Bench",
                kind=OrganisationKind.GEMEENTE,
                slug=slug,
                actor=actor,
            )
            other = create_organisation(
                session,
                name="Gemeente Buur",
                kind=OrganisationKind.GEMEENTE,
                slug=f"{slug}-buur",
                actor=actor,
            )
            have = 0
        org_id, org_name = org.id, org.name
    if have != count:
        print(f"Filling {count:,} register rows (and {count // 20:,} of a neighbour)...")
        fill(org_id, count, seed=1)
        fill(other.id, count // 20, seed=2)
        t = time.perf_counter()
        with session_scope() as session:
            counted = register.rebuild_daily_totals(session, org_id)
            counted += register.rebuild_daily_totals(session, other.id)
        print(
            f"  daily totals counted again from {counted:,} rows in {time.perf_counter() - t:.1f} s"
        )
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE dispatch"))
            connection.execute(text("VACUUM ANALYZE document"))
            connection.execute(text("VACUUM ANALYZE register_daily_total"))
    else:
        print(f"Reusing {count:,} register rows of organisation {slug}.")

    context = StaffContext(
        user_id=uuid.uuid4(),
        name="Bench",
        organisation_id=org_id,
        organisation_name=org_name,
        roles=frozenset({StaffRole.SECRETARIAAT}),
        organisations=((org_id, org_name),),
    )
    f = register.RegisterFilter
    last = YEARS[-1]
    with session_scope() as session:
        deep = register.register_page(session, context, f(), size=1)
        middle_year = YEARS[1]
        deep_cursor = f"{middle_year}-{count // len(YEARS) // 2}"
    assert deep.rows
    queries: list[tuple[str, register.RegisterFilter, str | None]] = [
        ("first page", f(), None),
        ("deep page (keyset)", f(), deep_cursor),
        ("channel registered", f(channel=register.Channel.REGISTERED), None),
        ("status returned", f(status=register.DispatchStatus.RETURNED), None),
        ("status failed", f(status=register.DispatchStatus.FAILED), None),
        ("type gas_fine", f(document_type="gas_fine"), None),
        ("last month", f(date(last, 10, 1), date(last, 10, 31)), None),
        ("a month 2 years ago", f(date(last - 2, 3, 1), date(last - 2, 3, 31)), None),
        (
            "month + paper + delivered",
            f(
                date(last - 1, 6, 1),
                date(last - 1, 6, 30),
                register.Channel.PAPER,
                register.DispatchStatus.DELIVERED,
            ),
            None,
        ),
        ("search number", f(search=f"{middle_year}/000123"), None),
        ("search name", f(search="lotte dubois"), None),
        ("search title", f(search="tweede verblijven 4242"), None),
        (
            "year + type + returned",
            f(
                date(last - 1, 1, 1),
                date(last - 1, 12, 31),
                None,
                register.DispatchStatus.RETURNED,
                "tax_assessment",
            ),
            None,
        ),
    ]
    rounds = 15
    all_times: list[float] = []
    print(f"\nPage queries ({register.PAGE_SIZE} rows), {rounds} runs each after a warm-up:")
    for label, wanted, after in queries:
        times: list[float] = []
        with session_scope() as session:
            register.register_page(session, context, wanted, after=after)
            for _ in range(rounds):
                t = time.perf_counter()
                page = register.register_page(session, context, wanted, after=after)
                times.append((time.perf_counter() - t) * 1000)
        all_times.extend(times)
        print(
            f"  {label:28s} rows {len(page.rows):3d}  p50 {statistics.median(times):7.1f} ms"
            f"  p95 {percentile(times, 0.95):7.1f} ms"
        )

    t = time.perf_counter()
    with session_scope() as session:
        stored = register.daily_totals(session, org_id)
        recount = register.recount_daily_totals(session, org_id)
    print(
        f"\nDaily totals: {len(stored):,} rows for {sum(stored.values()):,} dispatches;"
        f" equal to a recount: {'yes' if stored == recount else 'NO'}"
        f" (recount {time.perf_counter() - t:.1f} s)"
    )
    assert stored == recount
    overview_cases = (
        ("no filter (12 months chart)", f()),
        ("one year", f(date(last - 1, 1, 1), date(last - 1, 12, 31))),
        (
            "one year + paper",
            f(date(last - 1, 1, 1), date(last - 1, 12, 31), register.Channel.PAPER),
        ),
        (
            "one year + type + returned",
            f(
                date(last - 1, 1, 1),
                date(last - 1, 12, 31),
                None,
                register.DispatchStatus.RETURNED,
                "tax_assessment",
            ),
        ),
        ("one month, per week", f(date(last, 10, 1), date(last, 10, 31))),
    )
    for title, function in (
        ("Totals per channel", register.totals),
        ("Overview (totals per channel + chart)", register.overview),
    ):
        print(f"\n{title}, 15 runs each after a warm-up:")
        for label, wanted in overview_cases:
            times = []
            with session_scope() as session:
                function(session, context, wanted)
                for _ in range(15):
                    t = time.perf_counter()
                    function(session, context, wanted)
                    times.append((time.perf_counter() - t) * 1000)
            print(
                f"  {label:28s} p50 {statistics.median(times):7.1f} ms"
                f"  p95 {percentile(times, 0.95):7.1f} ms"
            )

    def export(wanted: register.RegisterFilter) -> tuple[int, int, float, int]:
        tracemalloc.start()
        tracemalloc.reset_peak()
        t = time.perf_counter()
        size = lines = 0
        for chunk in register.export_csv(context, wanted):
            size += len(chunk.encode())
            lines += chunk.count("\r\n")
        took = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return lines - 1, size, took, peak

    if "--no-export" in sys.argv:
        p95 = percentile(all_times, 0.95)
        print(f"\nAll page queries: p50 {statistics.median(all_times):.1f} ms, p95 {p95:.1f} ms")
        print(f"p95_ms: {p95:.0f}")
        return
    print("\nCSV export through the streaming generator:")
    small = export(f(date(last, 10, 1), date(last, 10, 31)))
    print(
        f"  one month: {small[0]:,} rows, {small[1] / 1e6:.1f} MB in {small[2]:.2f} s,"
        f" peak Python memory {small[3] / 1e6:.1f} MB"
    )
    full = export(f())
    print(
        f"  everything: {full[0]:,} rows, {full[1] / 1e6:.1f} MB in {full[2]:.1f} s"
        f" ({full[0] / full[2]:,.0f} rows/s), peak Python memory {full[3] / 1e6:.1f} MB"
    )
    assert full[0] == count, (full[0], count)
    p95 = percentile(all_times, 0.95)
    print(f"\nAll page queries: p50 {statistics.median(all_times):.1f} ms, p95 {p95:.1f} ms")
    print(f"p95_ms: {p95:.0f}")


if __name__ == "__main__":
    main()
