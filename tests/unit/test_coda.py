"""Reading CODA files: movements, structured communications, globalisations, bad input."""

from __future__ import annotations

from datetime import date

import pytest

from shared.errors import InvalidInput
from shared.services.bank_statements import is_coda, parse_coda
from tests.coda import Movement, coda

IBAN = "BE71096123456769"


def test_reads_movements_with_structured_and_free_communication() -> None:
    content = coda(
        [
            Movement("BANKREF0001", 12550, structured="123456789002", name="Ann Peeters"),
            Movement("BANKREF0002", 2000, text="factuur +++090/9337/55493+++"),
            Movement("BANKREF0003", 700, credit=False, text="kosten"),
        ],
        iban=IBAN,
    )
    assert is_coda(content)
    (statement,) = parse_coda(content)
    assert statement.account_iban == IBAN
    assert statement.statement_id == "CODA-2026-231-231"
    first, second, third = statement.lines
    assert first.entry_reference == "BANKREF0001"
    assert first.amount_cents == 12550
    assert first.is_credit
    assert first.structured_references == ("123456789002",)
    assert first.counterparty_name == "Ann Peeters"
    assert first.counterparty_iban == "BE94735001234514"
    assert first.booking_date == date(2026, 11, 27)
    assert second.remittance_text == "factuur +++090/9337/55493+++"
    assert not third.is_credit


def test_a_globalisation_counts_by_its_details() -> None:
    content = coda(
        [],
        iban=IBAN,
        globalised=[
            (
                "GLOBAL01",
                [
                    Movement("GLOBAL01", 1000, structured="123456789002"),
                    Movement("GLOBAL01", 2500, structured="090933755493"),
                ],
            )
        ],
    )
    (statement,) = parse_coda(content)
    assert [(line.entry_reference, line.amount_cents) for line in statement.lines] == [
        ("GLOBAL01/0001", 1000),
        ("GLOBAL01/0002", 2500),
    ]


def test_a_belgian_account_number_becomes_its_iban() -> None:
    content = coda([Movement("R1", 100)], iban=IBAN).decode("latin-1")
    lines = content.split("\r\n")
    lines[1] = lines[1][:1] + "0" + lines[1][2:5] + "096123456769" + " " * 25 + lines[1][42:]
    (statement,) = parse_coda("\r\n".join(lines).encode("latin-1"))
    assert statement.account_iban == IBAN


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda lines: lines[:-2], "record 9"),
        (lambda lines: [lines[0], *lines[2:]], "record 1"),
        (lambda lines: [*lines[:2], "7" + lines[2][1:], *lines[3:]], "onbekend recordtype"),
        (lambda lines: [*lines[:2], lines[2][:32] + "12x" + lines[2][35:], *lines[3:]], "bedrag"),
        (lambda lines: [*lines[:2], lines[2] + "XYZ", *lines[3:]], "langer dan 128"),
        (lambda lines: lines[1:], "record 0"),
    ],
)
def test_malformed_coda_is_refused(mangle: object, message: str) -> None:
    lines = coda([Movement("R1", 100)], iban=IBAN).decode("latin-1").split("\r\n")
    broken = "\r\n".join(mangle(lines)).encode("latin-1")  # type: ignore[operator]
    with pytest.raises(InvalidInput) as caught:
        parse_coda(broken)
    assert "niets veranderd" in caught.value.message
    assert message.lower() in caught.value.message.lower()
