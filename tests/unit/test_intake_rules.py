"""Rules of the intake that need no database: KBO and national register numbers, amounts and
dates as people type them, and the Dutch messages for malformed API JSON."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from shared.errors import FieldErrors, InvalidInput
from shared.integrations.oidc.identities import make_ssin
from shared.models import DisputeRight, RecipientKind
from shared.services import submissions
from shared.services.registration import (
    Problems,
    fingerprint,
    normalise_enterprise_number,
    normalise_national_number,
    parse_amount_cents,
    parse_date,
    read_decision,
    read_letter,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0403.170.701", "0403170701"),
        ("BE 0403 170 701", "0403170701"),
        ("be0403170701", "0403170701"),
        ("403170701", "0403170701"),  # an old 9-digit number gets its leading 0
        ("0203.201.340", "0203201340"),
    ],
)
def test_valid_enterprise_numbers_are_normalised(typed: str, expected: str) -> None:
    assert normalise_enterprise_number(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0403.170.702", "controlegetal is fout"),
        ("12345", "10 cijfers"),
        ("2403170701", "begint met 0 of 1"),
        ("04O3170701", "10 cijfers"),
        ("", "10 cijfers"),
    ],
)
def test_wrong_enterprise_numbers_say_why(typed: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        normalise_enterprise_number(typed)


def test_national_register_numbers_and_bis_numbers() -> None:
    assert normalise_national_number("85.07.30-033.28") == "85073003328"
    born_2001 = make_ssin(date(2001, 1, 9), 250)  # born after 2000: check digits with a 2
    assert normalise_national_number(born_2001) == born_2001
    # a bis number: the month plus 40 (sex known)
    assert normalise_national_number("85.47.30-000.50") == "85473000050"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("85.07.30-033.29", "controlegetal"),
        ("8507300332", "11 cijfers"),
        ("85073003328a", "11 cijfers"),
    ],
)
def test_wrong_national_register_numbers_say_why(typed: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        normalise_national_number(typed)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("125", 12500),
        ("125,5", 12550),
        ("125,50", 12550),
        ("€ 1.234,50", 123450),
        ("1,234.50", 123450),
        ("1.234", 123400),
        ("12.5", 1250),
        ("0,01", 1),
        ("", None),
        ("   ", None),
    ],
)
def test_amounts_in_euro_become_cents(typed: str, cents: int | None) -> None:
    assert parse_amount_cents(typed) == cents


@pytest.mark.parametrize("typed", ["12,345", "twaalf", "-5", "1,2,3", "0", "0,00"])
def test_wrong_amounts_are_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount_cents(typed)


def test_dates_as_typed_or_as_sent_by_a_date_field() -> None:
    assert parse_date("2026-12-31") == date(2026, 12, 31)
    assert parse_date("31/12/2026") == date(2026, 12, 31)
    assert parse_date("1.2.2027") == date(2027, 2, 1)
    assert parse_date("") is None
    with pytest.raises(InvalidInput, match="geldige datum"):
        parse_date("31/02/2026")


def test_reading_flat_fields_collects_every_problem() -> None:
    problems = Problems()
    decision = read_decision(
        {"body": "parlement", "session_date": "gisteren", "decision_number": " 12 "}, problems
    )
    letter = read_letter(
        {
            "documents.0.recipient.kind": "citizen",
            "documents.0.amount_due": "veel",
            "documents.0.dispute_right": "custom",
            "documents.0.due_date": "2026-13-01",
        },
        problems,
        prefix="documents.0.",
    )
    assert decision.decision_number == "12"
    assert letter.recipient.kind is RecipientKind.CITIZEN
    assert letter.dispute_right is DisputeRight.CUSTOM
    assert set(problems.errors) == {
        "body",
        "session_date",
        "documents.0.amount_due",
        "documents.0.due_date",
    }


def test_the_fingerprint_holds_no_national_register_number_and_sees_every_change() -> None:
    problems = Problems()
    values = {
        "body": "college",
        "session_date": "2026-11-20",
        "decision_number": "2026_CBS_1",
        "title": "T",
    }
    decision = read_decision(values, problems)
    fields = {"recipient.kind": "citizen", "recipient.national_register_number": "85073003328"}
    letter = read_letter(fields, problems, content=b"%PDF-a")
    first = fingerprint(decision, [letter])
    assert first == fingerprint(decision, [letter])
    other_pdf = read_letter(fields, problems, content=b"%PDF-b")
    assert fingerprint(decision, [other_pdf]) != first
    other_number = read_letter(
        {**fields, "recipient.national_register_number": "01010100126"},
        problems,
        content=b"%PDF-a",
    )
    assert fingerprint(decision, [other_number]) != first


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        (b'{"title": 5}', "title", "Verwacht: tekst; ontvangen: een geheel getal."),
        (b"{}", "body", "Dit veld is verplicht."),
        (
            b'{"external_id": "x", "body": "college", "session_date": "2026-01-01",'
            b' "decision_number": "1", "title": "T", "documents": [{"file": "a",'
            b' "recipient": {"kind": "citizen", "name": "A", "rrn": "1"}}]}',
            "documents.0.recipient.rrn",
            "Dit veld bestaat niet.",
        ),
        (
            b'{"external_id": "x", "body": "parlement"}',
            "body",
            "De waarde 'parlement' is niet toegelaten.",
        ),
        (
            b'{"external_id": "x", "body": "college", "session_date": "20/11/2026"}',
            "session_date",
            "Geef een datum als JJJJ-MM-DD.",
        ),
        (b"{niet json", "decision", "Dit is geen geldige JSON (UTF-8)."),
    ],
)
def test_malformed_api_json_gets_a_dutch_message_per_field(
    document: bytes, field: str, message: str
) -> None:
    with pytest.raises(FieldErrors) as caught:
        submissions.decode(document, submissions.DecisionIn, what="decision")
    assert caught.value.errors == {field: message}


def test_the_api_schema_round_trips() -> None:
    data = submissions.decode(
        b'{"external_id": "gn-1", "body": "college", "session_date": "2026-11-20",'
        b' "decision_number": "2026_CBS_00123", "title": "Omgevingsvergunning",'
        b' "documents": [{"file": "brief1", "recipient": {"kind": "enterprise",'
        b' "name": "Bouwbedrijf NV", "enterprise_number": "0403.170.701"},'
        b' "amount_due_cents": 12500, "due_date": "2027-01-31", "dispute_right": "custom",'
        b' "dispute_legal_text": "U kunt beroep aantekenen bij de deputatie."}]}',
        submissions.DecisionIn,
        what="decision",
    )
    decision, letters, missing = submissions.to_inputs(data, {})
    assert decision.external_id == "gn-1"
    assert letters[0].amount_due_cents == 12500
    assert letters[0].recipient.kind is RecipientKind.ENTERPRISE
    assert missing == {"documents.0.file": "Het PDF-bestand ‘brief1’ ontbreekt in het verzoek."}
    assert msgspec.json.decode(msgspec.json.encode(data), type=submissions.DecisionIn) == data


def test_the_api_knows_the_same_document_types_as_the_intake() -> None:
    from typing import get_args

    from shared.services import document_types
    from shared.services.register import DOCUMENT_TYPE_NAMES
    from shared.services.registration import DOCUMENT_TYPES
    from shared.services.screening import SCREENING_RULES

    catalogue = list(document_types.CATALOGUE)
    assert list(get_args(submissions.DocumentType)) == catalogue
    assert list(DOCUMENT_TYPES) == catalogue
    assert list(DOCUMENT_TYPE_NAMES) == catalogue
    assert set(SCREENING_RULES) == set(catalogue) - {"letter"}
