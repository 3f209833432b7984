"""Logging in and out in Chromium, through the sandbox OpenID Provider, as citizens and staff do."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from shared.integrations.oidc.identities import citizen, staff_member
from shared.models import StaffRole
from tests import factories
from tests.e2e.browser import Console, assert_accessible, screenshot

pytestmark = pytest.mark.e2e

AN = citizen("an-janssens")


def _log_in_at_the_sandbox(page: Page, name: str, method: str | None = None) -> None:
    """On the sandbox provider's page: pick the identity (and the method), and log in."""
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    form = page.locator("form").filter(has=page.get_by_role("heading", name=name, exact=True))
    if method is not None:
        form.get_by_label(method, exact=False).check()
    form.get_by_role("button", name=f"Aanmelden als {name}").click()


def test_citizen_logs_in_with_eid_and_lands_on_my_documents(
    page: Page, page_console: Console, session: Session, portal_url: str, sandbox_url: str
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    recipient = factories.citizen(session, org, ssin=AN.rrn or "", name=AN.name)
    document = factories.document(session, org, recipient, title="Belasting op tweede verblijven")
    factories.send(session, document)
    session.commit()

    page.goto(portal_url + "/")
    page.get_by_role("link", name="Aanmelden en mijn documenten bekijken").click()
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox_url + "/oidc/")))
    _log_in_at_the_sandbox(page, AN.name, "eID met kaartlezer")

    expect(page).to_have_url(portal_url + "/mijn-documenten")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn documenten")
    expect(page.get_by_role("link", name="Belasting op tweede verblijven")).to_be_visible()
    expect(page.get_by_text(AN.name).first).to_be_visible()
    assert (AN.rrn or "") not in page.content()
    screenshot(page, "portal-my-documents-after-login")
    assert_accessible(page)
    page_console.assert_clean()


def test_citizen_logout_ends_the_session_and_back_shows_nothing(
    page: Page, session: Session, portal_url: str, sandbox_url: str
) -> None:
    org = factories.organisation(session, "Gemeente Zegelbeek")
    recipient = factories.citizen(session, org, ssin=AN.rrn or "", name=AN.name)
    factories.send(session, factories.document(session, org, recipient, title="Retributie"))
    session.commit()

    page.goto(portal_url + "/mijn-documenten")  # not logged in: straight to the provider
    _log_in_at_the_sandbox(page, AN.name, "itsme")
    expect(page.get_by_role("link", name="Retributie")).to_be_visible()

    page.get_by_role("button", name="Afmelden").click()
    expect(page).to_have_url(re.compile("^" + re.escape(portal_url + "/afgemeld")))
    expect(page.get_by_role("heading", level=1)).to_contain_text("afgemeld")
    screenshot(page, "portal-logged-out")

    page.go_back()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Retributie")).to_have_count(0)
    assert not page.url.startswith(portal_url + "/mijn-documenten")
    # The old page is not served from any cache, and the session cookie is gone for good.
    response = page.request.get(portal_url + "/mijn-documenten", max_redirects=0)
    assert response.status in (302, 303, 307)
    assert "/aanmelden" in response.headers["location"]


@pytest.mark.parametrize(
    ("subject", "roles", "visible", "hidden"),
    [
        (
            "dossierbehandelaar",
            [StaffRole.DOSSIERBEHANDELAAR],
            ["Stukken"],
            ["Handtekenmap", "Beheer"],
        ),
        ("directeur", [StaffRole.ONDERTEKENAAR], ["Handtekenmap"], ["Stukken", "Beheer"]),
        (
            "beheerder",
            [StaffRole.BEHEERDER, StaffRole.SECRETARIAAT],
            ["Stukken", "Beheer"],
            ["Handtekenmap"],
        ),
    ],
)
def test_staff_member_sees_only_the_menu_items_of_their_roles(
    page: Page,
    page_console: Console,
    session: Session,
    backoffice_url: str,
    sandbox_url: str,
    subject: str,
    roles: list[StaffRole],
    visible: list[str],
    hidden: list[str],
) -> None:
    identity = staff_member(subject)
    org = factories.organisation(session, "Gemeente Zegelbeek")
    factories.staff_member(
        session, org, roles, subject=subject, issuer=sandbox_url + "/oidc", name=identity.name
    )
    session.commit()

    page.goto(backoffice_url + "/")
    page.get_by_role("link", name="Aanmelden").click()
    _log_in_at_the_sandbox(page, identity.name)

    expect(page).to_have_url(backoffice_url + "/")
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    expect(menu.get_by_text(identity.name)).to_be_visible()
    for label in visible:
        expect(menu.get_by_role("link", name=label, exact=True)).to_be_visible()
    for label in hidden:
        expect(menu.get_by_role("link", name=label, exact=True)).to_have_count(0)
    screenshot(page, f"backoffice-dashboard-{subject}")
    assert_accessible(page)

    # Every visible item opens; the hidden pages are refused even by URL.
    for label in visible:
        menu.get_by_role("link", name=label, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        screenshot(page, f"backoffice-{subject}-{label.lower()}")
        assert_accessible(page)
    hrefs = {
        "Stukken": "/stukken",
        "Handtekenmap": "/handtekenmap",
        "Beheer": "/beheer/medewerkers",
    }
    for label in hidden:
        response = page.request.get(backoffice_url + hrefs[label])
        assert response.status == 403, label
    page_console.assert_clean()


def test_staff_logout_and_back_shows_no_page(
    page: Page, session: Session, backoffice_url: str, sandbox_url: str
) -> None:
    identity = staff_member("secretariaat")
    org = factories.organisation(session, "Gemeente Zegelbeek")
    factories.staff_member(
        session,
        org,
        [StaffRole.SECRETARIAAT],
        subject="secretariaat",
        issuer=sandbox_url + "/oidc",
        name=identity.name,
    )
    session.commit()

    page.goto(backoffice_url + "/stukken")
    _log_in_at_the_sandbox(page, identity.name)
    expect(page).to_have_url(backoffice_url + "/stukken")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stukken")

    page.get_by_role("button", name="Afmelden").click()
    expect(page).to_have_url(re.compile("^" + re.escape(backoffice_url + "/afgemeld")))
    page.go_back()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Stukken", exact=True)).to_have_count(0)
    assert not page.url.startswith(backoffice_url + "/stukken")
