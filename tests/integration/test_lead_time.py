"""Doorlooptijd: documents go through their real transitions (with the audit trail's clock set),
and the page shows the median and 90th percentile of each phase per month, for the staff
member's organisation only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from shared.models import (
    Decision,
    Dispute,
    DisputeChannel,
    Document,
    DocumentStatus,
    GoverningBody,
    Organisation,
    PaymentRequest,
    PaymentRequestStatus,
    StaffRole,
)
from shared.services import audit, lead_time
from shared.services.transitions import transition
from shared.web import ZegelApp
from tests import factories

TODAY = date(2026, 11, 15)
SIGNED = (DocumentStatus.AWAITING_SIGNATURE, DocumentStatus.SIGNED, DocumentStatus.READY)


class Clock:
    """The audit trail's clock, set by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def use_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Set the audit trail's clock from the test, and today to TODAY."""
    clock = Clock()
    monkeypatch.setattr(audit, "utcnow", clock)
    monkeypatch.setattr(lead_time, "brussels_today", lambda: TODAY)
    return clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return use_clock(monkeypatch)


def utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def decision(session: Session, org: Organisation, session_date: date) -> Decision:
    made = Decision(
        organisation_id=org.id,
        body=GoverningBody.COLLEGE,
        session_date=session_date,
        decision_number=uuid.uuid4().hex[:6],
        title="Belasting op tweede verblijven",
    )
    session.add(made)
    session.flush()
    return made


def history(
    session: Session,
    clock: Clock,
    org: Organisation,
    document_type: str,
    steps: Sequence[tuple[datetime, Sequence[DocumentStatus]]],
    *,
    made_by: Decision | None = None,
    title: str = "Aanslag",
) -> Document:
    """A document moved through its real transitions, each group of steps at its moment."""
    recipient = factories.citizen(session, org, ssin=f"{uuid.uuid4().int % 10**11:011d}")
    document = factories.document(session, org, recipient, title)
    document.document_type = document_type
    document.decision_id = made_by.id if made_by else None
    for moment, targets in steps:
        clock.now = moment
        for target in targets:
            transition(session, document, target, actor=factories.SYSTEM)
    return document


def paid(session: Session, clock: Clock, document: Document, moment: datetime) -> None:
    request = PaymentRequest(
        organisation_id=document.organisation_id,
        document_id=document.id,
        amount_cents=12550,
        due_date=date(2026, 12, 31),
        structured_communication=f"{uuid.uuid4().int % 10**12:012d}",
        iban="BE71096123456769",
    )
    session.add(request)
    session.flush()
    clock.now = moment
    transition(session, request, PaymentRequestStatus.PAID, actor=factories.SYSTEM)


def disputed(session: Session, clock: Clock, document: Document, moment: datetime) -> None:
    dispute = Dispute(
        organisation_id=document.organisation_id,
        document_id=document.id,
        number=f"B-{uuid.uuid4().hex[:6]}",
        channel=DisputeChannel.PORTAL,
        received_at=moment,
        grounds="Ik was geen eigenaar meer.",
        competent_service="financien",
    )
    session.add(dispute)
    session.flush()
    clock.now = moment
    audit.record(
        session,
        actor=factories.SYSTEM,
        organisation_id=document.organisation_id,
        action="dispute.received",
        object_type="dispute",
        object_id=dispute.id,
        status_after="received",
    )


def october(session: Session, clock: Clock, org: Organisation) -> None:
    """Two signed tax assessments of the college of 5 October (decided: 4 Oct 22:00 UTC) and
    one reminder without signature, all handled in October 2026."""
    college = decision(session, org, date(2026, 10, 5))
    first = history(
        session,
        clock,
        org,
        "tax_assessment",
        [
            (utc(10, 6, 10), (DocumentStatus.SCREENED, DocumentStatus.AWAITING_SIGNATURE)),  # 36h
            (utc(10, 7, 10), (DocumentStatus.SIGNED, DocumentStatus.READY)),  # 24h
            (utc(10, 7, 12), (DocumentStatus.DISPATCHED,)),  # 2h
            (utc(10, 8, 12), (DocumentStatus.DELIVERED,)),  # 24h
        ],
        made_by=college,
    )
    paid(session, clock, first, utc(10, 18, 12))  # 10 days after delivery
    second = history(
        session,
        clock,
        org,
        "tax_assessment",
        [
            (utc(10, 7, 10), (DocumentStatus.SCREENED, DocumentStatus.AWAITING_SIGNATURE)),  # 60h
            (utc(10, 9, 10), (DocumentStatus.SIGNED, DocumentStatus.READY)),  # 48h
            (utc(10, 9, 18), (DocumentStatus.DISPATCHED,)),  # 8h
            (utc(10, 10, 18), (DocumentStatus.DELIVERED,)),  # 24h
        ],
        made_by=college,
    )
    disputed(session, clock, second, utc(10, 24, 18))  # 14 days after delivery
    history(
        session,
        clock,
        org,
        "reminder",
        [
            (utc(10, 12, 8), (DocumentStatus.SCREENED, DocumentStatus.READY)),
            (utc(10, 12, 9), (DocumentStatus.DISPATCHED,)),  # 1h
        ],
        title="Herinnering",
    )


@pytest.fixture
def backoffice() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client


def _cells(page: str, section: str, month: str) -> list[str]:
    found = re.search(rf'<section class="insight" id="{section}".*?</section>', page, re.S)
    assert found, f"no section {section}"
    row = re.search(rf'<th scope="row">{month}</th>(.*?)</tr>', found.group(0), re.S)
    assert row, f"no row {month} in {section}"
    return re.findall(r"<td>\s*(.*?)\s*</td>", row.group(1), re.S)


def test_the_page_shows_median_and_p90_per_phase_and_month(
    session: Session, clock: Clock, backoffice: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    october(session, clock, org)
    other = factories.organisation(session, "Ander bestuur")
    history(  # another organisation's slow letter, in the same month
        session,
        clock,
        other,
        "reminder",
        [
            (utc(10, 1), (DocumentStatus.SCREENED, DocumentStatus.READY)),
            (utc(10, 20), (DocumentStatus.DISPATCHED,)),
        ],
    )
    clerk = factories.staff_member(session, org, [StaffRole.DOSSIERBEHANDELAAR])
    desk = factories.staff_member(session, org, [StaffRole.ONTHAAL])
    backoffice.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=clerk, organisation=org),
    )
    desk_cookie = factories.web_session(session, "backoffice", staff=desk, organisation=org)
    session.commit()

    page = backoffice.get("/doorlooptijd")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/doorlooptijd" aria-current="page"' in text
    # count, median, 90th percentile
    assert _cells(text, "fase-decision_screened", "oktober 2026") == ["2", "2 dagen", "2,4 dagen"]
    assert _cells(text, "fase-screened_signed", "oktober 2026") == ["2", "36 uur", "46 uur"]
    # 1h (without signature), 2h and 8h: p90 = 2 + 0.8 × 6
    assert _cells(text, "fase-signed_sent", "oktober 2026") == ["3", "2 uur", "6,8 uur"]
    assert _cells(text, "fase-sent_delivered", "oktober 2026") == ["2", "24 uur", "24 uur"]
    assert _cells(text, "fase-delivered_paid", "oktober 2026") == ["1", "10 dagen", "10 dagen"]
    assert _cells(text, "fase-delivered_disputed", "oktober 2026") == ["1", "14 dagen", "14 dagen"]
    # 62h and 116h from the start of the session day to sending
    assert _cells(text, "fase-decision_sent", "oktober 2026") == ["2", "3,7 dagen", "4,6 dagen"]
    # an empty month is listed, without figures
    assert _cells(text, "fase-signed_sent", "september 2026") == ["0", "—", "—"]
    # the other organisation's letter is not counted: three sent, one without signature
    assert _cells(text, "zonder-handtekening", "oktober 2026") == ["3", "1", "33%"]
    assert "Ander bestuur" not in text
    assert text.count('class="chart__svg"') == len(lead_time.PhaseKey) + 1
    assert "<script" not in text.split("</header>", 1)[-1]
    assert ' style="' not in text
    # per document type, over the period
    assert re.search(r"Herinnering</a></th>\s*<td>Ondertekend → verzonden</td>\s*<td>1</td>", text)

    only = backoffice.get("/doorlooptijd", params={"type": "reminder", "maanden": "3"})
    assert only.status_code == 200
    assert _cells(only.text, "fase-signed_sent", "oktober 2026") == ["1", "1 uur", "1 uur"]
    assert "Geen enkel stuk rondde deze stap af in deze periode." in only.text
    assert only.text.count('class="chart__svg"') == 2  # the sending, and without signature
    assert _cells(only.text, "zonder-handtekening", "oktober 2026") == ["1", "1", "100%"]
    assert "augustus 2026" not in only.text  # three months: September to November
    assert 'id="per-type"' not in only.text

    assert backoffice.get("/doorlooptijd", params={"maanden": "5"}).status_code == 422
    assert backoffice.get("/doorlooptijd", params={"type": "gas_fine"}).status_code == 422

    backoffice.cookies.set("zegel_backoffice_session", desk_cookie)
    assert backoffice.get("/doorlooptijd").status_code == 403


def test_a_payment_in_the_period_counts_for_a_letter_sent_before_it(
    session: Session, clock: Clock
) -> None:
    org = factories.organisation(session)
    staff = factories.staff_member(session, org, [StaffRole.BEHEERDER])
    letter = history(
        session,
        clock,
        org,
        "tax_assessment",
        [
            (utc(1, 5), (DocumentStatus.SCREENED, DocumentStatus.READY)),
            (utc(1, 6), (DocumentStatus.DISPATCHED,)),
        ],
    )
    paid(session, clock, letter, utc(9, 6))
    session.flush()
    context = _context(staff, org)
    report = lead_time.report(session, context, period=3)
    phase = next(p for p in report.figures.phases if p.phase is lead_time.PhaseKey.DELIVERED_PAID)
    assert [(m.month, m.figures.count) for m in phase.months if m.figures.count] == [
        (date(2026, 9, 1), 1)
    ]
    assert phase.period.median == timedelta(days=243).total_seconds()  # from sending: no delivery
    assert report.figures.signatures[0].sent == 0  # sent in January, outside the period


def _context(staff: object, org: Organisation) -> lead_time.StaffContext:
    return lead_time.StaffContext(
        user_id=getattr(staff, "id"),  # noqa: B009
        name="Beheerder",
        organisation_id=org.id,
        organisation_name=org.name,
        roles=frozenset({StaffRole.BEHEERDER}),
        organisations=((org.id, org.name),),
    )
