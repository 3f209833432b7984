"""Anonymous one-click ratings: given from the portal's document page, read in the back office."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from portal.app import create_app as create_portal
from shared.models import ExperiencePhase, ExperienceRating, StaffRole
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories

ANN = "85073003328"
BOB = "01010100126"


@pytest.fixture
def portal() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_portal(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def backoffice() -> Iterator[TestClient[ZegelApp]]:
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client


def _csrf(client: TestClient[ZegelApp], path: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def letters(session: Session, portal: TestClient[ZegelApp]) -> dict[str, str]:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    mine = factories.send(
        session,
        factories.document(session, org, factories.citizen(session, org, ssin=ANN), "Mijn brief"),
    )
    theirs = factories.send(
        session,
        factories.document(
            session, org, factories.citizen(session, org, ssin=BOB), "Brief van Bob"
        ),
    )
    portal.cookies.set("zegel_portal_session", factories.web_session(session, "portal", ssin=ANN))
    tokens = {"mine": mine.public_token, "theirs": theirs.public_token, "org": str(org.id)}
    session.commit()
    return tokens


def _count(session: Session) -> int:
    count = session.scalar(select(func.count()).select_from(ExperienceRating)) or 0
    session.rollback()
    return count


def test_a_rating_is_one_click_anonymous_and_thanked(
    session: Session, portal: TestClient[ZegelApp], letters: dict[str, str]
) -> None:
    page = f"/d/{letters['mine']}"
    assert "Was dit document duidelijk?" in portal.get(page).text
    response = portal.post(
        "/ervaring",
        data={
            "_csrf_token": _csrf(portal, page),
            "fase": "read",
            "document": letters["mine"],
            "score": "3",
            "opmerking": "  Heel duidelijk, dank u.  ",
        },
    )
    assert response.status_code == 200
    assert "Bedankt voor uw mening" in response.text
    rating = session.scalars(select(ExperienceRating)).one()
    assert (rating.phase, rating.score, rating.comment) == (
        ExperiencePhase.READ,
        3,
        "Heel duidelijk, dank u.",
    )
    assert rating.month == today().strftime("%Y-%m")
    # Nothing in the row points at the citizen or the document.
    assert set(ExperienceRating.__table__.columns.keys()) == {
        "id",
        "organisation_id",
        "phase",
        "score",
        "comment",
        "month",
    }


def test_with_htmx_only_the_thanks_come_back(
    session: Session, portal: TestClient[ZegelApp], letters: dict[str, str]
) -> None:
    page = f"/d/{letters['mine']}"
    response = portal.post(
        "/ervaring",
        data={
            "_csrf_token": _csrf(portal, page),
            "fase": "read",
            "document": letters["mine"],
            "score": "1",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="ervaring"' in response.text
    assert _count(session) == 1


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("score", "5", 422),
        ("fase", "betalen", 422),
        ("opmerking", "x" * 1001, 422),
        ("document", "theirs", 404),
    ],
)
def test_bad_ratings_change_nothing(
    session: Session,
    portal: TestClient[ZegelApp],
    letters: dict[str, str],
    field: str,
    value: str,
    status: int,
) -> None:
    data = {"fase": "read", "document": letters["mine"], "score": "2", "opmerking": ""}
    data[field] = letters["theirs"] if value == "theirs" else value
    response = portal.post(
        "/ervaring", data={"_csrf_token": _csrf(portal, f"/d/{letters['mine']}"), **data}
    )
    assert response.status_code == status
    assert "Brief van Bob" not in response.text
    assert _count(session) == 0


def test_the_back_office_sees_ratings_per_month_and_step(
    session: Session, backoffice: TestClient[ZegelApp]
) -> None:
    org = factories.organisation(session)
    other = factories.organisation(session, "Ander bestuur")
    for score, comment in ((3, None), (3, None), (1, "De brief was te ingewikkeld.")):
        session.add(
            ExperienceRating(
                organisation_id=org.id,
                phase=ExperiencePhase.READ,
                score=score,
                comment=comment,
                month="2026-11",
            )
        )
    session.add(
        ExperienceRating(
            organisation_id=other.id,
            phase=ExperiencePhase.READ,
            score=1,
            comment="Van elders",
            month="2026-11",
        )
    )
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    desk = factories.staff_member(session, org, [StaffRole.ONTHAAL])
    backoffice.cookies.set(
        "zegel_backoffice_session",
        factories.web_session(session, "backoffice", staff=clerk, organisation=org),
    )
    desk_cookie = factories.web_session(session, "backoffice", staff=desk, organisation=org)
    session.commit()

    page = backoffice.get("/ervaringen")
    assert page.status_code == 200
    row = re.search(r"<th scope=\"row\">2026-11</th>(.*?)</tr>", page.text, re.S)
    assert row
    cells = re.findall(r"<td>\s*(.*?)\s*</td>", row.group(1), re.S)
    assert cells[:5] == ["Document lezen", "3", "2", "0", "1"]
    assert "67%" in row.group(1)
    assert "De brief was te ingewikkeld." in page.text
    assert "Van elders" not in page.text

    backoffice.cookies.set("zegel_backoffice_session", desk_cookie)
    assert backoffice.get("/ervaringen").status_code == 403
