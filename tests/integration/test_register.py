"""The register of outgoing mail and the consultation log, through HTTP and the database:
filters, search, keyset pages, isolation between organisations, roles, CSV and PDF exports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from shared.models import (
    Channel,
    DispatchStatus,
    Organisation,
    RegisterConsultation,
    StaffRole,
    StaffUser,
)
from shared.protection import seal, ssin_digest
from shared.services import register
from shared.services.access import StaffContext
from shared.web import ZegelApp
from tests import factories
from tests.register_data import T0, add_dispatches

ANN = "85073003328"


@pytest.fixture
def backoffice() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client


def _login(
    session: Session, client: TestClient[ZegelApp], staff: StaffUser, org: Organisation
) -> None:
    token = factories.web_session(session, "backoffice", staff=staff, organisation=org)
    client.cookies.set("zegel_backoffice_session", token)


@dataclass
class World:
    a: Organisation
    b: Organisation
    clerk: StaffUser
    desk: StaffUser
    admin: StaffUser
    clerk_b: StaffUser


@pytest.fixture
def world(session: Session) -> World:
    a = factories.organisation(session, "Gemeente A")
    b = factories.organisation(session, "Gemeente B")
    found = World(
        a=a,
        b=b,
        clerk=factories.staff_member(session, a, [StaffRole.SECRETARIAAT], name="Sara Clerk"),
        desk=factories.staff_member(session, a, [StaffRole.ONTHAAL]),
        admin=factories.staff_member(session, a, [StaffRole.BEHEERDER], name="Bea Beheer"),
        clerk_b=factories.staff_member(session, b, [StaffRole.SECRETARIAAT]),
    )
    session.flush()
    return found


def _context(world: World, org: Organisation | None = None, *roles: StaffRole) -> StaffContext:
    org = org or world.a
    return StaffContext(
        user_id=world.clerk.id,
        name="Sara Clerk",
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset(roles or (StaffRole.SECRETARIAAT,)),
        organisations=((org.id, org.name),),
    )


def _numbers(html: str) -> list[str]:
    import re

    return re.findall(r'class="register-table__number">(\d{4}/\d{6})<', html)


# -- the page -----------------------------------------------------------------------------------


def test_the_register_lists_newest_first_with_totals_and_chart(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 3, channel=Channel.EBOX)
    add_dispatches(
        session,
        world.a,
        2,
        first_sequence=4,
        start=T0 + timedelta(days=1),
        channel=Channel.PAPER,
        status=DispatchStatus.POSTED,
        recipient_name="Marie Claes",
    )
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    page = backoffice.get("/register?van=2026-03-01&tot=2026-03-31")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert _numbers(page.text) == [f"2026/{n:06d}" for n in (5, 4, 3, 2, 1)]
    assert "Marie Claes" in page.text
    assert '<svg class="chart__svg"' in page.text
    overview = register.overview(
        session, _context(world), register.RegisterFilter(date(2026, 3, 1), date(2026, 3, 31))
    )
    totals = {t.channel: (t.count, t.delivered) for t in overview.totals}
    assert totals[Channel.EBOX] == (3, 3)
    assert totals[Channel.PAPER] == (2, 0)
    assert overview.delivered_share == 60
    assert overview.per_week  # a month is charted per week
    assert sum(b.total for b in overview.buckets) == 5
    week = next(b for b in overview.buckets if b.start == date(2026, 3, 2))
    assert week.counts[Channel.EBOX] == 3
    assert week.counts[Channel.PAPER] == 2


def test_filters_by_channel_status_type_and_period(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 2, channel=Channel.EBOX)  # 1, 2 on 2 March
    add_dispatches(
        session,
        world.a,
        2,
        first_sequence=3,
        start=T0 + timedelta(days=10),  # 12 March
        channel=Channel.REGISTERED,
        status=DispatchStatus.RETURNED,
        document_type="gas_fine",
    )
    add_dispatches(
        session,
        world.a,
        1,
        first_sequence=5,
        start=T0 + timedelta(days=20),  # 22 March, never sent
        channel=Channel.PAPER,
        status=DispatchStatus.FAILED,
    )
    _login(session, backoffice, world.clerk, world.a)
    session.commit()

    def numbers(query: str) -> list[int]:
        response = backoffice.get(f"/register?{query}")
        assert response.status_code == 200, response.text
        return [int(n.split("/")[1]) for n in _numbers(response.text)]

    assert numbers("") == [5, 4, 3, 2, 1]
    assert numbers("kanaal=registered") == [4, 3]
    assert numbers("status=failed") == [5]
    assert numbers("soort=gas_fine") == [4, 3]
    assert numbers("van=2026-03-12&tot=2026-03-12") == [4, 3]
    assert numbers("van=2026-03-03") == [5, 4, 3]  # the failed one counts from its queueing
    assert numbers("tot=2026-03-02") == [2, 1]
    assert numbers("kanaal=ebox&status=returned") == []
    failed = backoffice.get("/register?status=failed").text
    assert "Adres onbekend bij bpost" in failed
    assert "niet verzonden" in failed


def test_a_wrong_filter_is_explained_and_the_rest_still_applies(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 2)
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    response = backoffice.get("/register?van=gisteren&kanaal=duif&zoek=2026/000002")
    assert response.status_code == 200
    assert "Geef een datum als jjjj-mm-dd." in response.text
    assert "Kies een kanaal uit de lijst." in response.text
    assert _numbers(response.text) == ["2026/000002"]
    assert backoffice.get("/register?na=hallo").status_code == 422


def test_search_by_number_name_and_title(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 130, recipient_name="Jan Peeters")
    add_dispatches(
        session,
        world.a,
        1,
        first_sequence=131,
        recipient_name="Griet Van_den Broeck",
        title="Aanslag 100% belasting op tweede verblijven",
    )
    _login(session, backoffice, world.clerk, world.a)
    session.commit()

    def numbers(search: str) -> list[str]:
        response = backoffice.get("/register", params={"zoek": search})
        assert response.status_code == 200
        return _numbers(response.text)

    assert numbers("2026/000123") == ["2026/000123"]
    assert numbers(" 2026 / 123 ") == ["2026/000123"]
    assert numbers("2025/000123") == []
    assert numbers("van_den") == ["2026/000131"]  # case-insensitive, _ is no wildcard
    assert numbers("GRIET") == ["2026/000131"]
    assert numbers("100% belasting") == ["2026/000131"]  # % is no wildcard
    assert numbers("5%") == []
    assert numbers("tweede verblijven") == ["2026/000131"]
    assert len(numbers("peeters")) == register.PAGE_SIZE


# -- pages --------------------------------------------------------------------------------------


def test_keyset_pages_meet_exactly_at_their_boundaries(session: Session, world: World) -> None:
    add_dispatches(session, world.a, 30, year=2025)
    add_dispatches(session, world.a, 90, start=T0 + timedelta(days=40))
    session.commit()
    context = _context(world)
    everything = register.RegisterFilter()
    seen: list[str] = []
    cursor = None
    pages = []
    while True:
        page = register.register_page(session, context, everything, after=cursor)
        pages.append(page)
        seen.extend(row.register_number for row in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p.rows) for p in pages] == [50, 50, 20]
    assert seen[0] == "2026/000090"
    assert seen[89] == "2026/000001"
    assert seen[90] == "2025/000030"  # the years follow each other
    assert seen[-1] == "2025/000001"
    assert len(set(seen)) == 120
    assert pages[0].previous_cursor is None
    # Back from the last page gives the middle page exactly, and back again the first.
    back = register.register_page(session, context, everything, before=pages[2].previous_cursor)
    assert [r.register_number for r in back.rows] == [r.register_number for r in pages[1].rows]
    first = register.register_page(session, context, everything, before=back.previous_cursor)
    assert [r.register_number for r in first.rows] == [r.register_number for r in pages[0].rows]
    assert first.previous_cursor is None
    assert first.next_cursor == pages[0].next_cursor


def test_a_register_of_exactly_one_page_has_no_next_link(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, register.PAGE_SIZE)
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    response = backoffice.get("/register")
    assert len(_numbers(response.text)) == register.PAGE_SIZE
    assert 'rel="next"' not in response.text
    assert 'rel="prev"' not in response.text


def test_page_links_keep_the_filter(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 60, channel=Channel.PAPER, status=DispatchStatus.POSTED)
    add_dispatches(session, world.a, 60, first_sequence=61, channel=Channel.EBOX)
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    first = backoffice.get("/register?kanaal=paper").text
    assert _numbers(first)[0] == "2026/000060"
    assert 'href="/register?kanaal=paper&amp;na=2026-11" rel="next"' in first
    second = backoffice.get("/register?kanaal=paper&na=2026-11").text
    assert _numbers(second) == [f"2026/{n:06d}" for n in range(10, 0, -1)]
    assert 'href="/register?kanaal=paper&amp;voor=2026-10" rel="prev"' in second
    assert 'rel="next"' not in second


# -- isolation and roles ------------------------------------------------------------------------


def test_another_organisations_register_never_shows(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 3, recipient_name="Inwoner van A")
    add_dispatches(session, world.b, 5, recipient_name="Inwoner van B", title="Stuk van B")
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    page = backoffice.get("/register").text
    assert _numbers(page) == ["2026/000003", "2026/000002", "2026/000001"]
    assert "Inwoner van B" not in page
    assert _numbers(backoffice.get("/register?zoek=2026/000005").text) == []
    assert _numbers(backoffice.get("/register?zoek=Inwoner van B").text) == []
    assert _numbers(backoffice.get("/register?zoek=Stuk van B").text) == []
    exported = backoffice.get("/register/export.csv").text
    assert "Inwoner van B" not in exported
    assert exported.count("Inwoner van A") == 3
    pdf = PdfReader(io.BytesIO(backoffice.get("/register/export.pdf").content))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "Inwoner van B" not in text
    overview = register.overview(session, _context(world), register.RegisterFilter())
    assert overview.count == 3


def test_roles_gate_the_register_and_the_log(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    _login(session, backoffice, world.desk, world.a)
    session.commit()
    for path in ("/register", "/register/export.csv", "/register/export.pdf"):
        assert backoffice.get(path).status_code == 403, path
    assert backoffice.get("/register/raadplegingen").status_code == 403
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    assert backoffice.get("/register").status_code == 200
    assert 'href="/register"' in backoffice.get("/").text
    assert backoffice.get("/register/raadplegingen").status_code == 403
    assert backoffice.get("/register/raadplegingen/export.csv").status_code == 403
    _login(session, backoffice, world.admin, world.a)
    session.commit()
    assert backoffice.get("/register/raadplegingen").status_code == 200
    assert backoffice.get("/register").status_code == 403
    assert 'href="/register/raadplegingen"' in backoffice.get("/").text


def test_anonymous_visitors_are_sent_to_log_in(backoffice: TestClient[ZegelApp]) -> None:
    response = backoffice.get("/register/export.csv", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/aanmelden?terug=%2Fregister%2Fexport.csv")


# -- exports ------------------------------------------------------------------------------------


def test_csv_export_holds_the_filtered_rows(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    add_dispatches(session, world.a, 3, channel=Channel.EBOX, recipient_name='Jan "Jos" Peeters')
    add_dispatches(
        session,
        world.a,
        2,
        first_sequence=4,
        channel=Channel.REGISTERED,
        status=DispatchStatus.FAILED,
        recipient_name="Marie; Claes",
    )
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    response = backoffice.get("/register/export.csv?kanaal=registered")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="register-uitgaande-post-'
    )
    assert response.headers["cache-control"] == "no-store"
    assert "content-length" not in response.headers  # streamed
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == list(register.CSV_HEADER)
    assert [r[0] for r in rows[1:]] == ["2026/000005", "2026/000004"]
    assert rows[1][2] == "registered"
    assert rows[1][4] == "failed"
    assert rows[1][5] == "Marie; Claes"
    assert rows[1][9] == "Adres onbekend bij bpost"
    everything = backoffice.get("/register/export.csv").content.decode("utf-8")
    assert 'Jan ""Jos"" Peeters' in everything
    assert len(everything.strip().splitlines()) == 6


def test_the_csv_streams_in_batches(
    session: Session,
    backoffice: TestClient[ZegelApp],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_dispatches(session, world.a, 95)
    session.commit()
    chunks = list(register.export_csv(_context(world), register.RegisterFilter(), batch_size=10))
    assert len(chunks) == 10  # ten batches: header with the first ten rows, then 10 by 10
    assert chunks[0].count("\r\n") == 11
    assert all(chunk.count("\r\n") == 10 for chunk in chunks[1:-1])
    assert chunks[-1].count("\r\n") == 5
    # Through HTTP, the handler's stream pulls the batches one by one.
    pulled: list[int] = []
    original = register._batches

    def counting(*args: object) -> Iterator[list[register.RegisterRow]]:
        for rows in original(*args):  # type: ignore[arg-type]
            pulled.append(len(rows))
            yield rows

    monkeypatch.setattr(register, "_batches", counting)
    monkeypatch.setattr(register, "EXPORT_BATCH", 20)
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    response = backoffice.get("/register/export.csv")
    assert pulled == [20, 20, 20, 20, 15]
    assert len(response.text.strip().splitlines()) == 96


def test_an_empty_export_still_has_its_header(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    text = backoffice.get("/register/export.csv").content.decode("utf-8")
    assert text == "\ufeff" + ";".join(register.CSV_HEADER) + "\r\n"


def test_pdf_export_holds_the_rows_and_says_when_it_stops(
    session: Session,
    backoffice: TestClient[ZegelApp],
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_dispatches(session, world.a, 12, recipient_name="Jan Peeters")
    add_dispatches(session, world.a, 1, first_sequence=13, recipient_name="Élise Dubois-Ørsted")
    _login(session, backoffice, world.clerk, world.a)
    session.commit()
    response = backoffice.get("/register/export.pdf?zoek=dubois")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Register uitgaande post — Gemeente A" in text
    assert "2026/000013" in text
    assert "Élise Dubois-Ørsted" in text
    assert "zoekterm: dubois" in text
    assert "2026/000012" not in text
    monkeypatch.setattr(register, "PDF_MAX_ROWS", 5)
    capped = backoffice.get("/register/export.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(capped.content)).pages)
    assert "2026/000013" in text
    assert "2026/000009" in text
    assert "2026/000008" not in text
    assert "toont de eerste 5 regels" in text


def test_a_long_pdf_runs_over_pages(session: Session, world: World) -> None:
    add_dispatches(session, world.a, 120, title="Een heel lange titel " * 10)
    session.commit()
    pdf = PdfReader(
        io.BytesIO(register.export_pdf(session, _context(world), register.RegisterFilter()))
    )
    assert len(pdf.pages) >= 3
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "2026/000120" in text
    assert "2026/000001" in text
    assert "Pagina 1/" in text


# -- the consultation log -----------------------------------------------------------------------


def _consultation(
    session: Session,
    org: Organisation,
    staff: StaffUser | None,
    *,
    subject: str = ANN,
    purpose: str = "Verzending van een beslissing",
    at: datetime = T0,
) -> None:
    session.add(
        RegisterConsultation(
            id=uuid.uuid4(),
            organisation_id=org.id,
            staff_user_id=staff.id if staff else None,
            actor_label=staff.name if staff else "Zegel (verzending)",
            subject_digest=ssin_digest(subject),
            subject_sealed=seal(subject),
            service="GeefPersoon",
            purpose=purpose,
            legal_basis="Beraadslaging IVC nr. 26/000 (test)",
            occurred_at=at,
            outcome="found",
        )
    )
    session.flush()


def test_the_dpo_filters_the_log_and_exports_it_masked(
    session: Session, backoffice: TestClient[ZegelApp], world: World
) -> None:
    for index in range(3):
        _consultation(session, world.a, world.clerk, at=T0 + timedelta(days=index))
    _consultation(session, world.a, None, purpose="Controle eBox", at=T0 + timedelta(days=5))
    _consultation(session, world.b, world.clerk_b, purpose="Van B", at=T0)
    _login(session, backoffice, world.admin, world.a)
    session.commit()
    page = backoffice.get("/register/raadplegingen")
    assert page.status_code == 200
    assert page.text.count("Beraadslaging IVC") == 4
    assert "Van B" not in page.text
    assert ANN not in page.text
    assert "85.07.30-***.**" in page.text
    assert "Sara Clerk" in page.text  # in the list of staff to filter on
    by_staff = backoffice.get(f"/register/raadplegingen?medewerker={world.clerk.id}").text
    assert by_staff.count("Beraadslaging IVC") == 3
    by_purpose = backoffice.get("/register/raadplegingen?doel=ebox").text
    assert by_purpose.count("Beraadslaging IVC") == 1
    by_period = backoffice.get("/register/raadplegingen?van=2026-03-03&tot=2026-03-04").text
    assert by_period.count("Beraadslaging IVC") == 2

    exported = backoffice.get(f"/register/raadplegingen/export.csv?medewerker={world.clerk.id}")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in exported.headers
    rows = list(csv.reader(io.StringIO(exported.text), delimiter=";"))
    assert rows[0][0] == "tijdstip"
    assert len(rows) == 4
    assert {r[3] for r in rows[1:]} == {"85.07.30-***.**"}
    assert ANN not in exported.text
    assert "Van B" not in backoffice.get("/register/raadplegingen/export.csv").text


def test_the_log_pages_and_its_export_reads_in_batches(session: Session, world: World) -> None:
    for index in range(7):
        _consultation(session, world.a, world.clerk, at=T0 + timedelta(minutes=index))
    session.commit()
    context = _context(world, None, StaffRole.BEHEERDER)
    first = register.consultation_log(session, context, register.ConsultationFilter(), size=3)
    second = register.consultation_log(
        session, context, register.ConsultationFilter(), after=first.next_cursor, size=3
    )
    third = register.consultation_log(
        session, context, register.ConsultationFilter(), after=second.next_cursor, size=3
    )
    times = [r.occurred_at for p in (first, second, third) for r in p.rows]
    assert times == sorted(times, reverse=True)
    assert len(set(times)) == 7
    assert third.next_cursor is None
    back = register.consultation_log(
        session, context, register.ConsultationFilter(), before=second.previous_cursor, size=3
    )
    assert [r.id for r in back.rows] == [r.id for r in first.rows]
    session.commit()
    chunks = list(
        register.export_consultations(context, register.ConsultationFilter(), batch_size=3)
    )
    assert len(chunks) == 3
    lines = "".join(chunks).splitlines()
    assert lines[0].startswith("tijdstip;")
    assert len(lines) == 8
    assert sum(line.startswith("tijdstip;") for line in lines) == 1
