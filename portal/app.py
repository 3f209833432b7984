"""The citizens' app: `uvicorn portal.app:app`.

Pages that show personal data answer with `Cache-Control: no-store`: give their handlers
`cache_control=NO_STORE` (from shared.web).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar.types import Guard

from portal.controllers.documents import document, my_documents
from portal.controllers.start import start_page
from shared.services.auth import App
from shared.web import ZegelApp
from shared.web import create_app as create_web_app
from shared.web.login import login_routes, provider_origin

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(guards: Sequence[Guard] = ()) -> ZegelApp:
    """Build the portal. `guards` protect its pages: citizen login is added here."""
    return create_web_app(
        "portal",
        route_handlers=[
            start_page,
            *login_routes(App.PORTAL, default_return="/mijn-documenten"),
            my_documents,
            document,
        ],
        template_dir=TEMPLATES,
        title="Zegel — Uw documenten van de gemeente",
        layout="base_portal.html",
        guards=guards,
        form_targets=provider_origin(App.PORTAL),
    )


app = create_app()
