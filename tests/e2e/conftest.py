"""Browser journeys: the apps served by uvicorn on loopback, driven by Chromium through Playwright.

Fixtures for any journey:
- `live_server(app) -> base URL`: serve an ASGI app on a free loopback port for the session.
- `portal_url`, `backoffice_url`: the two apps, started once per session.
- `sandbox_url`: the sandbox server (OpenID Provider, TSA, mail page); while the e2e tests run,
  both apps log in at its OpenID Provider and sign with its TSA, with the demo signers' keys
  (the development PKI, as `zegel demo` does).
- `worker`: a background worker thread, for journeys that wait for jobs.
- `browser`: Debian's Chromium (never skipped: a missing browser fails the run).
- `page`: a fresh context and page (Dutch, Belgium) whose console is watched (`page_console`).
Helpers (tests/e2e/browser.py): `screenshot(page, name)`, `assert_accessible(page)`.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from shared.config import get_settings
from shared.integrations.mail.sandbox import MailSink
from tests.e2e.browser import Console
from tests.live_server import LiveServer, bind_loopback, free_port, url_of

CHROMIUM = Path(os.environ.get("ZEGEL_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

ServeApp = Callable[..., str]


@pytest.fixture(scope="session")
def live_server(database: str) -> Iterator[ServeApp]:
    """`live_server(app)` serves `app` on 127.0.0.1 for the rest of the session; returns its URL."""
    servers: list[LiveServer] = []

    def serve(app: object, sock: socket.socket | None = None) -> str:
        """Serve `app`, on `sock` when given (bound with `bind_loopback`, to know the URL before
        the app is built)."""
        server = LiveServer(app, sock)
        servers.append(server)
        return server.start()

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def portal_url(live_server: ServeApp) -> str:
    from portal.app import create_app

    return live_server(create_app())


@pytest.fixture(scope="session")
def backoffice_url(live_server: ServeApp) -> str:
    from backoffice.app import create_app

    return live_server(create_app())


@dataclasses.dataclass(frozen=True)
class Sandbox:
    url: str
    mail: MailSink
    """The SMTP sink Zegel's e-mail goes to; also shown on the sandbox's /mail page."""


@pytest.fixture(scope="package")
def sandbox(live_server: ServeApp, portal_url: str, backoffice_url: str) -> Iterator[Sandbox]:
    """The sandboxes on loopback, as `zegel demo` runs them: both apps log in at its OpenID
    Provider (with the settings' client ids and secrets), sign with its TSA and the demo
    signers' development PKI, and send e-mail to its SMTP sink. Links in e-mails lead to the
    apps under test. Payments go to its Stripe, which posts signed webhooks to the portal."""
    from shared.integrations.oidc.client import OidcClient
    from shared.integrations.sandbox_app import create_sandbox_app
    from shared.integrations.stripe.client import reset_gateway as reset_stripe_gateway
    from shared.services import auth
    from shared.services.demo_data import (
        DEMO_SIGNER_PASSPHRASE,
        DEMO_SIGNER_PASSPHRASE_ENV,
        ensure_demo_pki,
    )

    sock = bind_loopback()
    base = url_of(sock)
    with MailSink("127.0.0.1", free_port()) as sink, pytest.MonkeyPatch.context() as environment:
        environment.setenv("ZEGEL_TSA_URL", f"{base}/tsa")
        environment.setenv("ZEGEL_REVOCATION_CHECKS_ONLINE", "false")
        environment.setenv(DEMO_SIGNER_PASSPHRASE_ENV, DEMO_SIGNER_PASSPHRASE)
        environment.setenv("ZEGEL_SMTP_HOST", "127.0.0.1")
        environment.setenv("ZEGEL_SMTP_PORT", str(sink.port))
        # Long enough for a journey that screens two letters one after the other, on a busy
        # machine, to land both in one digest round (1 s was not: a second digest followed).
        environment.setenv("ZEGEL_SIGNING_DIGEST_DELAY_SECONDS", "5")
        environment.setenv("ZEGEL_PORTAL_BASE_URL", portal_url)
        environment.setenv("ZEGEL_BACKOFFICE_BASE_URL", backoffice_url)
        environment.setenv("ZEGEL_MAGDA_BASE_URL", f"{base}/magda")
        environment.setenv("ZEGEL_MAGDA_LEGAL_BASIS", "Beraadslaging IVC nr. 26/000 (e2e)")
        environment.setenv("ZEGEL_MAGDA_SANDBOX_STEP_SECONDS", "1")
        environment.setenv("ZEGEL_STRIPE_API_BASE", f"{base}/stripe")
        get_settings.cache_clear()
        reset_stripe_gateway()
        ensure_demo_pki()
        live_server(create_sandbox_app(sink, base_url=base), sock)
        for app in auth.App:
            config = dataclasses.replace(auth.provider_config(app), issuer=f"{base}/oidc")
            auth.use_provider(app, OidcClient(config))
        yield Sandbox(base, sink)
        for app in auth.App:
            auth.use_provider(app, None)
    get_settings.cache_clear()
    reset_stripe_gateway()


@pytest.fixture(scope="package")
def sandbox_url(sandbox: Sandbox) -> str:
    return sandbox.url


@pytest.fixture
def worker(sandbox_url: str) -> Iterator[None]:
    """One background worker, polling often, for the test that asks for it (and only then:
    other journeys run their jobs when they choose); it asks MAGDA for delivery statuses every
    second."""
    from datetime import timedelta

    from shared import jobs
    from shared.jobs import Worker
    from shared.services import dispatch

    jobs.periodic(dispatch.POLL_JOB, timedelta(seconds=1))

    stop = threading.Event()
    runner = Worker("e2e-worker")
    runner.poll_seconds = 0.2
    thread = threading.Thread(target=runner.run_forever, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) or point "
            "ZEGEL_E2E_CHROMIUM at a Chromium binary. Browser tests never skip.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page_console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, page_console: Console) -> Iterator[Page]:
    context = browser.new_context(
        locale="nl-BE", timezone_id="Europe/Brussels", viewport={"width": 1280, "height": 800}
    )
    new_page = context.new_page()
    new_page.on("console", page_console.on_message)
    new_page.on("pageerror", page_console.on_page_error)
    new_page.set_default_timeout(10_000)
    try:
        yield new_page
    finally:
        context.close()
