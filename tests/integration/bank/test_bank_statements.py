"""Importing CAMT.053 statements: matching by structured communication, the review list,
idempotence (the same statement twice changes nothing), and bad input."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.errors import Forbidden, InvalidInput
from shared.models import (
    AuditEvent,
    BankStatement,
    BankStatementLine,
    LineStatus,
    Payment,
    PaymentMethod,
    PaymentRequestStatus,
)
from shared.models.bank_statements import ReviewReason
from shared.services import bank_statements, payments
from shared.services.transitions import transition
from tests.camt import Entry, statement
from tests.coda import Movement, coda
from tests.integration.bank.conftest import IBAN_A, World, payment_request


def _ogm_text(digits: str) -> str:
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def _counts(session: Session) -> tuple[int, int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(BankStatement)) or 0,
        session.scalar(select(func.count()).select_from(BankStatementLine)) or 0,
        session.scalar(select(func.count()).select_from(Payment)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def test_a_statement_of_500_lines_imports_and_matches_and_a_second_import_changes_nothing(
    session: Session, world: World
) -> None:
    rng = random.Random(7)
    requests = [
        payment_request(session, world.a, amount_cents=1000 + n * 7, name=f"Burger {n}")
        for n in range(450)
    ]
    entries: list[Entry] = []
    for n, request in enumerate(requests):
        ogm = request.structured_communication
        where = n % 3
        entries.append(
            Entry(
                f"REF{n:05d}",
                request.amount_cents,
                structured=ogm if where == 0 else None,
                text=(
                    _ogm_text(ogm) if where == 1 else f"betaling {ogm} dank" if where == 2 else None
                ),
                debtor=f"Burger {n}",
            )
        )
    for n in range(30):  # no usable reference
        entries.append(Entry(f"NOREF{n:03d}", 5000 + n, text=f"factuur {n}"))
    for n in range(10):  # valid communication of no request
        entries.append(Entry(f"UNKNOWN{n:02d}", 2500, structured="123456789002"))
    for n in range(10):  # bank costs going out
        entries.append(Entry(f"DEBIT{n:02d}", 150, credit=False, text="Kosten"))
    rng.shuffle(entries)
    assert len(entries) == 500
    content = statement(entries, iban=IBAN_A)
    session.commit()

    context = world.context()
    started = time.perf_counter()
    result = bank_statements.import_statement(
        session, context, file_name="camt.xml", content=content
    )
    session.commit()
    elapsed = time.perf_counter() - started
    assert (result.new_lines, result.matched, result.review, result.debit) == (500, 450, 40, 10)
    assert elapsed < 60

    session.expire_all()
    for request in requests:
        assert request.status is PaymentRequestStatus.PAID
        assert payments.balance(session, request).outstanding_cents == 0
    assert (
        session.scalar(select(func.count()).where(Payment.method == PaymentMethod.BANK_TRANSFER))
        == 450
    )
    reasons = {line.review_reason for line in bank_statements.review_lines(session, context)}
    assert reasons == {ReviewReason.NO_REFERENCE, ReviewReason.UNKNOWN_REFERENCE}
    before = _counts(session)
    session.commit()

    again = bank_statements.import_statement(
        session, context, file_name="camt.xml", content=content
    )
    session.commit()
    assert again.changed_nothing
    assert again.already_imported == ["2026-11-27-001"]
    assert _counts(session) == before


def test_overlapping_statement_books_only_new_lines(session: Session, world: World) -> None:
    first = payment_request(session, world.a, amount_cents=1000)
    second = payment_request(session, world.a, amount_cents=2000)
    session.commit()
    context = world.context()
    bank_statements.import_statement(
        session,
        context,
        file_name="a.xml",
        content=statement(
            [Entry("R1", 1000, structured=first.structured_communication)],
            iban=IBAN_A,
            statement_id="S1",
        ),
    )
    result = bank_statements.import_statement(
        session,
        context,
        file_name="b.xml",
        content=statement(
            [
                Entry("R1", 1000, structured=first.structured_communication),
                Entry("R2", 2000, structured=second.structured_communication),
            ],
            iban=IBAN_A,
            statement_id="S2",
        ),
    )
    session.commit()
    assert (result.new_lines, result.duplicate_lines, result.matched) == (1, 1, 1)
    assert session.scalar(select(func.count()).select_from(Payment)) == 2


def test_partial_and_overpayment_are_booked_and_marked(session: Session, world: World) -> None:
    partial = payment_request(session, world.a, amount_cents=10000)
    over = payment_request(session, world.a, amount_cents=5000)
    session.commit()
    bank_statements.import_statement(
        session,
        world.context(),
        file_name="a.xml",
        content=statement(
            [
                Entry("P1", 4000, structured=partial.structured_communication),
                Entry("O1", 6000, structured=over.structured_communication),
            ],
            iban=IBAN_A,
        ),
    )
    session.commit()
    session.expire_all()
    lines = {
        line.entry_reference: line for line in session.scalars(select(BankStatementLine)).all()
    }
    assert lines["P1"].status is LineStatus.MATCHED
    assert lines["P1"].amount_note == "partial"
    assert lines["O1"].amount_note == "overpaid"
    assert partial.status is PaymentRequestStatus.PARTIALLY_PAID
    assert over.status is PaymentRequestStatus.PAID
    assert payments.balance(session, over).overpaid_cents == 1000


def test_ambiguous_and_refused_lines_go_to_review(session: Session, world: World) -> None:
    one = payment_request(session, world.a, amount_cents=1000)
    two = payment_request(session, world.a, amount_cents=1000)
    cancelled = payment_request(session, world.a, amount_cents=3000)
    transition(session, cancelled, PaymentRequestStatus.CANCELLED, actor=world.context().actor)
    session.commit()
    bank_statements.import_statement(
        session,
        world.context(),
        file_name="a.xml",
        content=statement(
            [
                Entry(
                    "AMB",
                    1000,
                    text=f"{_ogm_text(one.structured_communication)} en"
                    f" {_ogm_text(two.structured_communication)}",
                ),
                Entry("CAN", 3000, structured=cancelled.structured_communication),
                Entry("USD", 1000, structured=one.structured_communication, currency="USD"),
            ],
            iban=IBAN_A,
        ),
    )
    session.commit()
    lines = {
        line.entry_reference: line
        for line in bank_statements.review_lines(session, world.context())
    }
    assert lines["AMB"].review_reason is ReviewReason.AMBIGUOUS
    assert lines["CAN"].review_reason is ReviewReason.REFUSED
    assert lines["USD"].review_reason is ReviewReason.CURRENCY
    assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_finance_assigns_a_line_by_hand_or_dismisses_it(session: Session, world: World) -> None:
    request = payment_request(session, world.a, amount_cents=7500)
    session.commit()
    context = world.context()
    bank_statements.import_statement(
        session,
        context,
        file_name="a.xml",
        content=statement(
            [Entry("H1", 7500, text="aanslag Jan"), Entry("H2", 99, text="rente")],
            iban=IBAN_A,
        ),
    )
    session.commit()
    lines = {line.entry_reference: line for line in bank_statements.review_lines(session, context)}
    suggested = bank_statements.suggestions(session, context, lines["H1"])
    assert suggested[0].id == request.id

    with pytest.raises(InvalidInput, match="reden"):
        bank_statements.dismiss_line(session, context, lines["H2"].id, reason="   ")
    bank_statements.assign_line(
        session, context, lines["H1"].id, payment_request_id=request.id, note="naam klopt"
    )
    bank_statements.dismiss_line(session, context, lines["H2"].id, reason="rente van de bank")
    session.commit()
    session.expire_all()
    assert request.status is PaymentRequestStatus.PAID
    assert bank_statements.review_lines(session, context) == []
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"bank_statement_line.assigned", "bank_statement_line.dismissed"} <= actions
    with pytest.raises(InvalidInput, match="al verwerkt"):
        bank_statements.dismiss_line(session, context, lines["H1"].id, reason="toch niet")


def test_statement_of_another_account_is_refused(session: Session, world: World) -> None:
    session.commit()
    with pytest.raises(InvalidInput, match="niet van Gemeente A"):
        bank_statements.import_statement(
            session,
            world.context(),
            file_name="a.xml",
            content=statement([Entry("X", 100)], iban="BE41063012345610"),
        )
    session.rollback()
    assert _counts(session)[0] == 0


def test_malformed_file_imports_nothing(session: Session, world: World) -> None:
    request = payment_request(session, world.a, amount_cents=1000)
    session.commit()
    good = statement(
        [
            Entry("OK", 1000, structured=request.structured_communication),
            Entry("BAD", 500),
        ],
        iban=IBAN_A,
    )
    broken = good.replace(b'<Amt Ccy="EUR">5.00</Amt>', b'<Amt Ccy="EUR">vijf</Amt>')
    with pytest.raises(InvalidInput, match="niets veranderd"):
        bank_statements.import_statement(
            session, world.context(), file_name="a.xml", content=broken
        )
    session.rollback()
    assert _counts(session)[:3] == (0, 0, 0)


def test_only_finance_imports_and_only_its_own_lines(session: Session, world: World) -> None:
    session.commit()
    with pytest.raises(Forbidden):
        bank_statements.import_statement(
            session,
            world.context(world.clerk),
            file_name="a.xml",
            content=statement([Entry("X", 100)], iban=IBAN_A),
        )
    bank_statements.import_statement(
        session,
        world.context(),
        file_name="a.xml",
        content=statement([Entry("X", 100)], iban=IBAN_A),
    )
    session.commit()
    other = world.context(world.finance_b, world.b)
    assert bank_statements.review_lines(session, other) == []
    line = session.scalars(select(BankStatementLine)).one()
    with pytest.raises(Exception, match="ander bestuur"):
        bank_statements.dismiss_line(session, other, line.id, reason="niet van ons")


def test_the_same_statement_imported_twice_at_once_is_stored_once(
    session: Session, world: World
) -> None:
    requests = [payment_request(session, world.a, amount_cents=1000 + n) for n in range(20)]
    content = statement(
        [
            Entry(f"C{n}", r.amount_cents, structured=r.structured_communication)
            for n, r in enumerate(requests)
        ],
        iban=IBAN_A,
    )
    session.commit()
    context = world.context()
    barrier = threading.Barrier(2)
    results: list[bank_statements.ImportResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with session_scope() as own:
                results.append(
                    bank_statements.import_statement(
                        own, context, file_name="a.xml", content=content
                    )
                )
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.new_lines for r in results) == [0, 20]
    assert session.scalar(select(func.count()).select_from(BankStatement)) == 1
    assert session.scalar(select(func.count()).select_from(Payment)) == 20


def test_a_coda_file_imports_and_matches_once(session: Session, world: World) -> None:
    first = payment_request(session, world.a, amount_cents=12550)
    second = payment_request(session, world.a, amount_cents=3000)
    session.commit()
    content = coda(
        [
            Movement("CODAREF0001", 12550, structured=first.structured_communication),
            Movement("CODAREF0002", 3000, text=f"aanslag {second.structured_communication}"),
            Movement("CODAREF0003", 4200, text="zonder mededeling"),
        ],
        iban=IBAN_A,
    )
    result = bank_statements.import_statement(
        session, world.context(), file_name="uittreksel.cod", content=content
    )
    session.commit()
    assert (result.new_lines, result.matched, result.review) == (3, 2, 1)
    again = bank_statements.import_statement(
        session, world.context(), file_name="uittreksel.cod", content=content
    )
    session.commit()
    assert again.changed_nothing
    session.expire_all()
    assert first.status is PaymentRequestStatus.PAID
    assert second.status is PaymentRequestStatus.PAID
    assert session.scalar(select(func.count()).select_from(Payment)) == 2
