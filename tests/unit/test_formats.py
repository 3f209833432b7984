"""How amounts, account numbers and structured communications are written for people."""

from __future__ import annotations

from shared.i18n import format_iban, format_money, format_structured_communication


def test_a_structured_communication_is_written_as_banks_print_it() -> None:
    assert format_structured_communication("123456789002") == "+++123/4567/89002+++"
    assert format_structured_communication("12345") == "12345"  # not one: shown as it is


def test_an_iban_is_grouped_by_four() -> None:
    assert format_iban("BE71096123456769") == "BE71 0961 2345 6769"
    assert format_iban("be71 0961 2345 6769") == "BE71 0961 2345 6769"


def test_money_is_written_the_belgian_way() -> None:
    assert format_money(12550).replace("\xa0", " ") == "€ 125,50"
