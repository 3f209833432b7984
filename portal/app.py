"""The citizens' app: `uvicorn portal.app:app`.

Pages that show personal data answer with `Cache-Control: no-store`: give their handlers
`cache_control=NO_STORE` (from shared.web).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar.types import Guard

from portal.controllers import code, documents, payments
from portal.controllers.start import accessibility_statement, start_page
from shared.config import get_settings
from shared.models.documents import GOVERNING_BODY_LABELS
from shared.services.auth import App
from shared.web import ZegelApp
from shared.web import create_app as create_web_app
from shared.web.login import login_routes, provider_origin
from shared.web.security import origin

STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _form_targets() -> list[str]:
    """Forms may lead to the identity provider (logging out) and to Stripe Checkout (Betalen
    answers with a redirect to Stripe's page)."""
    settings = get_settings()
    checkout = [origin(settings.stripe_api_base)]
    if not settings.sandboxes_enabled:
        checkout.append(STRIPE_CHECKOUT_ORIGIN)
    return [*provider_origin(App.PORTAL)(), *checkout]


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
            accessibility_statement,
            code.code_form,
            code.code_open,
            payments.pay,
            payments.paid_return,
            payments.code_pay,
            payments.code_paid_return,
            payments.stripe_webhook,
        ],
        template_dir=TEMPLATES,
        title="Zegel — Uw documenten van de gemeente",
        layout="base_portal.html",
        guards=guards,
        form_targets=_form_targets,
        template_globals={"body_label": GOVERNING_BODY_LABELS.__getitem__},
    )


app = create_app()
