"""Doorlooptijd: how long each phase takes from the decision to payment or dispute, per month
and document type, as charts with the numbers beside them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from babel.numbers import format_decimal
from litestar import get
from litestar.response import Template

from backoffice.charts import BarChart, bar_chart
from shared.i18n import BABEL_LOCALES, current_language, format_date
from shared.i18n import gettext as _
from shared.services import lead_time
from shared.services.registration import document_type_label
from shared.web import NO_STORE
from shared.web.params import DbSession, FromQuery, Staff
from shared.web.sessions import role_guard

HOUR = 3600.0
DAY = 86400.0


def _number(value: float) -> str:
    locale = BABEL_LOCALES.get(current_language(), "nl_BE")
    return format_decimal(value, format="#,##0.#", locale=locale)


def _labels(months: Sequence[date]) -> list[tuple[str, str]]:
    return [
        (
            format_date(month, "MMM"),
            str(month.year) if index == 0 or month.month == 1 else "",
        )
        for index, month in enumerate(months)
    ]


def phase_chart(phase: lead_time.PhaseFigures) -> BarChart:
    """90th percentile behind, median in front; in hours up to three days, else in days."""
    unit = HOUR if phase.longest < 3 * DAY else DAY
    return bar_chart(
        _labels([m.month for m in phase.months]),
        [m.figures.p90 for m in phase.months],
        [m.figures.median for m in phase.months],
        unit=unit,
        axis_label=_("uren") if unit == HOUR else _("dagen"),
        tick_label=_number,
    )


def signature_chart(months: Sequence[lead_time.SignatureMonth]) -> BarChart:
    """Letters sent behind, those without signature in front."""
    return bar_chart(
        _labels([m.month for m in months]),
        [float(m.sent) if m.sent else None for m in months],
        [float(m.without_signature) if m.without_signature else None for m in months],
        axis_label=_("brieven"),
        tick_label=_number,
    )


@get(
    "/doorlooptijd",
    name="lead_time",
    guards=[role_guard(*lead_time.ROLES)],
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def lead_time_report(
    db_session: DbSession,
    staff: Staff,
    maanden: FromQuery[int] = lead_time.DEFAULT_PERIOD,
    type: FromQuery[str] = "",
) -> Template:
    report = lead_time.report(db_session, staff, period=maanden, document_type=type.strip())
    return Template(
        template_name="lead_time.html",
        context={
            "staff": staff,
            "report": report,
            "figures": report.figures,
            "periods": lead_time.PERIODS,
            "phase_chart": phase_chart,
            "signature_chart": signature_chart(report.figures.signatures),
            "duration": lead_time.format_duration,
            "type_label": document_type_label,
            "phase_label": lambda key: _(lead_time.PHASE_LABELS[key]),
        },
    )
