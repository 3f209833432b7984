"""Structured communication (OGM) and the EPC QR payload, against EPC069-12's examples."""

from __future__ import annotations

import itertools

import pytest
import segno.helpers

from shared.errors import InvalidInput
from shared.services.payment_references import (
    EpcTransfer,
    check_digits,
    epc_amount,
    epc_payload,
    epc_qr,
    epc_qr_svg,
    find_ogm,
    format_ogm,
    generate_unique_ogm,
    is_valid_ogm,
    make_ogm,
    normalise_iban,
    ogm_transfer,
    parse_ogm,
    random_ogm,
)


@pytest.mark.parametrize(
    ("base", "check"),
    [
        ("1234567890", "02"),  # the textbook +++123/4567/89002+++
        ("0000000000", "97"),  # remainder 0 gives 97, never 00
        ("0000000097", "97"),
        ("0000000001", "01"),
        ("0000000096", "96"),
        ("9999999999", f"{9999999999 % 97:02d}"),
        ("0902211234", f"{902211234 % 97:02d}"),
    ],
)
def test_check_digits_are_the_ten_digits_modulo_97_with_97_for_zero(base: str, check: str) -> None:
    assert check_digits(base) == check
    assert is_valid_ogm(base + check)


def test_format_and_parse_round_trip() -> None:
    assert format_ogm("123456789002") == "+++123/4567/89002+++"
    for written in (
        "+++123/4567/89002+++",
        "***123/4567/89002***",
        "123456789002",
        " 123 4567 89002 ",
        "123/4567/89002",
    ):
        assert parse_ogm(written) == "123456789002"


@pytest.mark.parametrize("text", ["", "+++123/4567/8900+++", "12345678900a", "1234567890021"])
def test_parse_refuses_what_is_not_twelve_digits_in_dutch(text: str) -> None:
    with pytest.raises(InvalidInput, match="twaalf cijfers"):
        parse_ogm(text)


def test_parse_refuses_a_wrong_check_digit_in_dutch() -> None:
    with pytest.raises(InvalidInput, match="controlegetal"):
        parse_ogm("+++123/4567/89003+++")


def test_every_single_digit_typo_is_caught() -> None:
    digits = "123456789002"
    for position, replacement in itertools.product(range(12), "0123456789"):
        if digits[position] == replacement:
            continue
        typo = digits[:position] + replacement + digits[position + 1 :]
        assert not is_valid_ogm(typo), typo


def test_random_communications_are_valid_and_unique_ones_skip_those_in_use() -> None:
    for _ in range(200):
        assert is_valid_ogm(random_ogm())
    values = iter([0, 0, 1234567890])
    used = {make_ogm("0000000000")}
    assert generate_unique_ogm(used.__contains__, randbelow=lambda _n: next(values)) == (
        "123456789002"
    )
    with pytest.raises(RuntimeError):
        generate_unique_ogm(lambda _c: True, attempts=3)


def test_find_ogm_in_free_text() -> None:
    assert find_ogm("Betaling aanslag +++123/4567/89002+++ dank") == "123456789002"
    assert find_ogm("ref 123 4567 89002") == "123456789002"
    assert find_ogm("ref 123456789003") is None
    assert find_ogm("") is None


def test_iban_is_normalised_and_checked_with_its_belgian_account_check() -> None:
    assert normalise_iban("BE32 0910 0012 3402") == "BE32091000123402"
    with pytest.raises(InvalidInput, match="IBAN"):
        normalise_iban("BE68 5390 0754 7035")


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1, "EUR0.01"), (100, "EUR1"), (1230, "EUR12.3"), (12345, "EUR123.45"), (45000, "EUR450")],
)
def test_epc_amount_format(cents: int, text: str) -> None:
    assert epc_amount(cents) == text


@pytest.mark.parametrize("cents", [0, -1, 100_000_000_000])
def test_epc_amount_range(cents: int) -> None:
    with pytest.raises(ValueError, match="EUR"):
        epc_amount(cents)


