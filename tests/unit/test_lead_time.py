"""Lead-time rules: which phases a document completed, percentiles, months, formatting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backoffice.charts import bar_chart, nice_step
from shared.i18n import use_language
from shared.services.lead_time import (
    DocumentTimes,
    PhaseKey,
    compute,
    format_duration,
    last_months,
    month_of,
    percentile,
    spans,
    start_of_session_day,
    summarise,
)

HOUR = 3600.0
DAY = 24 * HOUR


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_median_and_p90_interpolate_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([float(n) for n in range(1, 11)], 90) == pytest.approx(9.1)
    assert percentile([7.0], 90) == 7.0
    assert summarise([]).count == 0
    assert summarise([]).median is None
    figures = summarise([HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 100 * HOUR])
    assert (figures.count, figures.median) == (5, 3 * HOUR)
    assert figures.p90 == pytest.approx(61.6 * HOUR)  # 4 + 0.6 * (100 - 4)


def test_a_signed_letter_completes_every_phase_in_order() -> None:
    decided = start_of_session_day(date(2026, 3, 2))
    assert decided == datetime(2026, 3, 1, 23, tzinfo=UTC)  # midnight in Brussels (CET)
    letter = DocumentTimes(
        "tax_assessment",
        decided=decided,
        screened=decided + timedelta(hours=30),
        signed=decided + timedelta(hours=54),
        sent=decided + timedelta(hours=56),
        delivered=decided + timedelta(hours=80),
        paid=decided + timedelta(days=10),
    )
    found = {s.phase: s.seconds / HOUR for s in spans(letter)}
    assert found == {
        PhaseKey.DECISION_SCREENED: 30,
        PhaseKey.SCREENED_SIGNED: 24,
        PhaseKey.SIGNED_SENT: 2,
        PhaseKey.SENT_DELIVERED: 24,
        PhaseKey.DELIVERED_PAID: 240 - 80,
        PhaseKey.DECISION_SENT: 56,
    }


def test_without_signature_the_sending_counts_from_screening() -> None:
    reminder = DocumentTimes(
        "reminder", screened=at(2, 9), ready_without_signature=at(2, 9), sent=at(2, 15)
    )
    found = {s.phase: s.seconds / HOUR for s in spans(reminder)}
    assert found == {PhaseKey.SIGNED_SENT: 6}  # no decision, no signature, not delivered yet


def test_ordinary_mail_without_delivery_counts_follow_up_from_sending() -> None:
    letter = DocumentTimes("gas_fine", sent=at(1), disputed=at(15))
    assert [(s.phase, s.seconds) for s in spans(letter)] == [
        (PhaseKey.DELIVERED_DISPUTED, 14 * DAY)
    ]


def test_a_phase_ending_before_it_starts_is_left_out() -> None:
    odd = DocumentTimes("letter", decided=at(10), screened=at(9))
    assert spans(odd) == []


def test_months_follow_brussels_and_empty_months_are_kept() -> None:
    # 23:30 UTC on 31 March is already 1 April in Brussels (CEST).
    assert month_of(datetime(2026, 3, 31, 22, 30, tzinfo=UTC)) == date(2026, 4, 1)
    assert last_months(date(2026, 2, 14), 3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    months = last_months(date(2026, 4, 20), 3)
    documents = [
        DocumentTimes("reminder", screened=at(2), ready_without_signature=at(2), sent=at(3)),
        DocumentTimes("tax_assessment", screened=at(2), signed=at(4), sent=at(4, 6)),
        DocumentTimes("tax_assessment", screened=at(5), signed=at(9), sent=at(9, 2)),
        DocumentTimes("tax_assessment", screened=at(1, month=1), signed=at(2, month=1)),
    ]
    figures = compute(documents, months)
    signing = next(p for p in figures.phases if p.phase is PhaseKey.SCREENED_SIGNED)
    assert [m.month for m in signing.months] == months
    by_month = {m.month: m.figures for m in signing.months}
    assert by_month[date(2026, 2, 1)].count == 0  # an empty month is shown, without figures
    assert by_month[date(2026, 2, 1)].median is None
    assert by_month[date(2026, 3, 1)].count == 2
    assert by_month[date(2026, 3, 1)].median == 3 * DAY  # 2 and 4 days
    assert signing.period.count == 2  # January is outside the period

    signatures = {s.month: s for s in figures.signatures}
    assert signatures[date(2026, 3, 1)].sent == 3
    assert signatures[date(2026, 3, 1)].without_signature == 1
    assert signatures[date(2026, 3, 1)].share == 33
    assert signatures[date(2026, 4, 1)].share is None

    assert [t.document_type for t in figures.by_type] == ["reminder", "tax_assessment"]
    only_tax = compute(documents, months, "tax_assessment")
    assert {s.month: s.without_signature for s in only_tax.signatures}[date(2026, 3, 1)] == 0
    assert not only_tax.empty
    assert compute([], months).empty


def test_durations_read_in_hours_or_days() -> None:
    assert format_duration(None) == "—"
    assert format_duration(1800) == "0,5 uur"
    assert format_duration(30 * HOUR) == "30 uur"
    assert format_duration(47 * HOUR) == "47 uur"
    assert format_duration(2 * DAY) == "2 dagen"
    assert format_duration(3.25 * DAY) == "3,2 dagen"
    assert format_duration(1234 * DAY) == "1.234 dagen"
    with use_language("en"):
        assert format_duration(3.5 * DAY) == "3,5 days"  # Belgian English writes a comma
        assert format_duration(HOUR) == "1 hour"


def test_chart_scale_has_round_ticks_and_bars_in_proportion() -> None:
    assert [nice_step(v) for v in (0, 3, 9, 40, 170)] == [1, 1, 5, 10, 50]
    chart = bar_chart(
        [("jan", "2026"), ("feb", ""), ("mrt", "")],
        [10 * HOUR, None, 40 * HOUR],
        [5 * HOUR, None, 20 * HOUR],
        unit=HOUR,
    )
    assert [t.label for t in chart.ticks] == ["0", "10", "20", "30", "40"]
    first, empty, last = chart.columns
    assert empty.back is None
    assert empty.front is None
    assert first.back is not None
    assert last.back is not None
    assert last.front is not None
    assert last.back.height == pytest.approx(chart.bottom - chart.top, abs=0.1)
    assert first.back.height == pytest.approx(last.back.height / 4, abs=0.1)
    assert last.front.height == pytest.approx(last.back.height / 2, abs=0.1)
    assert last.back.y + last.back.height == pytest.approx(chart.bottom)
