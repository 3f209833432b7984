"""Citizens rate a step (reading, paying, disputing) with one click; the service sees where
the flow still hurts, per step and per month. Ratings are anonymous and never required."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.errors import InvalidInput
from shared.i18n import gettext as _
from shared.models.experience import ExperiencePhase, ExperienceRating, ExperienceScore
from shared.models.people import StaffRole
from shared.services.access import StaffContext
from shared.timeutil import today

MAX_COMMENT = 1000
REPORT_MONTHS = 12


def rate(
    session: Session,
    organisation_id: uuid.UUID,
    phase: str,
    score: str,
    comment: str = "",
) -> ExperienceRating:
    """Store one anonymous rating, in the caller's transaction."""
    try:
        chosen_phase = ExperiencePhase(phase)
        chosen_score = ExperienceScore(int(score))
    except ValueError:
        raise InvalidInput(_("Kies een van de drie gezichtjes.")) from None
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(
            _("Uw opmerking is te lang: ten hoogste %(max)d tekens.") % {"max": MAX_COMMENT}
        )
    rating = ExperienceRating(
        organisation_id=organisation_id,
        phase=chosen_phase,
        score=int(chosen_score),
        comment=comment or None,
        month=today().strftime("%Y-%m"),
    )
    session.add(rating)
    return rating


@dataclass(frozen=True)
class MonthFigures:
    month: str
    phase: ExperiencePhase
    count: int
    good: int
    neutral: int
    bad: int

    @property
    def good_share(self) -> int:
        """Percentage of 😊, rounded."""
        return round(100 * self.good / self.count) if self.count else 0


@dataclass(frozen=True)
class ExperienceReport:
    rows: list[MonthFigures]
    comments: list[ExperienceRating]


def report(session: Session, context: StaffContext) -> ExperienceReport:
    """The organisation's ratings of the last twelve months, per month and step, with the
    latest comments."""
    context.require(StaffRole.BEHEERDER, StaffRole.SECRETARIAAT, StaffRole.DOSSIERBEHANDELAAR)
    counts = session.execute(
        select(
            ExperienceRating.month,
            ExperienceRating.phase,
            ExperienceRating.score,
            func.count(),
        )
        .where(ExperienceRating.organisation_id == context.organisation_id)
        .group_by(ExperienceRating.month, ExperienceRating.phase, ExperienceRating.score)
    ).all()
    table: dict[tuple[str, ExperiencePhase], dict[int, int]] = {}
    for month, phase, score, count in counts:
        table.setdefault((month, ExperiencePhase(phase)), {})[int(score)] = int(count)
    months = sorted({month for month, _phase in table}, reverse=True)[:REPORT_MONTHS]
    rows = [
        MonthFigures(
            month=month,
            phase=phase,
            count=sum(scores.values()),
            good=scores.get(ExperienceScore.GOOD, 0),
            neutral=scores.get(ExperienceScore.NEUTRAL, 0),
            bad=scores.get(ExperienceScore.BAD, 0),
        )
        for (month, phase), scores in table.items()
        if month in months
    ]
    order = list(ExperiencePhase)
    rows.sort(key=lambda r: (-int(r.month.replace("-", "")), order.index(r.phase)))
    comments = list(
        session.scalars(
            select(ExperienceRating)
            .where(
                ExperienceRating.organisation_id == context.organisation_id,
                ExperienceRating.comment.is_not(None),
            )
            .order_by(ExperienceRating.month.desc())
            .limit(50)
        ).all()
    )
    return ExperienceReport(rows, comments)
