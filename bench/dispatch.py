"""Dispatch throughput: queue and submit N documents to the MAGDA sandbox, next to raw HTTP.

    ZEGEL_DATABASE_URL=postgresql://postgres@127.0.0.1/bench \\
        .venv/bin/python bench/dispatch.py [N=20000] [workers=3]

The sandbox runs in its own process (uvicorn, statuses frozen). First one plain httpx client
posts the same multipart message to it as fast as it can (the sandbox's raw throughput, with
a token fetched once and a fresh Idempotency-Key per post). Then Zegel queues N ready documents
with `shared.services.dispatch.send()` (1,000 per transaction) while `workers` worker processes
submit them through the real job queue and MAGDA client: register number, POST, record.
Zegel's rate counts both queueing and submitting. The raw rate is measured before and after
Zegel's run (half the posts each) and averaged, since other load on the machine moves it.
The last line is `ratio: X.XX` (Zegel / raw).
Uses the configured database (creates a new organisation each run): give it a scratch one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIENT_ID = "zegel-bench"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n" + b"%" + b"x" * 20_000 + b"\n"
)
"""A one-page PDF of about 20 kB, the size of a short signed letter."""


def serve_sandbox(port: int, key_file: str) -> None:
    """Child process: the MAGDA sandbox on 127.0.0.1:port trusting the bench key."""
    import uvicorn
    from litestar import Litestar

    from shared.integrations.magda import keys
    from shared.integrations.magda.client import load_private_key
    from shared.integrations.magda.sandbox import MagdaSandbox

    sandbox = MagdaSandbox(
        clients={CLIENT_ID: keys.public_jwks(load_private_key(Path(key_file)))},
        step_seconds=10**6,
        public_token_url=f"http://127.0.0.1:{port}/magda/oauth2/token",
    )
    uvicorn.run(
        Litestar([sandbox.router("/magda")]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_sandbox/stats").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the sandbox did not start")


def raw_throughput(base: str, count: int, ssin: str) -> float:
    """Plain multipart posts from one httpx client, token fetched once."""
    from shared.integrations.magda import (
        Attachment,
        MessageRecipient,
        OutgoingMessage,
        client_from_settings,
    )

    token = client_from_settings().access_token()
    message = OutgoingMessage(
        reference="raw",
        subject_nl="Besluit",
        channel="EBOX",
        delivery_method="normal",
        recipient=MessageRecipient(name="Raw", ebox_type="citizen", ssin=ssin),
        attachments=(Attachment("besluit.pdf", PDF),),
        portal_url="http://127.0.0.1:8001/d/raw",
    )
    body = json.dumps(message.to_json()).encode()
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        for _ in range(count):
            response = client.post(
                f"{base}/api/v1/messages",
                files=[
                    ("message", (None, body, "application/json")),
                    ("attachment", ("besluit.pdf", PDF, "application/pdf")),
                ],
                headers={
                    "authorization": f"Bearer {token}",
                    "idempotency-key": uuid.uuid4().hex,
                    "x-correlation-id": str(uuid.uuid4()),
                },
            )
            assert response.status_code == 201, response.text
        return count / (time.perf_counter() - started)


def _work(all_queued: Any) -> None:
    from shared import db, jobs
    from shared.services import dispatch

    db.after_fork()
    jobs.settle_worker_process()  # as `zegel worker` does after start-up
    worker = jobs.Worker(batch_size=20, kinds={dispatch.SUBMIT_JOB})
    idle = 0
    while idle < 10 or not all_queued.is_set():
        if worker.run_pending() == 0:
            idle += 1
            time.sleep(0.05)
        else:
            idle = 0


def main(count: int, workers: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="zegel-bench-dispatch-"))
    from shared.integrations.magda import keys

    key_file = folder / "client.jwk"
    key_file.write_text(json.dumps(keys.generate_key()))
    port = _free_port()
    base = f"http://127.0.0.1:{port}/magda"
    os.environ.update(
        ZEGEL_MAGDA_BASE_URL=base,
        ZEGEL_MAGDA_CLIENT_ID=CLIENT_ID,
        ZEGEL_MAGDA_PRIVATE_KEY_PATH=str(key_file),
        ZEGEL_MAGDA_TIMEOUT_SECONDS="30",
    )
    os.environ.setdefault("ZEGEL_STORAGE_PATH", str(folder / "files"))
    server = subprocess.Popen(
        [sys.executable, __file__, "--sandbox", str(port), str(key_file)], cwd=ROOT
    )
    try:
        _wait_up(base)
        run(base, count, workers)
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(base: str, count: int, workers: int) -> None:
    from sqlalchemy import func, insert, select

    from shared import db
    from shared.config import get_settings
    from shared.db import session_scope, utcnow
    from shared.integrations.magda import testdata
    from shared.migrate import upgrade_database
    from shared.models import (
        Dispatch,
        DispatchStatus,
        Document,
        DocumentStatus,
        EboxStatus,
        OrganisationKind,
        Recipient,
        RecipientKind,
    )
    from shared.protection import seal, ssin_digest
    from shared.services import audit, dispatch
    from shared.services.organisations import create_organisation
    from shared.storage import get_storage

    get_settings.cache_clear()
    upgrade_database()
    person = testdata.person_by_key("an-janssens")
    raw_count = min(count, 5000) // 2
    raw_before = raw_throughput(base, raw_count, person.ssin)

    actor = audit.Actor.system("bench")
    with session_scope() as session:
        org = create_organisation(
            session,
            name="Bench",
            kind=OrganisationKind.GEMEENTE,
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            actor=actor,
        )
        recipient = Recipient(
            id=uuid.uuid4(),
            organisation_id=org.id,
            kind=RecipientKind.CITIZEN,
            ssin_digest=ssin_digest(person.ssin),
            ssin_sealed=seal(person.ssin),
            name=person.name,
            ebox_status=EboxStatus.ACTIVATED,
            ebox_checked_at=utcnow(),
        )
        session.add(recipient)
        sha256 = get_storage().put(PDF)
        ids = [uuid.uuid4() for _ in range(count)]
        for start in range(0, count, 5000):
            session.execute(
                insert(Document),
                [
                    {
                        "id": document_id,
                        "organisation_id": org.id,
                        "recipient_id": recipient.id,
                        "document_type": "college_decision",
                        "title": f"Besluit {start + n}",
                        "status": DocumentStatus.READY,
                        "file_name": "besluit.pdf",
                        "original_sha256": sha256,
                        "current_sha256": sha256,
                        "public_token": secrets.token_urlsafe(32),
                    }
                    for n, document_id in enumerate(ids[start : start + 5000])
                ],
            )
        org_id = org.id

    db.get_engine().dispose()
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    context = multiprocessing.get_context("fork")
    all_queued = context.Event()
    processes = [context.Process(target=_work, args=(all_queued,)) for _ in range(workers)]
    for process in processes:
        process.start()
    started = time.perf_counter()
    for start in range(0, count, 1000):  # the workers submit while the rest is queued
        with session_scope() as session:
            result = dispatch.send(session, org_id, ids[start : start + 1000], actor=actor)
            assert not result.refused, result.refused[:3]
    queued = time.perf_counter() - started
    all_queued.set()
    for process in processes:
        process.join()
    total = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )

    with session_scope() as session:
        done = session.scalar(
            select(func.count())
            .select_from(Dispatch)
            .where(Dispatch.organisation_id == org_id, Dispatch.status == DispatchStatus.SUBMITTED)
        )
        sequences = session.scalar(
            select(func.max(Dispatch.register_sequence)).where(Dispatch.organisation_id == org_id)
        )
    raw_after = raw_throughput(base, raw_count, person.ssin)
    raw = (raw_before + raw_after) / 2
    raw_count *= 2
    stats = httpx.get(f"{base}/_sandbox/stats").json()
    zegel = count / total
    print(f"backend              {db.get_engine().dialect.name}")
    print(f"documents            {count}")
    print(f"worker processes     {workers}")
    print(f"queue (send)         {count / queued:,.0f} dispatches/s ({queued:.1f} s)")
    print(f"queued and submitted {total:.1f} s (workers submit while the rest is queued)")
    print(f"worker CPU           {worker_cpu / count * 1000:.2f} ms per dispatch")
    print(f"submitted            {done} (last register number {sequences})")
    print(f"sandbox messages     {stats['messages'] - raw_count} from Zegel, {raw_count} raw")
    print(f"zegel end to end     {zegel:,.0f} dispatches/s")
    print(
        f"raw (one client)     {raw:,.0f} posts/s"
        f" (before {raw_before:,.0f}, after {raw_after:,.0f}; machine load varies)"
    )
    print(f"ratio: {zegel / raw:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sandbox":
        serve_sandbox(int(sys.argv[2]), sys.argv[3])
    else:
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 3,
        )
