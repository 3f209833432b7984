"""`zegel demo` (what `make demo` runs) starts everything on a fresh SQLite file with demo data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import screenshot

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("demo")
    ports = {name: _free_port() for name in ("backoffice", "portal", "sandbox", "smtp")}
    env = {
        **os.environ,
        "ZEGEL_ENV": "development",
        "ZEGEL_DATABASE_URL": f"sqlite:///{folder}/zegel.db",
        "ZEGEL_STORAGE_PATH": str(folder / "files"),
    }
    log = (folder / "demo.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared",
            "demo",
            f"--backoffice-port={ports['backoffice']}",
            f"--portal-port={ports['portal']}",
            f"--sandbox-port={ports['sandbox']}",
            f"--smtp-port={ports['smtp']}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items() if name != "smtp"}
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, Path(log.name).read_text()
            try:
                if all(httpx.get(f"{url}/healthz").status_code == 200 for url in urls.values()):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "zegel demo did not come up in 60 s"
            time.sleep(0.3)
        yield {**urls, "database": env["ZEGEL_DATABASE_URL"], "log": log.name}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()
    assert process.returncode == 0, Path(log.name).read_text()


def test_demo_serves_both_apps_and_the_sandboxes(demo: dict[str, str]) -> None:
    for name in ("backoffice", "portal", "sandbox"):
        response = httpx.get(f"{demo[name]}/healthz")
        assert response.status_code == 200, name
        assert response.json() == {"status": "ok"}
    output = Path(demo["log"]).read_text()
    assert "Demogegevens geladen." in output
    assert f"Backoffice   {demo['backoffice']}/" in output
    assert f"Portaal      {demo['portal']}/" in output


def test_demo_data_is_loaded_and_its_audit_trail_verifies(demo: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared", "audit", "verify"],
        env={**os.environ, "ZEGEL_ENV": "development", "ZEGEL_DATABASE_URL": demo["database"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Audit trail intact." in result.stdout


def test_demo_start_pages_in_the_browser(page: Page, demo: dict[str, str]) -> None:
    page.goto(demo["backoffice"] + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welkom bij Zegel")
    screenshot(page, "demo-backoffice-start")

    page.goto(demo["portal"] + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Uw documenten van de gemeente")
    expect(page.get_by_role("heading", name="Met de code op uw brief")).to_be_visible()
    screenshot(page, "demo-portal-start")

    page.goto(demo["sandbox"] + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Zegel — zandbakken")


def test_the_demo_signers_digest_arrives_in_the_mail_sandbox(demo: dict[str, str]) -> None:
    # The demo screens two decisions for the general director; the worker sends his digest
    # over SMTP to the sink, whose inbox is the sandbox's /mail page.
    deadline = time.monotonic() + 60
    while True:
        page = httpx.get(f"{demo['sandbox']}/mail").text
        if "wachten op uw handtekening" in page:
            break
        assert time.monotonic() < deadline, f"no digest e-mail in the sandbox:\n{page}"
        time.sleep(0.5)
    assert page.count("wachten op uw handtekening — Gemeente Zegelbeek") == 1
    assert "2 stukken wachten op uw handtekening — Gemeente Zegelbeek" in page
    assert "Aan: directeur@zegelbeek.example" in page
    assert f"{demo['backoffice']}/handtekenmap" in page