def test_the_epc069_12_example_of_the_belgian_red_cross() -> None:
    """EPC069-12 v2.1, section 'Example': a transfer of EUR 1 to the Red Cross of Belgium,
    purpose CHAR, unstructured remittance 'Urgency fund', information 'Sample EPC QR code'."""
    transfer = EpcTransfer(
        version="001",
        bic="BPOTBEB1",
        name="Red Cross of Belgium",
        iban="BE72000000001616",
        amount_cents=100,
        purpose="CHAR",
        text="Urgency fund",
        information="Sample EPC QR code",
    )
    assert epc_payload(transfer) == (
        "BCD\n001\n1\nSCT\nBPOTBEB1\nRed Cross of Belgium\nBE72000000001616\nEUR1\nCHAR\n"
        "\nUrgency fund\nSample EPC QR code"
    )
    # Version 002: the BIC may be left out within the EEA.
    v2 = EpcTransfer(
        name="Red Cross of Belgium",
        iban="BE72000000001616",
        amount_cents=100,
        purpose="CHAR",
        text="Urgency fund",
    )
    assert epc_payload(v2) == (
        "BCD\n002\n1\nSCT\n\nRed Cross of Belgium\nBE72000000001616\nEUR1\nCHAR\n\nUrgency fund"
    )


def test_payload_agrees_with_segnos_epc_helper() -> None:
    """segno implements EPC069-12 independently; the same transfer gives the same bytes."""
    ours = epc_payload(
        EpcTransfer(
            name="Red Cross of Belgium",
            iban="BE72000000001616",
            bic="BPOTBEB1",
            amount_cents=100,
            purpose="CHAR",
            text="Urgency fund",
        )
    )
    theirs = segno.helpers._make_epc_qr_data(  # type: ignore[attr-defined]
        "Red Cross of Belgium",
        "BE72000000001616",
        1,
        text="Urgency fund",
        bic="BPOTBEB1",
        purpose="CHAR",
        encoding=1,
    )
    assert ours.encode() == theirs
    ogm = ogm_transfer(
        name="Gemeente Zegelbeek",
        iban="BE32091000123402",
        bic=None,
        amount_cents=1230,
        ogm_digits="123456789002",
    )
    assert epc_payload(ogm).encode() == segno.helpers._make_epc_qr_data(  # type: ignore[attr-defined]
        "Gemeente Zegelbeek", "BE32091000123402", 12.3, reference="123456789002", encoding=1
    )


def test_a_payment_request_puts_the_ogm_in_the_structured_reference() -> None:
    transfer = ogm_transfer(
        name="Gemeente Zegelbeek",
        iban="BE32 0910 0012 3402",
        bic="GKCCBEBB",
        amount_cents=45000,
        ogm_digits="123456789002",
    )
    assert epc_payload(transfer).split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "GKCCBEBB",
        "Gemeente Zegelbeek",
        "BE32091000123402",
        "EUR450",
        "",
        "123456789002",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 71}, "name"),
        ({"iban": "BE00000000000000"}, None),
        ({"reference": "123456789002", "text": "both"}, "exclude"),
        ({"reference": "1" * 36}, "35"),
        ({"text": "x" * 141}, "140"),
        ({"information": "x" * 71}, "70"),
        ({"purpose": "charity"}, "four-letter"),
        ({"version": "003"}, "version"),
        ({"version": "001"}, "BIC"),
    ],
)
def test_the_payload_refuses_what_the_guidelines_forbid(
    change: dict[str, str], message: str | None
) -> None:
    base = {"name": "Gemeente", "iban": "BE32091000123402"}
    transfer = EpcTransfer(**{**base, **change})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        epc_payload(transfer)


def test_the_qr_code_has_level_m_and_decodes_to_the_payload() -> None:
    transfer = ogm_transfer(
        name="Gemeente Zegelbeek",
        iban="BE32091000123402",
        bic="GKCCBEBB",
        amount_cents=12550,
        ogm_digits="123456789002",
    )
    qr = epc_qr(transfer)
    assert qr.error == "M"
    assert int(qr.version) <= 13
    svg = epc_qr_svg(transfer, title="QR-code voor overschrijving")
    assert svg.startswith("<svg")
    assert "<title>QR-code voor overschrijving</title>" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
