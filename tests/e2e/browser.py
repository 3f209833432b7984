"""Helpers for browser journeys: console watching, screenshots and axe-core checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Page
from sqlalchemy.orm import Session

from shared.models import Organisation, StaffUser
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass
class Console:
    """What a page said on its console, and the errors it threw."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        line = f"{message.type}: {message.text}"
        self.messages.append(line)
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(line)

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"pageerror: {error}")

    @property
    def csp_violations(self) -> list[str]:
        return [line for line in self.messages if "Content Security Policy" in line]

    def assert_clean(self) -> None:
        assert self.csp_violations == [], "CSP violations:\n" + "\n".join(self.csp_violations)
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot to artifacts/screenshots/<name>.png (artifacts/ is ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page: Page, *, disable: tuple[str, ...] = ()) -> None:
    """Run axe-core on the page (WCAG 2.1 A and AA) and fail with a readable list."""
    # evaluate() runs through the DevTools protocol, so the page's CSP does not block axe
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    options: dict[str, Any] = {"runOnly": {"type": "tag", "values": WCAG_TAGS}}
    if disable:
        options["rules"] = {rule: {"enabled": False} for rule in disable}
    result = page.evaluate("options => window.axe.run(document, options)", options)
    violations = result["violations"]
    report = "\n".join(
        f"- {item['id']} ({item['impact']}): {item['help']} — "
        + "; ".join(node["target"][0] for node in item["nodes"][:5])
        for item in violations
    )
    assert not violations, f"accessibility violations on {page.url}:\n{report}"


def log_in_to_the_back_office(
    page: Page, session: Session, member: StaffUser, organisation: Organisation, backoffice_url: str
) -> None:
    """This browser gets a back-office session of `member` in `organisation` (the session is
    committed, so the app sees it)."""
    token = factories.web_session(session, "backoffice", staff=member, organisation=organisation)
    session.commit()
    page.context.add_cookies(
        [{"name": "zegel_backoffice_session", "value": token, "url": backoffice_url}]
    )
