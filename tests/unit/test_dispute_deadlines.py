"""The dispute deadline: working days, Belgian public holidays, weekends and month ends."""

from __future__ import annotations

from datetime import date

import pytest

from shared.config import load_settings
from shared.errors import InvalidInput
from shared.models.documents import DisputeRight
from shared.services.dispute_deadlines import (
    DisputeDeadline,
    add_months,
    add_working_days,
    answer_due,
    is_public_holiday,
    is_working_day,
    last_day,
    next_working_day,
    rule_for,
    term_end,
    term_start,
    validate_overrides,
)

WORKING = load_settings()
CALENDAR = load_settings(dispute_start_in_working_days=False)


def tax(settings=WORKING, overrides=None):
    rule = rule_for(DisputeRight.MUNICIPAL_TAX_OBJECTION, overrides, settings=settings)
    assert rule is not None
    return rule


def gas():
    rule = rule_for(DisputeRight.GAS_APPEAL, settings=WORKING)
    assert rule is not None
    return rule


# -- the calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # Nieuwjaar
        date(2026, 4, 6),  # Paasmaandag
        date(2026, 5, 1),  # Dag van de Arbeid
        date(2026, 5, 14),  # O.L.H.-Hemelvaart
        date(2026, 5, 25),  # Pinkstermaandag
        date(2026, 7, 21),  # Nationale feestdag
        date(2026, 8, 15),  # O.L.V.-Hemelvaart
        date(2026, 11, 1),  # Allerheiligen
        date(2026, 11, 11),  # Wapenstilstand
        date(2026, 12, 25),  # Kerstmis
        date(2027, 3, 29),  # Paasmaandag 2027
    ],
)
def test_belgian_public_holidays(day: date) -> None:
    assert is_public_holiday(day)
    assert not is_working_day(day)


def test_flemish_and_other_community_days_are_working_days() -> None:
    # 11 July (Vlaamse feestdag), 27 September, 15 November (Koningsdag): not national holidays.
    for day in (date(2025, 7, 11), date(2025, 9, 26), date(2027, 11, 15)):
        assert day.weekday() < 5
        assert not is_public_holiday(day)
        assert is_working_day(day)


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 3, 7))  # Saturday
    assert not is_working_day(date(2026, 3, 8))  # Sunday
    assert next_working_day(date(2026, 3, 7)) == date(2026, 3, 9)
    assert next_working_day(date(2026, 3, 9)) == date(2026, 3, 9)


def test_add_working_days_skips_weekends_and_holidays() -> None:
    assert add_working_days(date(2026, 1, 2), 3) == date(2026, 1, 7)  # Fri → Wed
    assert add_working_days(date(2026, 4, 2), 3) == date(2026, 4, 8)  # over Easter Monday
    assert add_working_days(date(2026, 11, 9), 3) == date(2026, 11, 13)  # over 11 November
    assert add_working_days(date(2026, 10, 30), 3) == date(2026, 11, 4)  # over 1 November
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # over Christmas


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 3, 15), 12) == date(2027, 3, 15)


def test_term_in_months_ends_the_day_before_the_same_day_number() -> None:
    assert term_end(date(2026, 1, 8), months=3) == date(2026, 4, 7)
    assert term_end(date(2026, 3, 1), months=1) == date(2026, 3, 31)
    assert term_end(date(2026, 11, 15), months=3) == date(2027, 2, 14)


def test_term_in_months_ends_on_the_last_day_when_the_month_is_shorter() -> None:
    assert term_end(date(2026, 1, 31), months=1) == date(2026, 2, 28)
    assert term_end(date(2028, 1, 31), months=1) == date(2028, 2, 29)  # leap year
    assert term_end(date(2026, 3, 31), months=3) == date(2026, 6, 30)
    assert term_end(date(2026, 11, 30), months=3) == date(2027, 2, 28)


def test_term_in_days_counts_the_first_day() -> None:
    assert term_end(date(2026, 12, 2), days=30) == date(2026, 12, 31)
    assert term_end(date(2026, 12, 2), days=1) == date(2026, 12, 2)


# -- tax objection: 3 months from the third (working) day after sending -------------------------


def test_tax_objection_counts_from_the_third_working_day() -> None:
    # Sent Monday 5 January: the third working day is Thursday 8 January.
    assert term_start(tax(), date(2026, 1, 5)) == date(2026, 1, 8)
    assert last_day(tax(), date(2026, 1, 5)) == date(2026, 4, 7)


def test_tax_objection_ending_on_easter_monday_moves_to_tuesday() -> None:
    # Sent Friday 2 January: third working day Wednesday 7 January; the term would end on
    # Easter Monday 6 April 2026.
    assert term_start(tax(), date(2026, 1, 2)) == date(2026, 1, 7)
    assert last_day(tax(), date(2026, 1, 2)) == date(2026, 4, 7)


def test_tax_objection_third_working_day_skips_11_november() -> None:
    assert term_start(tax(), date(2026, 11, 9)) == date(2026, 11, 13)
    assert last_day(tax(), date(2026, 11, 9)) == date(2027, 2, 12)


def test_tax_objection_third_working_day_skips_all_saints_and_the_weekend() -> None:
    assert last_day(tax(), date(2026, 10, 30)) == date(2027, 2, 3)


