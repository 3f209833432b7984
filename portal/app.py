"""The citizens' app: `uvicorn portal.app:app`.

Pages that show personal data answer with `Cache-Control: no-store`: give their handlers
`cache_control=NO_STORE` (from shared.web).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar.types import Guard

from portal.controllers import code, disputes, documents
from portal.controllers.start import accessibility_statement, start_page
from shared.models.documents import GOVERNING_BODY_LABELS
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
            documents.my_documents,
            documents.document,
            documents.document_pdf,
            documents.experience,
            disputes.dispute_form,
            disputes.dispute_submit,
            disputes.dispute_receipt,
            disputes.dispute_receipt_pdf,
            accessibility_statement,
            code.code_form,
            code.code_open,
        ],
        template_dir=TEMPLATES,
        title="Zegel — Uw documenten van de gemeente",
        layout="base_portal.html",
        guards=guards,
        form_targets=provider_origin(App.PORTAL),
        template_globals={"body_label": GOVERNING_BODY_LABELS.__getitem__},
    )


app = create_app()
