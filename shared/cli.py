"""The `zegel` command: demo | serve | worker | db upgrade | db check | audit verify."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from typing import Any

import click
import uvicorn

from shared.config import get_settings
from shared.errors import ConfigError

APPS = {"portal": "portal.app:app", "backoffice": "backoffice.app:app"}
DEMO_MAGDA_LEGAL_BASIS = "Demo: machtiging IVC/KSZG/00/000 (zandbak, geen echte rechtsgrond)"


class ZegelGroup(click.Group):
    """Turns configuration errors into one clear line and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(f"zegel: {error}", err=True)
            ctx.exit(2)


def _prepare(*, migrate: bool = False) -> None:
    """Load settings, set up logging, check the database; optionally migrate it."""
    from shared.db import check_database
    from shared.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    check_database()
    if migrate:
        from shared.migrate import upgrade_database

        upgrade_database()


def _register_job_handlers() -> None:
    """Import the services whose background jobs a worker runs (they register on import)."""
    importlib.import_module("shared.services.signing")
    importlib.import_module("shared.services.signing_batches")
    importlib.import_module("shared.services.notifications")
    importlib.import_module("shared.services.dispatch")
    importlib.import_module("shared.services.imports")
    importlib.import_module("shared.services.ebox_fallback")
    importlib.import_module("shared.services.dispute_receipts")
    importlib.import_module("shared.services.payment_reminders")


