"""Browser journeys: the apps served by uvicorn on loopback, driven by Chromium through Playwright.

Fixtures for any journey:
- `live_server(app) -> base URL`: serve an ASGI app on a free loopback port for the session.
- `portal_url`, `backoffice_url`: the two apps, started once per session.
- `browser`: Debian's Chromium (never skipped: a missing browser fails the run).
- `page`: a fresh context and page (Dutch, Belgium) whose console is watched (`page_console`).
Helpers (tests/e2e/browser.py): `screenshot(page, name)`, `assert_accessible(page)`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import Console

CHROMIUM = Path(os.environ.get("ZEGEL_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

ServeApp = Callable[[object], str]


class _Server(uvicorn.Server):
    def __init__(self, app: object, sock: socket.socket) -> None:
        super().__init__(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none")  # type: ignore[arg-type]
        )
        self.sock = sock
        self.thread = threading.Thread(target=self._run, daemon=True, name="live-server")

    def _run(self) -> None:
        self.run(sockets=[self.sock])

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start within {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(database: str) -> Iterator[ServeApp]:
    """`live_server(app)` serves `app` on 127.0.0.1 for the rest of the session; returns its URL."""
    servers: list[_Server] = []

    def serve(app: object) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = _Server(app, sock)
        server.start()
        servers.append(server)
        host, port = sock.getsockname()
        return f"http://{host}:{port}"

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
