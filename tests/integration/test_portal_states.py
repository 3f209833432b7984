"""The portal tells one story per document: every combination of the payment request's status,
the dispute's state and the dispute deadline, seen logged in (Mijn documenten and the document
page) and with the paper letter's code, over HTTP.

The states are reached through the real services (payments, disputes.file_dispute,
dispute_office.answer_sent for the outcome), so the payment request follows a decided dispute
exactly as it does in production. Each row says what the citizen must read and what must not
be there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy.orm import Session

from portal.app import create_app
from shared.db import utcnow
from shared.models import (
    DisputeChannel,
    DisputeOutcome,
    DisputeRight,
    DisputeStatus,
    Document,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
)
from shared.services import audit, dispute_office, disputes, payments, transitions
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories

ANN = "85073003328"
ACTOR = audit.Actor.system("test")
CODE = "7KQ2M9XD4TNA"
FULL = "€\xa0125,50"
REDUCED = "€\xa045,50"
TITLE = "Belasting op tweede verblijven"

# What the page says, per situation (the Dutch the citizen reads).
PAY_BUTTON = ">Betalen</button>"
TRANSFER = "Of met een overschrijving"
SUSPENDED = "De betaling is opgeschort zolang uw bezwaar behandeld wordt"
NOT_DUE = "U hoeft niet (meer) te betalen."
FOUNDED = "Uw bezwaar werd gegrond verklaard"
IN_LETTER = "De betaalgegevens staan in de brief."
FILE = ">Bezwaar indienen<"
FILE_AGAIN = "Nog een bezwaar indienen"
DECIDED = "Over uw bezwaar werd beslist."
DEADLINE_PASSED = "De termijn om bezwaar in te dienen liep af"


OUTCOMES = {
    "founded": DisputeOutcome.FOUNDED,
    "partly_founded": DisputeOutcome.PARTLY_FOUNDED,
    "unfounded": DisputeOutcome.UNFOUNDED,
}


@dataclass(frozen=True)
class Case:
    name: str
    payment: str
    """"none" (the letter's amount, no payment request), or the status to bring it to before
    any decision: open, partially_paid, paid, suspended, cancelled, refunded."""
    dispute: str
    """none, open, withdrawn, or an outcome: founded, partly_founded, unfounded."""
    final: PaymentRequestStatus | None
    badge: str
    page: tuple[str, ...] = ()
    """Must be on the document page (logged in)."""
    not_page: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    """Must be on the paper code's summary."""
    not_code: tuple[str, ...] = ()


DUE = (f"Te betalen</dt><dd>{FULL}", PAY_BUTTON, TRANSFER)
NOTHING_DUE = (f"Te betalen</dt><dd>{FULL}", PAY_BUTTON, TRANSFER, "Te betalen:")

CASES = [
    Case("open", "open", "none", PaymentRequestStatus.OPEN, "te betalen", DUE, code=DUE[1:]),
    Case(
        "partially paid",
        "partially_paid",
        "none",
        PaymentRequestStatus.PARTIALLY_PAID,
        "te betalen",
        ("Te betalen</dt><dd>€\xa075,50", "Al betaald", PAY_BUTTON),
        (f"Te betalen</dt><dd>{FULL}",),
        code=("Nog te betalen", "€\xa075,50"),
    ),
    Case(
        "paid",
        "paid",
        "none",
        PaymentRequestStatus.PAID,
        "betaald",
        ("Betaald</dt><dd>" + FULL, "U betaalde " + FULL),
        NOTHING_DUE,
        code=("U betaalde " + FULL,),
        not_code=(PAY_BUTTON, TRANSFER),
    ),
    Case(
        "cancelled by the service",
        "cancelled",
        "none",
        PaymentRequestStatus.CANCELLED,
        "afgehandeld",
        (NOT_DUE,),
        (*NOTHING_DUE, FOUNDED),
        code=(NOT_DUE,),
        not_code=(PAY_BUTTON, TRANSFER, FULL),
    ),
    Case(
        "refunded",
        "refunded",
        "none",
        PaymentRequestStatus.REFUNDED,
        "afgehandeld",
        ("terugbetaald", NOT_DUE, f"Wat u betaalde, {FULL}, werd u terugbetaald."),
        NOTHING_DUE,
        code=("terugbetaald", NOT_DUE),
        not_code=(PAY_BUTTON, TRANSFER),
    ),
    Case(
        "open dispute, payment not suspended",
        "open",
        "open",
        PaymentRequestStatus.OPEN,
        "bezwaar ingediend",
        (*DUE, "Stand van zaken: in behandeling"),
        (SUSPENDED, DECIDED),
        code=DUE[1:],
    ),
    Case(
        "open dispute, partially paid",
        "partially_paid",
        "open",
        PaymentRequestStatus.PARTIALLY_PAID,
        "bezwaar ingediend",
        ("Te betalen</dt><dd>€\xa075,50", PAY_BUTTON),
        (SUSPENDED,),
        code=(PAY_BUTTON,),
    ),
    Case(
        "open dispute, payment suspended",
        "suspended",
        "open",
        PaymentRequestStatus.SUSPENDED,
        "bezwaar ingediend",
        (SUSPENDED, "betaling opgeschort", f"Het gevraagde bedrag is {FULL}."),
        (PAY_BUTTON, TRANSFER, f"Te betalen</dt><dd>{FULL}"),
        code=(SUSPENDED,),
        not_code=(PAY_BUTTON, TRANSFER),
    ),
    Case(
        "open dispute, already paid",
        "paid",
        "open",
        PaymentRequestStatus.PAID,
        "bezwaar ingediend",
        ("U betaalde " + FULL,),
        NOTHING_DUE,
        code=("U betaalde " + FULL,),
    ),
    Case(
        "founded: the payment is cancelled",
        "open",
        "founded",
        PaymentRequestStatus.CANCELLED,
        "afgehandeld",
        (NOT_DUE, FOUNDED, "Stand van zaken: beslist: uw bezwaar is gegrond", DECIDED),
        (*NOTHING_DUE, FILE, FILE_AGAIN),
        code=(NOT_DUE,),
        not_code=(PAY_BUTTON, TRANSFER, FULL, FOUNDED),
    ),
    Case(
        "founded while suspended",
        "suspended",
        "founded",
        PaymentRequestStatus.CANCELLED,
        "afgehandeld",
        (NOT_DUE, FOUNDED),
        (*NOTHING_DUE, SUSPENDED, FILE_AGAIN),
        code=(NOT_DUE,),
        not_code=(PAY_BUTTON, SUSPENDED),
    ),
    Case(
        "founded after paying: refunded by the service",
        "paid",
        "founded",
        PaymentRequestStatus.PAID,
        "betaald",
        (FOUNDED, "De dienst financiën betaalt u terug wat u betaalde."),
        (*NOTHING_DUE, FILE_AGAIN),
        code=("U betaalde " + FULL,),
        not_code=(PAY_BUTTON,),
    ),
    Case(
        "partly founded: the reduced amount",
        "open",
        "partly_founded",
        PaymentRequestStatus.OPEN,
        "te betalen",
        (
            f"Te betalen</dt><dd>{REDUCED}",
            f"Na uw bezwaar werd het bedrag verminderd tot {REDUCED}.",
            PAY_BUTTON,
            "Stand van zaken: beslist: uw bezwaar is deels gegrond",
        ),
        (FULL + " ", f"Te betalen</dt><dd>{FULL}", FILE_AGAIN, FILE),
        code=(REDUCED, PAY_BUTTON),
        not_code=(f"<dd>{FULL}</dd>",),
    ),
    Case(
        "partly founded while suspended",
        "suspended",
        "partly_founded",
        PaymentRequestStatus.OPEN,
        "te betalen",
        (f"Te betalen</dt><dd>{REDUCED}", PAY_BUTTON),
        (SUSPENDED, f"Te betalen</dt><dd>{FULL}"),
        code=(REDUCED, PAY_BUTTON),
    ),
    Case(
        "partly founded below what was paid",
        "partially_paid",
        "partly_founded",
        PaymentRequestStatus.PAID,
        "betaald",
        ("U betaalde €\xa050,00", "Dat is €\xa04,50 meer dan gevraagd"),
        (PAY_BUTTON, f"Te betalen</dt><dd>{FULL}"),
        code=("U betaalde €\xa050,00",),
        not_code=(PAY_BUTTON,),
    ),
    Case(
        "unfounded: still to pay",
        "open",
        "unfounded",
        PaymentRequestStatus.OPEN,
        "te betalen",
        (*DUE, "Stand van zaken: beslist: uw bezwaar is ongegrond", DECIDED),
        (FILE_AGAIN, FILE, FOUNDED),
        code=DUE[1:],
    ),
    Case(
        "unfounded while suspended: payment runs again",
        "suspended",
        "unfounded",
        PaymentRequestStatus.OPEN,
        "te betalen",
        DUE,
        (SUSPENDED, FILE_AGAIN),
        code=DUE[1:],
        not_code=(SUSPENDED,),
    ),
    Case(
        "withdrawn dispute",
        "open",
        "withdrawn",
        PaymentRequestStatus.OPEN,
        "te betalen",
        (*DUE, "Stand van zaken: het bezwaar werd ingetrokken"),
        (DECIDED, FILE_AGAIN),
        code=DUE[1:],
    ),
    Case(
        "letter only",
        "none",
        "none",
        None,
        "te betalen",
        (f"Te betalen</dt><dd>{FULL}", IN_LETTER),
        (PAY_BUTTON,),
        code=(f"Te betalen: {FULL}.",),
    ),
    Case(
        "letter only, open dispute",
        "none",
        "open",
        None,
        "bezwaar ingediend",
        (f"Te betalen</dt><dd>{FULL}", IN_LETTER),
        (PAY_BUTTON,),
        code=(f"Te betalen: {FULL}.",),
    ),
    Case(
        "letter only, founded",
        "none",
        "founded",
        None,
        "afgehandeld",
        (NOT_DUE, FOUNDED),
        (FULL, IN_LETTER, FILE_AGAIN),
        code=(NOT_DUE,),
        not_code=(FULL, FOUNDED),
    ),
    Case(
        "letter only, unfounded",
        "none",
        "unfounded",
        None,
        "te betalen",
        (f"Te betalen</dt><dd>{FULL}", IN_LETTER),
        (NOT_DUE, FILE_AGAIN),
        code=(f"Te betalen: {FULL}.",),
    ),
]


@pytest.fixture
def portal() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _pay(session: Session, request: PaymentRequest, cents: int, ref: str) -> None:
    payments.record_payment(
        session,
        payment_request=request,
        amount_cents=cents,
        method=PaymentMethod.BANK_TRANSFER,
        external_id=ref,
        received_at=utcnow(),
        actor=ACTOR,
    )


def _bring_to(session: Session, request: PaymentRequest, wanted: str) -> None:
    """Move a fresh (or hook-suspended) payment request to `wanted` through the services."""
    if request.status is PaymentRequestStatus.SUSPENDED and wanted != "suspended":
        # A dispute may suspend payment when so configured; these rows are about the others.
        payments.resume(session, request, actor=ACTOR, reason="test")
    if wanted == "partially_paid":
        _pay(session, request, 5000, "part")
    elif wanted in ("paid", "refunded"):
        payment = payments.record_payment(
            session,
            payment_request=request,
            amount_cents=12550,
            method=PaymentMethod.CASH,
            external_id="full",
            received_at=utcnow(),
            actor=ACTOR,
        )
        if wanted == "refunded":
            payments.refund(
                session,
                payment=payment,
                amount_cents=12550,
                expected_refundable_cents=12550,
                actor=ACTOR,
                reason="test",
            )
    elif wanted == "suspended":
        payments.suspend(session, request, actor=ACTOR, reason="bezwaar")
    elif wanted == "cancelled":
        transitions.transition(
            session,
            request,
            PaymentRequestStatus.CANCELLED,
            actor=ACTOR,
            action="payment_request.cancelled",
        )


def _decide(session: Session, document: Document, dispute_id: object, outcome: str) -> None:
    """Decide and send the answer: `dispute_office.answer_sent` closes the dispute and makes
    the payment request follow the outcome, as after the answer's dispatch."""
    dispute = disputes.dispute_of_document(session, document, dispute_id)  # type: ignore[arg-type]
    answer = factories.document(
        session, document.organisation, document.recipient, title="Beslissing over uw bezwaar"
    )
    dispute.status = DisputeStatus.DECIDED
    dispute.outcome = OUTCOMES[outcome]
    dispute.reduced_amount_cents = 4550 if outcome == "partly_founded" else None
    dispute.decided_at = utcnow()
    dispute.answer_document_id = answer.id
    session.flush()
    assert dispute_office.answer_sent(session, answer) is not None


def _situation(session: Session, case: Case, *, deadline_passed: bool) -> Document:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    recipient = factories.citizen(session, org, ssin=ANN)
    document = factories.document(session, org, recipient, title=TITLE)
    document.dispute_right = DisputeRight.MUNICIPAL_TAX_OBJECTION
    document.document_type = "tax_assessment"
    document.amount_due_cents = 12550
    document.due_date = date(2026, 12, 31)
    document.access_code = CODE
    factories.send(session, document)
    document.legal_sending_date = today() - timedelta(days=5)
    document.sent_at = utcnow() - timedelta(days=5)
    session.flush()
    request = None
    if case.payment != "none":
        request = payments.create_for_document(session, document, actor=ACTOR)
        assert request is not None
    if case.dispute != "none":
        filed = disputes.file_dispute(
            session,
            document,
            disputes.DisputeInput(grounds="Ik heb geen tweede verblijf in de gemeente."),
            channel=DisputeChannel.PORTAL,
            actor=disputes.citizen_actor(document),
        )
    if request is not None:
        _bring_to(session, request, case.payment)
    if case.dispute == "withdrawn":
        filed.dispute.status = DisputeStatus.WITHDRAWN
    elif case.dispute not in ("none", "open"):
        _decide(session, document, filed.dispute.id, case.dispute)
    if deadline_passed:
        document.legal_sending_date = today() - timedelta(days=200)
        document.sent_at = utcnow() - timedelta(days=200)
    session.flush()
    if request is not None:
        session.refresh(request)
        assert request.status is case.final, case.name
    return document


def _csrf(portal: TestClient[ZegelApp]) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', portal.get("/code").text)
    assert match
    return match.group(1)


def _plain(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", html).replace("> ", ">").replace(" <", "<")


@pytest.mark.parametrize("deadline_passed", [False, True], ids=["deadline-running", "passed"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_combination_reads_right(
    session: Session, portal: TestClient[ZegelApp], case: Case, deadline_passed: bool
) -> None:
    document = _situation(session, case, deadline_passed=deadline_passed)
    token = document.public_token
    portal.cookies.set("zegel_portal_session", factories.web_session(session, "portal", ssin=ANN))
    session.commit()

    # Mijn documenten: the badge.
    listed = portal.get("/mijn-documenten")
    assert listed.status_code == 200
    item = listed.text.split(TITLE, 1)[1].split("</li>", 1)[0]
    assert f">{case.badge}<" in _plain(item), (case.badge, item)

    # The document page: the same badge, and one story.
    page = portal.get(f"/d/{token}")
    assert page.status_code == 200
    text = _plain(page.text)
    assert f">{case.badge}<" in text
    for wanted in case.page:
        assert wanted in text, (
            wanted,
            "\n".join(re.findall(r".{0,80}(?:etal|ezwaar).{0,80}", text)),
        )
    for unwanted in case.not_page:
        assert unwanted not in text, unwanted
    decided = case.dispute in ("founded", "partly_founded", "unfounded")
    if decided:
        assert DECIDED in text
        assert FILE not in text
        assert FILE_AGAIN not in text
    elif deadline_passed:
        assert DEADLINE_PASSED in text
        assert FILE not in text
        assert FILE_AGAIN not in text
    elif case.dispute == "open":
        assert FILE_AGAIN in text
    else:
        assert FILE in text
        assert FILE_AGAIN not in text

    # The paper code (no login): the payment part of the same story, nothing of the dispute.
    portal.cookies.clear()
    summary = portal.post("/code", data={"_csrf_token": _csrf(portal), "code": CODE})
    assert summary.status_code == 200
    code_text = _plain(summary.text)
    for wanted in case.code:
        assert wanted in code_text, wanted
    for unwanted in case.not_code:
        assert unwanted not in code_text, unwanted
    assert "Stand van zaken" not in code_text
