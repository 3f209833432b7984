"""The staff app: `uvicorn backoffice.app:app`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar.types import Guard

from backoffice.controllers.start import start_page
from shared.web import ZegelApp
from shared.web import create_app as create_web_app

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(guards: Sequence[Guard] = ()) -> ZegelApp:
    """Build the back office. `guards` protect its pages: staff login is added here."""
    return create_web_app(
        "backoffice",
        route_handlers=[start_page],
        template_dir=TEMPLATES,
        title="Zegel — backoffice",
        layout="base_backoffice.html",
        guards=guards,
    )


app = create_app()
