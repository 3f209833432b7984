"""The citizen's document page under load, next to a bare Litestar + Jinja2 page.

    ZEGEL_DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python bench/portal.py

Fills the configured PostgreSQL database (give it an empty one) with N documents
(default 100,000) of one organisation, each addressed to its own citizen and sent, with a
payment request for every second one; logs one of those citizens in and serves:
- Zegel: the portal app (`portal.app:create_app`), the real `/d/<token>` page of that citizen's
  document: session lookup and login check, the client's guessing lock-out, document and
  follow-up queries, signatures, timeline, the full template, security headers;
- bare: a Litestar app with one Jinja2 template of the same size and no database.
Both are served by `--workers` uvicorn processes (default: one per CPU) on one listening socket
and loaded by the same client: `--clients` keep-alive connections (default 50, spread over
`--client-processes`) sending requests for `--seconds` each. Prints requests per second and
p95 latency for both; the last line is `ratio: X.XX` (Zegel's requests per second / bare's).
`--keep` reuses the documents of an earlier fill (a new login session each run).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

# This script's name would shadow the `portal` package: look modules up from the repository.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _configure() -> None:
    url = os.environ.get("ZEGEL_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit(
            "bench/portal.py measures production: set ZEGEL_DATABASE_URL to an empty PostgreSQL"
            " database (SQLite, the embedded default, serialises every request on its lock)."
        )
    work = Path(tempfile.mkdtemp(prefix="zegel-bench-portal-"))
    os.environ["ZEGEL_STORAGE_PATH"] = str(work / "files")
    os.environ.setdefault("ZEGEL_LOG_LEVEL", "WARNING")


def _fill(count: int) -> tuple[str, str]:
    """N sent documents; returns (the digest of one citizen's number, that citizen's token)."""
    from sqlalchemy import insert

    from shared.db import session_scope, utcnow
    from shared.migrate import upgrade_database
    from shared.models import (
        Document,
        DocumentStatus,
        OrganisationKind,
        PaymentRequest,
        PaymentRequestStatus,
        Recipient,
        RecipientKind,
    )
    from shared.protection import seal, ssin_digest
    from shared.services import audit
    from shared.services.organisations import create_organisation

    upgrade_database()
    now = utcnow()
    with session_scope() as session:
        org = create_organisation(
            session,
            name="Gemeente Benchdorp",
            kind=OrganisationKind.GEMEENTE,
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            actor=audit.Actor.system("bench"),
        )
        org_id = org.id
    sealed = seal("85073003328")  # the sealed value is never read here; one is enough
    chosen = count // 2
    chosen_digest = ""
    chosen_token = ""
    batch = 5000
    for start in range(0, count, batch):
        recipients, documents, payments = [], [], []
        for i in range(start, min(start + batch, count)):
            digest = ssin_digest(f"{85000000000 + i:011d}")
            recipient_id, document_id = uuid.uuid4(), uuid.uuid4()
            token = secrets.token_urlsafe(32)
            if i == chosen:
                chosen_digest, chosen_token = digest, token
            recipients.append(
                {
                    "id": recipient_id,
                    "organisation_id": org_id,
                    "kind": RecipientKind.CITIZEN,
                    "ssin_digest": digest,
                    "ssin_sealed": sealed,
                    "name": f"Burger {i}",
                    "street": "Kerkstraat 1",
                    "postal_code": "9999",
                    "city": "Benchdorp",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            documents.append(
                {
                    "id": document_id,
                    "organisation_id": org_id,
                    "recipient_id": recipient_id,
                    "document_type": "tax_assessment",
                    "title": f"Belasting op tweede verblijven {i}",
                    "status": DocumentStatus.DISPATCHED,
                    "file_name": "aanslag.pdf",
                    "original_sha256": "0" * 64,
                    "current_sha256": "0" * 64,
                    "page_count": 1,
                    "public_token": token,
                    "sent_at": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                    "amount_due_cents": 12550 if i % 2 == 0 else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if i % 2 == 0:
                payments.append(
                    {
                        "id": uuid.uuid4(),
                        "organisation_id": org_id,
                        "document_id": document_id,
                        "amount_cents": 12550,
                        "due_date": date(2026, 12, 31),
                        "structured_communication": f"{i:010d}{(i % 97) or 97:02d}",
                        "iban": "BE71096123456769",
                        "status": PaymentRequestStatus.OPEN,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        with session_scope() as session:
            session.execute(insert(Recipient), recipients)
            session.execute(insert(Document), documents)
            if payments:
                session.execute(insert(PaymentRequest), payments)
    return chosen_digest, chosen_token


def _reuse() -> tuple[str, str] | None:
    """(digest, token) of a document with a payment request from an earlier fill, if any."""
    from sqlalchemy import select

    from shared.db import session_scope
    from shared.migrate import upgrade_database
    from shared.models import Document, PaymentRequest, Recipient

    upgrade_database()
    with session_scope() as session:
        found = session.execute(
            select(Recipient.ssin_digest, Document.public_token)
            .join(Document, Document.recipient_id == Recipient.id)
            .join(PaymentRequest, PaymentRequest.document_id == Document.id)
            .where(Document.title.like("Belasting op tweede verblijven %"))
            .limit(1)
        ).first()
    return (found[0], found[1]) if found else None


def _login(digest: str) -> str:
    """A portal session for the citizen with this digest; returns its cookie."""
    import hashlib

    from shared.db import session_scope, utcnow
    from shared.models import WebSession

    now = utcnow()
    cookie = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.add(
            WebSession(
                token_digest=hashlib.sha256(cookie.encode()).hexdigest(),
                app="portal",
                issuer="https://bench.invalid",
                subject="bench-citizen",
                display_name="Burger Bench",
                acr=None,
                auth_level=3,
                citizen_ssin_digest=digest,
                created_at=now,
                last_seen_at=now,
                expires_at=datetime(2099, 1, 1, tzinfo=UTC),
            )
        )
    return cookie


BARE_TEMPLATE = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>{{ title }}</title></head><body><main><h1>{{ title }}</h1>
<dl>{% for key, value in rows %}<dt>{{ key }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>{% endfor %}</main></body></html>"""


