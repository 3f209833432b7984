"""The channel rule, register numbers and number checks, without database or network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from stdnum.be import vat

from shared.errors import InvalidInput
from shared.integrations.magda import testdata
from shared.models import Channel, EboxStatus, PaperDelivery, RecipientKind
from shared.services import document_types
from shared.services.dispatch import choose_channel, format_register_number
from shared.services.recipients import normalise_enterprise_number


def test_a_citizen_with_ebox_gets_the_ebox_with_where_it_was_learnt() -> None:
    choice = choose_channel(
        RecipientKind.CITIZEN,
        EboxStatus.ACTIVATED,
        "college_decision",
        ebox_checked_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        ebox_source="MAGDA citizenEboxConsents",
    )
    assert choice.channel is Channel.EBOX
    assert choice.reason == (
        "De burger heeft de eBox geactiveerd (volgens MAGDA citizenEboxConsents, 02-03-2026)."
    )
    assert not choice.provisional


@pytest.mark.parametrize(
    ("document_type", "channel", "why"),
    [
        ("college_decision", Channel.PAPER, "Gewone post."),
        ("tax_assessment", Channel.PAPER, "Gewone post."),
        ("gas_fine", Channel.REGISTERED, "Aangetekende zending: een GAS-boete"),
        ("dispute_answer", Channel.REGISTERED, "Aangetekende zending: de beslissing over een"),
    ],
)
def test_without_ebox_paper_as_the_document_type_requires(
    document_type: str, channel: Channel, why: str
) -> None:
    choice = choose_channel(RecipientKind.CITIZEN, EboxStatus.NOT_ACTIVATED, document_type)
    assert choice.channel is channel
    assert choice.reason.startswith("De burger heeft de eBox niet geactiveerd.")
    assert why in choice.reason


def test_an_unknown_ebox_status_is_provisional_paper() -> None:
    choice = choose_channel(RecipientKind.CITIZEN, EboxStatus.UNKNOWN, "gas_fine")
    assert choice.provisional
    assert choice.channel is Channel.REGISTERED
    assert "nog niet gekend" in choice.reason


def test_enterprises_use_the_ebox_unless_they_have_none() -> None:
    assert choose_channel(RecipientKind.ENTERPRISE, EboxStatus.UNKNOWN, "x").channel is Channel.EBOX
    assert (
        choose_channel(RecipientKind.ENTERPRISE, EboxStatus.ACTIVATED, "x").channel is Channel.EBOX
    )
    assert (
        choose_channel(RecipientKind.ENTERPRISE, EboxStatus.NOT_ACTIVATED, "x").channel
        is Channel.PAPER
    )


def test_an_address_only_recipient_gets_paper() -> None:
    choice = choose_channel(RecipientKind.POSTAL, EboxStatus.ACTIVATED, "college_decision")
    assert choice.channel is Channel.PAPER
    assert choice.reason == "Alleen een postadres is gekend. Gewone post."


def test_acknowledgement_of_receipt_follows_the_rule() -> None:
    """The catalogue's registered types go registered without acknowledgement by default; an
    organisation's policy decides otherwise, with its own reason."""
    registered = [
        key
        for key, kind in document_types.CATALOGUE.items()
        if kind.paper is not PaperDelivery.NORMAL
    ]
    assert sorted(registered) == ["dispute_answer", "gas_fine"]
    for key in registered:
        choice = choose_channel(RecipientKind.POSTAL, EboxStatus.UNKNOWN, key)
        assert (choice.channel, choice.with_acknowledgement) == (Channel.REGISTERED, False)
    policy = document_types.Policy(
        "college_decision",
        PaperDelivery.REGISTERED_WITH_ACKNOWLEDGEMENT,
        None,
        None,
        customised=True,
    )
    choice = choose_channel(
        RecipientKind.CITIZEN, EboxStatus.NOT_ACTIVATED, "college_decision", policy=policy
    )
    assert choice.channel is Channel.REGISTERED
    assert choice.with_acknowledgement
    assert choice.reason == (
        "De burger heeft de eBox niet geactiveerd. Aangetekende zending met ontvangstbewijs:"
        " zo ingesteld door het bestuur voor dit soort stuk."
    )
    normal = document_types.Policy("gas_fine", PaperDelivery.NORMAL, None, None, customised=True)
    choice = choose_channel(RecipientKind.POSTAL, EboxStatus.UNKNOWN, "gas_fine", policy=normal)
    assert (choice.channel, choice.reason) == (
        Channel.PAPER,
        "Alleen een postadres is gekend. Gewone post.",
    )


@pytest.mark.parametrize(
    ("year", "sequence", "number"),
    [(2026, 1, "2026/000001"), (2026, 123, "2026/000123"), (2027, 999999, "2027/999999")],
)
def test_register_number_format(year: int, sequence: int, number: str) -> None:
    assert format_register_number(year, sequence) == number


def test_enterprise_numbers() -> None:
    assert normalise_enterprise_number("0403.170.701") == "0403170701"
    assert normalise_enterprise_number("BE 0403 170 701") == "0403170701"
    assert normalise_enterprise_number("403170701") == "0403170701"
    with pytest.raises(InvalidInput, match="controlegetal"):
        normalise_enterprise_number("0403170702")
    with pytest.raises(InvalidInput, match="10 cijfers"):
        normalise_enterprise_number("04031707")


def test_the_sandbox_test_data_has_valid_numbers() -> None:
    from shared.protection import normalise_ssin

    for person in testdata.PEOPLE:
        assert normalise_ssin(person.ssin) == person.ssin
    for enterprise in testdata.ENTERPRISES:
        assert vat.is_valid(enterprise.enterprise_number)
    assert {p.key for p in testdata.PEOPLE} >= {"an-janssens", "pieter-de-smet"}
    assert any(p.ebox for p in testdata.PEOPLE)
    assert any(not p.ebox for p in testdata.PEOPLE)
    assert testdata.UNKNOWN_SSIN not in {p.ssin for p in testdata.PEOPLE}
