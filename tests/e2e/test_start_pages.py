"""Both start pages open in Chromium, in Dutch, without CSP violations, and pass axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Console, assert_accessible, screenshot

pytestmark = pytest.mark.e2e


def test_portal_start_page(page: Page, page_console: Console, portal_url: str) -> None:
    response = page.goto(portal_url + "/")
    assert response is not None
    assert response.status == 200
    expect(page).to_have_title("Uw documenten van de gemeente — Zegel")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).to_have_text("Uw documenten van de gemeente")
    expect(page.get_by_text("klik op de link in het bericht")).to_be_visible()
    expect(page.get_by_text("Op de brief staat een code")).to_be_visible()
    page.wait_for_function("() => window.htmx !== undefined")  # the vendored htmx loaded
    screenshot(page, "portal-start")
    assert_accessible(page)
    page_console.assert_clean()


def test_backoffice_start_page(page: Page, page_console: Console, backoffice_url: str) -> None:
    response = page.goto(backoffice_url + "/")
    assert response is not None
    assert response.status == 200
    expect(page).to_have_title("Zegel — backoffice")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welkom bij Zegel")
    expect(page.get_by_role("heading", name="Aanmelden")).to_be_visible()
    page.wait_for_function("() => window.htmx !== undefined")
    screenshot(page, "backoffice-start")
    assert_accessible(page)
    page_console.assert_clean()


def test_skip_link_leads_to_the_content(page: Page, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Naar de inhoud")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    screenshot(page, "portal-skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main#inhoud")).to_be_focused()


def test_language_switch_and_back(page: Page, page_console: Console, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your documents from the municipality"
    )
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "portal-start-en")
    page.get_by_role("button", name="Nederlands").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uw documenten van de gemeente")
    page_console.assert_clean()


def test_not_found_page(page: Page, page_console: Console, backoffice_url: str) -> None:
    response = page.goto(backoffice_url + "/bestaat-niet")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Pagina niet gevonden")
    screenshot(page, "backoffice-404")
    assert_accessible(page)
    # the browser reports the 404 of the document itself; nothing else may fail
    assert [e for e in page_console.errors if "404" not in e] == []
    assert page_console.csp_violations == []


@pytest.mark.parametrize("width", [375])
def test_start_pages_on_a_phone(
    page: Page, portal_url: str, backoffice_url: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 740})
    page.goto(portal_url + "/")
    screenshot(page, f"portal-start-{width}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.goto(backoffice_url + "/")
    screenshot(page, f"backoffice-start-{width}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