PARAGRAPHS = 130
"""About as many bytes as Zegel's document page (some 5.5 to 6 kB)."""


def _bare_app() -> object:
    from jinja2 import Environment
    from litestar import Litestar, get
    from litestar.response import Response

    template = Environment(autoescape=True).from_string(BARE_TEMPLATE)

    def page(token: str) -> Response[str]:
        html = template.render(
            title="Belasting op tweede verblijven",
            rows=[("Van", "Gemeente Benchdorp"), ("Te betalen", "€ 125,50"), ("Token", token)],
            paragraphs=["Een brief van Gemeente Benchdorp."] * PARAGRAPHS,
        )
        return Response(html, media_type="text/html")

    # Real annotations: in the server process this module is __mp_main__, where Litestar
    # cannot resolve the postponed (string) ones.
    page.__annotations__ = {"token": str, "return": Response[str]}
    return Litestar([get("/d/{token:str}", sync_to_thread=False)(page)])


def _serve(which: str, sock: socket.socket) -> None:
    import uvicorn

    if which == "zegel":
        from portal.app import create_app

        app: object = create_app()
    else:
        app = _bare_app()
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning")  # type: ignore[arg-type]
    uvicorn.Server(config).run(sockets=[sock])


async def _load(
    url: str, cookie: str, clients: int, seconds: float
) -> tuple[int, float, list[float], int]:
    """`clients` keep-alive connections sending requests for `seconds`: (count, elapsed,
    latencies, errors).

    A plain HTTP/1.1 client on asyncio streams, the same for both sides: httpx's connection
    pool costs about ten times more than the bare page itself at 50 concurrent requests, so it
    measured the client, not the servers."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Cookie: zegel_portal_session={cookie}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def one_client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if head[9:12] != b"200":
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies, errors


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise SystemExit("a response without Content-Length (chunked?): the bench cannot read it")


def _load_part(args: tuple[str, str, int, float]) -> tuple[int, float, list[float], int]:
    return asyncio.run(_load(*args))


def _run_load(
    url: str, cookie: str, clients: int, seconds: float, processes: int
) -> tuple[float, float, int]:
    """Spread the clients over several processes, so the Python client is not the limit."""
    shares = [
        clients // processes + (1 if i < clients % processes else 0) for i in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_load_part, [(url, cookie, n, seconds) for n in shares if n])
    count = sum(p[0] for p in parts)
    elapsed = max(p[1] for p in parts)
    latencies = [latency for p in parts for latency in p[2]]
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000
    return count / elapsed, p95, sum(p[3] for p in parts)


def _measure(
    which: str,
    path: str,
    cookie: str,
    clients: int,
    seconds: float,
    processes: int,
    workers: int,
) -> tuple[float, float]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    # `workers` server processes accept on the one listening socket, as uvicorn's --workers do
    servers = [
        multiprocessing.get_context("spawn").Process(target=_serve, args=(which, sock))
        for _ in range(workers)
    ]
    for server in servers:
        server.start()
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(
                    f"http://127.0.0.1:{port}{path}", cookies={"zegel_portal_session": cookie}
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}{path}"
        _run_load(url, cookie, clients, 2, processes)  # warm up
        rps, p95, errors = _run_load(url, cookie, clients, seconds, processes)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.join()
    if errors:
        raise SystemExit(f"{which}: {errors} responses were not 200")
    print(
        f"{which:>6}: {rps:8.1f} requests/s   p95 {p95:6.1f} ms"
        f"   ({clients} clients, {workers} server processes)"
    )
    return rps, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="?", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--client-processes", type=int, default=2, help="processes the clients are spread over"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes for each side, the same for both (default: one per CPU)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse the documents of an earlier fill if any"
    )
    args = parser.parse_args()
    _configure()
    started = time.perf_counter()
    found = _reuse() if args.keep else None
    if found is None:
        found = _fill(args.documents)
        print(f"filled {args.documents} documents in {time.perf_counter() - started:.1f} s")
    digest, token = found
    cookie = _login(digest)
    load = (cookie, args.clients, args.seconds, args.client_processes, args.workers)
    zegel_rps, _ = _measure("zegel", f"/d/{token}", *load)
    bare_rps, _ = _measure("bare", f"/d/{token}", *load)
    print(f"ratio: {zegel_rps / bare_rps:.2f}")


if __name__ == "__main__":
    main()