def test_tax_objection_in_calendar_days_is_a_setting() -> None:
    # Third calendar day after Friday 2 January: Monday 5 January; the term ends on Saturday
    # 4 April → Easter Sunday → Easter Monday → Tuesday 7 April.
    rule = tax(CALENDAR)
    assert term_start(rule, date(2026, 1, 2)) == date(2026, 1, 5)
    assert last_day(rule, date(2026, 1, 2)) == date(2026, 4, 7)
    # Sent Thursday 8 January: third calendar day Sunday 11 January → ends Friday 10 April.
    assert last_day(rule, date(2026, 1, 8)) == date(2026, 4, 10)
    assert last_day(tax(), date(2026, 1, 8)) == date(2026, 4, 13)  # working: from Tue 13 Jan


# -- GAS appeal: 1 month from the notification ---------------------------------------------------


def test_gas_appeal_one_month() -> None:
    assert last_day(gas(), date(2026, 3, 10)) == date(2026, 4, 10)


def test_gas_appeal_from_31_january_ends_at_the_end_of_february() -> None:
    # Start 31 January 2026 → 28 February 2026 is a Saturday → Monday 2 March.
    assert last_day(gas(), date(2026, 1, 30)) == date(2026, 3, 2)
    # 2028 is a leap year: 29 February 2028 is a Tuesday.
    assert last_day(gas(), date(2028, 1, 30)) == date(2028, 2, 29)


def test_gas_appeal_ending_on_christmas_moves_past_the_weekend() -> None:
    assert last_day(gas(), date(2026, 11, 24)) == date(2026, 12, 24)
    assert last_day(gas(), date(2026, 11, 25)) == date(2026, 12, 28)  # 25 Dec Fri, then Sat/Sun


def test_gas_appeal_11_july_is_not_a_holiday_but_21_july_is() -> None:
    assert last_day(gas(), date(2025, 6, 11)) == date(2025, 7, 11)
    # Ends on Sunday 20 July 2025 → Monday 21 July is the national holiday → Tuesday 22 July.
    assert last_day(gas(), date(2025, 6, 20)) == date(2025, 7, 22)


def test_gas_appeal_ending_on_1_and_11_november() -> None:
    # 1 November 2027 is a Monday (All Saints) → Tuesday 2 November.
    assert last_day(gas(), date(2027, 10, 1)) == date(2027, 11, 2)
    # 11 November 2027 is a Thursday (Armistice) → Friday 12 November.
    assert last_day(gas(), date(2027, 10, 11)) == date(2027, 11, 12)


# -- custom, overrides, answer deadline ---------------------------------------------------------


def test_custom_rule_in_days_from_the_settings() -> None:
    rule = rule_for(DisputeRight.CUSTOM, settings=WORKING)
    assert rule is not None
    assert (rule.months, rule.days) == (0, 30)
    assert last_day(rule, date(2026, 12, 1)) == date(2026, 12, 31)
    rule = rule_for(
        DisputeRight.CUSTOM, settings=load_settings(dispute_custom_months=2, dispute_custom_days=0)
    )
    assert rule is not None
    assert last_day(rule, date(2026, 12, 1)) == date(2027, 2, 1)


def test_no_rule_without_a_dispute_right() -> None:
    assert rule_for(DisputeRight.NONE, settings=WORKING) is None


def test_an_organisation_overrides_a_rule() -> None:
    overrides = {"municipal_tax_objection": {"months": 2, "legal_text": "Eigen tekst."}}
    rule = tax(overrides=overrides)
    assert rule.months == 2
    assert rule.legal_text == "Eigen tekst."
    assert rule.answer_months == 6  # unchanged fields keep the settings
    # Start 8 January 2026 + 2 months → Saturday 7 March → Monday 9 March.
    assert last_day(rule, date(2026, 1, 5)) == date(2026, 3, 9)
    assert tax(overrides={}).months == 3
    assert tax(overrides={"municipal_tax_objection": {"months": "veel"}}).months == 3  # ignored


def test_the_competent_service_follows_the_document_type() -> None:
    rule = rule_for(DisputeRight.CUSTOM, document_type="tax_assessment", settings=WORKING)
    assert rule is not None
    assert rule.competent_service == "belastingen"
    assert tax().competent_service == "belastingen"
    assert gas().competent_service == "gas"
    custom = rule_for(DisputeRight.CUSTOM, document_type="college_decision", settings=WORKING)
    assert custom is not None
    assert custom.competent_service == "secretariaat"


def test_overrides_are_validated() -> None:
    assert validate_overrides({"gas_appeal": {"months": 2}}) == {"gas_appeal": {"months": 2}}
    with pytest.raises(InvalidInput):
        validate_overrides({"parking": {"months": 2}})
    with pytest.raises(InvalidInput):
        validate_overrides({"gas_appeal": {"months": -1}})
    with pytest.raises(InvalidInput):
        validate_overrides({"gas_appeal": {"weeks": 2}})


def test_answer_deadline_six_months_for_a_tax_objection() -> None:
    assert answer_due(tax(), date(2026, 1, 15)) == date(2026, 7, 15)
    # From 31 August: 28 February 2027 is a Sunday → Monday 1 March.
    assert answer_due(tax(), date(2026, 8, 31)) == date(2027, 3, 1)
    assert answer_due(gas(), date(2026, 1, 15)) == date(2026, 4, 15)


def test_deadline_is_open_until_the_last_day_included() -> None:
    deadline = DisputeDeadline(
        rule=tax(),
        reference_date=date(2026, 1, 2),
        by_delivery=False,
        last_day=date(2026, 4, 7),
        legal_text="",
    )
    assert deadline.is_open(date(2026, 4, 7))
    assert not deadline.is_open(date(2026, 4, 8))
    not_started = DisputeDeadline(tax(), None, True, None, "")
    assert not_started.is_open(date(2030, 1, 1))