def _load_app(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=ZegelGroup)
def main() -> None:
    """Zegel: outgoing decisions of local governments, from college meeting to citizen."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--backoffice-port", default=8000, show_default=True)
@click.option("--portal-port", default=8001, show_default=True)
@click.option("--sandbox-port", default=8002, show_default=True)
@click.option("--smtp-port", default=8025, show_default=True)
def demo(
    host: str, backoffice_port: int, portal_port: int, sandbox_port: int, smtp_port: int
) -> None:
    """Migrate, load demo data when empty, and run both apps, the sandboxes and a worker."""
    sandbox = f"http://{host}:{sandbox_port}"
    # The sandboxes and apps run on the ports given here; settings not set explicitly follow.
    for name, value in {
        "ZEGEL_SANDBOX_BASE_URL": sandbox,
        "ZEGEL_CITIZEN_OIDC_ISSUER": f"{sandbox}/oidc",
        "ZEGEL_STAFF_OIDC_ISSUER": f"{sandbox}/oidc",
        "ZEGEL_TSA_URL": f"{sandbox}/tsa",
        "ZEGEL_MAGDA_BASE_URL": f"{sandbox}/magda",
        "ZEGEL_MAGDA_LEGAL_BASIS": DEMO_MAGDA_LEGAL_BASIS,
        "ZEGEL_MAGDA_STATUS_POLL_SECONDS": "15",
        "ZEGEL_BACKOFFICE_BASE_URL": f"http://{host}:{backoffice_port}",
        "ZEGEL_PORTAL_BASE_URL": f"http://{host}:{portal_port}",
        "ZEGEL_SMTP_HOST": host,
        "ZEGEL_SMTP_PORT": str(smtp_port),
        # Digest e-mails to signers show up in the sink (/mail) within seconds.
        "ZEGEL_SIGNING_DIGEST_DELAY_SECONDS": "2",
    }.items():
        os.environ.setdefault(name, value)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.is_production:
        raise ConfigError("zegel demo does not run with ZEGEL_ENV=production")
    _prepare(migrate=True)
    from shared.db import session_scope
    from shared.integrations.mail.sandbox import MailSink
    from shared.integrations.sandbox_app import create_sandbox_app
    from shared.jobs import Worker
    from shared.services.demo_data import (
        DEMO_SIGNER_PASSPHRASE,
        DEMO_SIGNER_PASSPHRASE_ENV,
        ensure_demo_pki,
        has_data,
        load_demo_data,
    )

    ensure_demo_pki(settings)  # test CA, demo signers' keys, sandbox TSA (var/pki, once)
    os.environ.setdefault(DEMO_SIGNER_PASSPHRASE_ENV, DEMO_SIGNER_PASSPHRASE)
    _register_job_handlers()
    with session_scope() as session:
        if not has_data(session):
            load_demo_data(session)
            click.echo("Demogegevens geladen.")

    sink = MailSink(host, smtp_port)
    sink.start()
    stop = threading.Event()
    worker = threading.Thread(target=Worker("demo-worker").run_forever, args=(stop,), daemon=True)
    worker.start()

    servers = [
        _server(_load_app(APPS["backoffice"]), host, backoffice_port),
        _server(_load_app(APPS["portal"]), host, portal_port),
        _server(create_sandbox_app(sink, base_url=settings.sandbox_base_url), host, sandbox_port),
    ]
    click.echo(
        "\nZegel draait:\n"
        f"  Backoffice   http://{host}:{backoffice_port}/\n"
        f"  Portaal      http://{host}:{portal_port}/\n"
        f"  Zandbakken   http://{host}:{sandbox_port}/"
        f"  (e-mails: /mail, SMTP op poort {smtp_port})\n"
        "Stoppen met Ctrl+C.\n"
    )
    _run_until_signal(servers, stop)
    worker.join(timeout=10)
    sink.stop()


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))


def _run_until_signal(servers: list[uvicorn.Server], stop: threading.Event) -> None:
    """Run each server in a thread (so none installs signal handlers); stop all on a signal."""

    def request_stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    threads = [threading.Thread(target=server.run, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    while not stop.is_set() and all(thread.is_alive() for thread in threads):
        stop.wait(0.5)
    stop.set()
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(timeout=10)


@main.command()
@click.argument("app", type=click.Choice(sorted(APPS)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="8000 for backoffice, 8001 for portal")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes")
def serve(app: str, host: str, port: int | None, workers: int) -> None:
    """Serve one app (portal or backoffice) with uvicorn."""
    _prepare()
    port = port or (8000 if app == "backoffice" else 8001)
    uvicorn.run(
        APPS[app], host=host, port=port, workers=workers, log_config=None, proxy_headers=True
    )


@main.command()
@click.option("--threads", default=1, show_default=True, help="workers in this process")
@click.option("--once", is_flag=True, help="run what is due now, then stop")
def worker(threads: int, once: bool) -> None:
    """Run background jobs. Start as many worker processes as needed."""
    _prepare()
    from shared.jobs import Worker, settle_worker_process

    _register_job_handlers()
    settle_worker_process()
    if once:
        ran = Worker().run_pending()
        click.echo(f"{ran} jobs uitgevoerd.")
        return
    stop = threading.Event()

    def request_stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    runners = [
        threading.Thread(target=Worker().run_forever, args=(stop,), name=f"worker-{n}")
        for n in range(threads)
    ]
    for runner in runners:
        runner.start()
    while any(r.is_alive() for r in runners):
        for runner in runners:
            runner.join(timeout=0.5)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (alembic upgrade head)."""
    _prepare(migrate=True)
    click.echo("Database bijgewerkt.")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations differ (alembic check)."""
    _prepare()
    from shared.migrate import check_database_schema

    check_database_schema()
    click.echo("Schema en migraties komen overeen.")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk every organisation's chain; name the first changed, inserted or deleted event."""
    _prepare()
    from shared.db import session_scope
    from shared.services.audit import verify_all

    with session_scope() as session:
        findings = verify_all(session)
    if not findings:
        click.echo("Audit trail intact.")
        return
    first_per_chain: dict[Any, Any] = {}
    for finding in findings:
        first_per_chain.setdefault(finding.chain_id, finding)
    for chain_id, finding in first_per_chain.items():
        click.echo(f"chain {chain_id}: {finding.kind.upper()}: {finding.message}")
    click.echo(f"{len(findings)} problem(s) in {len(first_per_chain)} chain(s).", err=True)
    sys.exit(1)
