"""The sandbox server: local stand-ins for the external services, on loopback.

Each integration package adds its sandbox routes here (MAGDA, Stripe, the OpenID Provider);
the mail sink's inbox is readable at /mail, the OpenID Provider lives at /oidc (see
`shared.integrations.oidc.sandbox`). Never started when ZEGEL_ENV=production.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey
from litestar import Litestar, Response, get

from shared.config import SANDBOX_CLIENT_SECRET, Settings, get_settings
from shared.integrations.magda.sandbox import MagdaSandbox, create_magda_sandbox_router
from shared.integrations.mail.sandbox import MailSink
from shared.integrations.oidc.sandbox import (
    IdentityKind,
    SandboxClient,
    create_oidc_sandbox_router,
)
from shared.integrations.stripe.sandbox import StripeSandbox, create_stripe_sandbox
from shared.integrations.tsa.sandbox import create_tsa_sandbox_router

PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"""


CALLBACK_PATH = "/aanmelden/terug"
LOGGED_OUT_PATH = "/afgemeld"


def _public_jwks(path: Path | None) -> dict[str, Any] | None:
    """The public half of a private_key_jwt key file (JWK or PEM), so the sandbox accepts it."""
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError:
        return None
    key: Key | None = None
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
            key = ECKey.import_key(data) if data.get("kty") == "EC" else RSAKey.import_key(data)
        else:
            for key_class in (RSAKey, ECKey):
                try:
                    key = key_class.import_key(text)
                    break
                except (JoseError, ValueError, TypeError):
                    continue
    except (JoseError, ValueError, TypeError, AttributeError):
        return None
    if key is None:
        return None
    key.ensure_kid()
    return {"keys": [key.as_dict(private=False)]}


def default_oidc_clients(settings: Settings | None = None) -> list[SandboxClient]:
    """The portal (citizens) and the back office (staff), registered from the settings.

    The client secrets are the configured ones; an empty secret falls back to the sandbox's
    known secret `SANDBOX_CLIENT_SECRET` ("sandbox-secret"). When a private key file is set
    for private_key_jwt, its public key is registered too. Redirect URIs are the apps'
    `/aanmelden/terug` and `/afgemeld`, and any loopback URI (tests run apps on random ports).
    """
    settings = settings or get_settings()
    apps: tuple[tuple[str, str, IdentityKind], ...] = (
        ("citizen", settings.portal_base_url, "citizens"),
        ("staff", settings.backoffice_base_url, "staff"),
    )
    clients: list[SandboxClient] = []
    for prefix, base_url, identities in apps:
        client_id: str = getattr(settings, f"{prefix}_oidc_client_id")
        secret: str = getattr(settings, f"{prefix}_oidc_client_secret").get_secret_value()
        base = base_url.rstrip("/")
        client = SandboxClient(
            client_id=client_id,
            client_secret=secret or SANDBOX_CLIENT_SECRET,
            jwks=_public_jwks(getattr(settings, f"{prefix}_oidc_private_key_path")),
            redirect_uris=(base + CALLBACK_PATH,),
            post_logout_redirect_uris=(base + LOGGED_OUT_PATH,),
            allow_any_loopback_redirect=True,
            identities=identities,
        )
        same = next((c for c in clients if c.client_id == client_id), None)
        if same is not None:  # one client for both apps: it may log in anyone
            clients.remove(same)
            client = SandboxClient(
                client_id=client_id,
                client_secret=same.client_secret,
                jwks=same.jwks,
                redirect_uris=(*same.redirect_uris, *client.redirect_uris),
                post_logout_redirect_uris=(
                    *same.post_logout_redirect_uris,
                    *client.post_logout_redirect_uris,
                ),
                allow_any_loopback_redirect=True,
                identities="all",
            )
        clients.append(client)
    return clients


def create_sandbox_app(
    mail_sink: MailSink | None = None,
    *,
    oidc_clients: Sequence[SandboxClient] | None = None,
    base_url: str | None = None,
    magda: MagdaSandbox | None = None,
    stripe: StripeSandbox | None = None,
) -> Litestar:
    """The sandbox server. `base_url` is its public address (default: the sandbox_base_url
    setting); the OpenID Provider's issuer is `base_url + "/oidc"`. `oidc_clients` default to
    `default_oidc_clients()`. The MAGDA gateway lives at /magda (`magda`: a sandbox object
    to control from a test; default one trusting the configured client key). Stripe lives at
    /stripe (`stripe`: a sandbox object to control from a test; default one posting its
    webhooks to the portal with the configured secret). Raises
    ConfigError when ZEGEL_ENV=production."""
    settings = get_settings()
    issuer = (base_url or settings.sandbox_base_url).rstrip("/") + "/oidc"
    oidc = create_oidc_sandbox_router(
        issuer, default_oidc_clients(settings) if oidc_clients is None else oidc_clients
    )

    @get("/", media_type="text/html", sync_to_thread=False)
    def index() -> str:
        body = (
            "<p>Lokale zandbakken van externe diensten, alleen voor ontwikkeling en tests.</p>"
            '<ul><li><a href="/mail">Ontvangen e-mails (SMTP-zandbak)</a></li>'
            '<li><a href="/oidc">Testaanmelding (OpenID Provider)</a></li>'
            '<li><a href="/tsa">Tijdstempeldienst (RFC 3161)</a></li>'
            '<li><a href="/magda">MAGDA: rijksregister, eBox en Documentendienst</a>'
            ' (<a href="/magda/ebox">eBox van de testburgers</a>)</li>'
            "<li>Stripe: betaalsessies, terugbetalingen en ondertekende webhooks onder /stripe"
            "</li></ul>"
        )
        return PAGE.format(title="Zegel — zandbakken", body=body)

    @get("/mail", media_type="text/html", sync_to_thread=False)
    def mail() -> str:
        messages = list(reversed(mail_sink.messages)) if mail_sink else []
        if not messages:
            return PAGE.format(title="Ontvangen e-mails", body="<p>Nog geen e-mails ontvangen.</p>")
        items = "".join(
            f"<article><h2>{escape(m.subject)}</h2><p>Aan: {escape(', '.join(m.recipients))}"
            f" — {m.received_at:%Y-%m-%d %H:%M:%S} UTC</p><pre>{escape(m.text())}</pre></article>"
            for m in messages
        )
        return PAGE.format(title="Ontvangen e-mails", body=items)

    @get("/healthz", sync_to_thread=False)
    def healthz() -> Response[dict[str, str]]:
        return Response({"status": "ok"})

    magda_router = create_magda_sandbox_router(
        public_url=(base_url or settings.sandbox_base_url).rstrip("/") + "/magda", sandbox=magda
    )
    stripe_sandbox = stripe or create_stripe_sandbox(
        public_url=(base_url or settings.sandbox_base_url).rstrip("/") + "/stripe"
    )
    return Litestar(
        route_handlers=[
            index,
            mail,
            healthz,
            oidc,
            create_tsa_sandbox_router(),
            magda_router,
            stripe_sandbox.router("/stripe"),
        ],
        on_shutdown=[stripe_sandbox.stop],
    )
