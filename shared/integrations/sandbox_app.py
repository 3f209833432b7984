"""The sandbox server: local stand-ins for the external services, on loopback.

Each integration package adds its sandbox routes here (MAGDA, Stripe, the OpenID Provider);
the mail sink's inbox is readable at /mail. Never started when ZEGEL_ENV=production.
"""

from __future__ import annotations

from html import escape

from litestar import Litestar, Response, get

from shared.integrations.mail.sandbox import MailSink

PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"""


def create_sandbox_app(mail_sink: MailSink | None = None) -> Litestar:
    @get("/", media_type="text/html", sync_to_thread=False)
    def index() -> str:
        body = (
            "<p>Lokale zandbakken van externe diensten, alleen voor ontwikkeling en tests.</p>"
            '<ul><li><a href="/mail">Ontvangen e-mails (SMTP-zandbak)</a></li></ul>'
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

    return Litestar(route_handlers=[index, mail, healthz])
