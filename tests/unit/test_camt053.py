"""Reading CAMT.053 files and finding the structured communication in a line."""

from __future__ import annotations

from datetime import date

import pytest

from shared.errors import InvalidInput
from shared.services.bank_statements import candidate_references, parse_camt053
from tests.camt import Entry, statement

IBAN = "BE71096123456769"


def test_reads_statement_and_lines() -> None:
    content = statement(
        [
            Entry("E1", 12550, structured="123456789002"),
            Entry("E2", 5000, text="Factuur +++090/9337/55493+++ dank"),
            Entry("E3", 700, credit=False, text="Bankkosten"),
        ],
        iban=IBAN,
    )
    (parsed,) = parse_camt053(content)
    assert parsed.statement_id == "2026-11-27-001"
    assert parsed.sequence_number == "231"
    assert parsed.account_iban == IBAN
    assert [line.entry_reference for line in parsed.lines] == ["E1", "E2", "E3"]
    first = parsed.lines[0]
    assert first.amount_cents == 12550
    assert first.is_credit
    assert first.structured_references == ("123456789002",)
    assert first.counterparty_name == "Jan Peeters"
    assert first.booking_date == date(2026, 11, 27)
    assert parsed.lines[1].remittance_text == "Factuur +++090/9337/55493+++ dank"
    assert not parsed.lines[2].is_credit


def test_an_entry_with_several_transactions_gives_a_line_each() -> None:
    content = statement(
        [Entry("BATCH", 0, transactions=(("T1", 1000, "123456789002"), ("T2", 2500, None)))],
        iban=IBAN,
    )
    (parsed,) = parse_camt053(content)
    assert [(line.entry_reference, line.amount_cents) for line in parsed.lines] == [
        ("T1", 1000),
        ("T2", 2500),
    ]


def test_pending_entries_are_left_out() -> None:
    content = statement([Entry("P1", 100, status="PDNG"), Entry("B1", 100)], iban=IBAN)
    (parsed,) = parse_camt053(content)
    assert [line.entry_reference for line in parsed.lines] == ["B1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "leeg"),
        (b"<Document><oops", "geen geldige XML"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', "DOCTYPE"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><x/></Document>',
            "geen CAMT.053",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"></Document>',
            "BkToCstmrStmt",
        ),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(content: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_camt053(content)
    assert message in caught.value.message


def test_entries_without_amount_direction_or_reference_are_refused_all_at_once() -> None:
    good = statement([Entry("E1", 100)], iban=IBAN).decode()
    broken = (
        good.replace('<Amt Ccy="EUR">1.00</Amt>', '<Amt Ccy="EUR">1,00</Amt>', 1)
        .replace("<CdtDbtInd>CRDT</CdtDbtInd><Sts>", "<CdtDbtInd>X</CdtDbtInd><Sts>", 1)
        .replace("<NtryRef>E1</NtryRef>", "")
        .replace("<AcctSvcrRef>E1</AcctSvcrRef>", "")
    )
    with pytest.raises(InvalidInput) as caught:
        parse_camt053(broken.encode())
    text = caught.value.message
    assert "niets veranderd" in text
    assert "bedrag" in text
    assert "CdtDbtInd" in text
    assert "referentie" in text


def test_the_same_reference_twice_in_a_statement_is_refused() -> None:
    with pytest.raises(InvalidInput, match="twee keer"):
        parse_camt053(statement([Entry("E1", 100), Entry("E1", 200)], iban=IBAN))


def test_missing_account_is_refused() -> None:
    content = statement([Entry("E1", 100)], iban=IBAN).replace(f"<IBAN>{IBAN}</IBAN>".encode(), b"")
    with pytest.raises(InvalidInput, match="Acct/Id/IBAN"):
        parse_camt053(content)


@pytest.mark.parametrize(
    ("structured", "text", "expected"),
    [
        (["123456789002"], None, ["123456789002"]),
        (["+++123/4567/89002+++"], None, ["123456789002"]),
        ([], "betaling +++090/9337/55493+++", ["090933755493"]),
        ([], "betaling ***090/9337/55493***", ["090933755493"]),
        ([], "ref 090933755493 bedankt", ["090933755493"]),
        ([], "ref 090/9337/55493", ["090933755493"]),
        ([], "ref 090933755494 (fout controlegetal)", []),
        ([], "rekening 1234567890123 geen mededeling", []),
        (["123456789002"], "ook +++123/4567/89002+++", ["123456789002"]),
        (["123456789002"], "en 090933755493", ["123456789002", "090933755493"]),
        (["RF18539007547034"], None, []),
    ],
)
def test_candidate_references(structured: list[str], text: str | None, expected: list[str]) -> None:
    assert candidate_references(structured, text) == expected
