"""Batch signing throughput: Zegel's service layer against raw pyHanko, same PDFs, same key.

    ZEGEL_DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python bench/signing.py 500

Creates N one-page decisions (rendered letters) in a new organisation of the configured
database, screens each for one signature (the algemeen directeur) and then, against the sandbox
TSA served by uvicorn in a separate process:
- raw pyHanko: `PdfSigner.sign_pdf` on each original PDF with the same key (kept parsed), the
  same stamp, the same reserved size and the same TSA: PAdES-B-T, nothing else;
- Zegel: `shared.services.signing.sign()` on all N signature requests with one call, including
  opening the PKCS#12 key, the certificate check, reading and storing every PDF, and one
  transaction per document (locks, state changes, audit events, the queued validation job).
Prints documents per second for both; the last line is `ratio: X.XX` (Zegel / raw pyHanko).
Files (storage, PKI) go to a temporary folder; the organisation's queued jobs are removed.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

PASSPHRASE = "bench-wachtwoord"  # noqa: S105 - a throwaway development key


def _configure() -> Path:
    """Temporary storage and PKI, set before Zegel reads its settings."""
    work = Path(tempfile.mkdtemp(prefix="zegel-bench-signing-"))
    os.environ["ZEGEL_STORAGE_PATH"] = str(work / "files")
    os.environ["ZEGEL_DEV_PKI_PATH"] = str(work / "pki")
    os.environ["ZEGEL_SIGNERS_CONFIG_PATH"] = str(work / "pki" / "signers.json")
    os.environ["ZEGEL_TRUST_ROOTS_PATH"] = str(work / "pki" / "root.pem")
    os.environ["ZEGEL_REVOCATION_CHECKS_ONLINE"] = "false"
    os.environ["ZEGEL_BENCH_PASSPHRASE"] = PASSPHRASE
    os.environ.setdefault("ZEGEL_LOG_LEVEL", "WARNING")
    return work


def _serve_tsa(pki_path: str, sock: socket.socket) -> None:
    import uvicorn
    from litestar import Litestar

    from shared.integrations.tsa.sandbox import create_tsa_sandbox_router
    from shared.pdf import devpki

    pki = devpki.ensure_dev_pki(Path(pki_path))
    app = Litestar([create_tsa_sandbox_router(lambda: (pki.tsa, [pki.root.certificate]))])
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the TSA sandbox did not start")


def main(count: int, work: Path) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_cms import SimpleSigner
    from sqlalchemy import delete, select

    from shared import db
    from shared.db import session_scope
    from shared.migrate import upgrade_database
    from shared.models import Job, OrganisationKind, SignatureRequest, SignerFunction, StaffRole
    from shared.pdf import devpki
    from shared.pdf.letters import Letter, render_letter
    from shared.pdf.signing import (
        STAMP_STYLE,
        StampText,
        make_timestamper,
        open_pkcs12,
        stamp_box,
    )
    from shared.services import audit
    from shared.services.organisations import add_staff_member, create_organisation
    from shared.services.screening import ScreeningOverride, screen_document
    from shared.services.signing import open_signer, sign
    from shared.storage import get_storage
    from shared.timeutil import today

    pki = devpki.ensure_dev_pki(
        work / "pki",
        [devpki.DevSigner("bench-directeur", "Koen Wouters")],
        passphrase=PASSPHRASE,
        passphrase_env="ZEGEL_BENCH_PASSPHRASE",  # noqa: S106 - a variable name
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tsa = multiprocessing.get_context("spawn").Process(
        target=_serve_tsa, args=(str(pki.path), sock), daemon=True
    )
    tsa.start()
    _wait_for(port)
    tsa_url = f"http://127.0.0.1:{port}/tsa"

    # -- set-up (not timed) ------------------------------------------------------------------
    upgrade_database()
    actor = audit.Actor.system("bench")
    storage = get_storage()
    started = time.perf_counter()
    with session_scope() as session:
        org = create_organisation(
            session,
            name="Gemeente Benchdorp",
            kind=OrganisationKind.GEMEENTE,
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            actor=actor,
        )
        director = add_staff_member(
            session,
            org,
            issuer="https://bench.invalid",
            subject="bench-directeur",
            name="Koen Wouters",
            email=None,
            roles=[StaffRole.ONDERTEKENAAR],
            actor=actor,
            signer_function=SignerFunction.ALGEMEEN_DIRECTEUR,
        )
        from shared.models import Document, Recipient, RecipientKind

        recipient = Recipient(
            id=uuid.uuid4(),
            organisation_id=org.id,
            kind=RecipientKind.POSTAL,
            name="Jan Peeters",
            street="Kerkstraat 1",
            postal_code="9999",
            city="Benchdorp",
        )
        session.add(recipient)
        override = ScreeningOverride(
            [SignerFunction.ALGEMEEN_DIRECTEUR], "Bench: één handtekening."
        )
        originals: list[bytes] = []
        for n in range(count):
            pdf = render_letter(
                Letter(
                    sender_name="Gemeente Benchdorp",
                    sender_address=["Marktplein 1", "9999 Benchdorp"],
                    recipient_name=f"Burger {n}",
                    recipient_address=["Kerkstraat 1", "9999 Benchdorp"],
                    place_and_date="Benchdorp, 1 december 2026",
                    subject=f"Besluit {n}",
                    paragraphs=["Het college van burgemeester en schepenen heeft beslist. " * 6],
                    reference=f"2026_CBS_{n:05d}",
                    signatories=["De algemeen directeur"],
                )
            )
            originals.append(pdf)
            sha256 = storage.put(pdf)
            document = Document(
                id=uuid.uuid4(),
                organisation_id=org.id,
                recipient_id=recipient.id,
                document_type="college_decision",
                title=f"Besluit {n}",
                file_name="besluit.pdf",
                original_sha256=sha256,
                current_sha256=sha256,
                public_token=secrets.token_urlsafe(32),
            )
            session.add(document)
            session.flush()
            screen_document(session, document, actor=actor, override=override)
        request_ids = list(
            session.scalars(
                select(SignatureRequest.id)
                .where(SignatureRequest.organisation_id == org.id)
                .order_by(SignatureRequest.created_at)
            ).all()
        )
        director_id, org_id = director.id, org.id
    setup = time.perf_counter() - started

    # -- raw pyHanko ---------------------------------------------------------------------------
    backend = open_pkcs12(pki.path / "signers" / "bench-directeur.p12", PASSPHRASE)
    timestamper = make_timestamper(tsa_url)
    reserved = backend.bytes_reserved(timestamper)
    stamp = StampText("Koen Wouters", "algemeen directeur", today()).lines()

    def raw_sign(pdf: bytes, signer: signers.Signer, bytes_reserved: int | None) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        pdf_signer = signers.PdfSigner(
            signers.PdfSignatureMetadata(
                field_name="Handtekening-1-1",
                md_algorithm="sha256",
                subfilter=fields.SigSeedSubFilter.PADES,
                reason="algemeen directeur",
                name="Koen Wouters",
                location="Gemeente Benchdorp",
            ),
            signer,
            timestamper=timestamper,
            stamp_style=STAMP_STYLE,
            new_field_spec=fields.SigFieldSpec("Handtekening-1-1", box=stamp_box(0), on_page=-1),
        )
        out = pdf_signer.sign_pdf(
            writer, bytes_reserved=bytes_reserved, appearance_text_params={"lines": stamp}
        )
        return bytes(out.getvalue())

    def raw_run(pdfs: list[bytes]) -> float:
        started = time.perf_counter()
        for pdf in pdfs:
            raw_sign(pdf, backend.signer, reserved)
        return time.perf_counter() - started

    # Raw pyHanko signs the first half of the PDFs before Zegel and the second half after,
    # so that any drift of the machine during the run weighs on both alike.
    raw_run(originals[:5])  # warm-up
    half = count // 2
    raw = raw_run(originals[:half])

    stock = SimpleSigner.load_pkcs12(
        str(pki.path / "signers" / "bench-directeur.p12"), passphrase=PASSPHRASE.encode()
    )
    sample = originals[: min(20, count)]
    started = time.perf_counter()
    for pdf in sample:
        raw_sign(pdf, stock, None)
    stock_time = (time.perf_counter() - started) / len(sample)

    # -- Zegel ---------------------------------------------------------------------------------
    started = time.perf_counter()
    with session_scope() as session:
        signing_backend = open_signer(session, director_id)
    with signing_backend:
        outcomes = sign(
            request_ids,
            signer_user_id=director_id,
            backend=signing_backend,
            actor=audit.Actor.staff(director_id, "Koen Wouters"),
            timestamper=make_timestamper(tsa_url),
        )
    zegel = time.perf_counter() - started
    failed = [o for o in outcomes if not o.signed]
    if failed:
        raise SystemExit(f"{len(failed)} documents not signed: {failed[0].message}")

    raw += raw_run(originals[half:])
    backend.close()

    # -- the background validation (informational) ---------------------------------------------
    from shared import jobs
    from shared.services import signing as signing_service  # registers the job handler

    del signing_service
    sample_jobs = min(100, count)
    started = time.perf_counter()
    ran = jobs.Worker("bench", kinds={"signing.validate"}, batch_size=20).run_pending(sample_jobs)
    validation = (time.perf_counter() - started) / max(ran, 1)
    with session_scope() as session:
        session.execute(delete(Job).where(Job.organisation_id == org_id))
    tsa.terminate()
    tsa.join(timeout=5)

    backend_name = db.get_engine().dialect.name
    print(f"backend              {backend_name}")
    print(f"documents            {count} one-page decisions, one PAdES-B-T signature each")
    print(f"set-up               {setup:.1f} s (render, store, intake checks, screening)")
    print(
        f"raw pyHanko          {count / raw:7.1f} docs/s  ({raw / count * 1000:5.1f} ms/doc;"
        " same key kept parsed, bytes_reserved, same stamp and TSA client)"
    )
    print(
        f"stock SimpleSigner   {1 / stock_time:7.1f} docs/s  ({stock_time * 1000:5.1f} ms/doc;"
        f" for reference, {len(sample)} docs, key re-parsed and size estimated each time)"
    )
    print(
        f"Zegel sign()         {count / zegel:7.1f} docs/s  ({zegel / count * 1000:5.1f} ms/doc;"
        " one call: key, checks, storage, one transaction per document)"
    )
    print(
        f"validation job       {1 / validation:7.1f} docs/s  ({validation * 1000:5.1f} ms/doc;"
        f" background, {ran} docs)"
    )
    print(f"ratio: {raw / zegel:.2f}")


if __name__ == "__main__":
    folder = _configure()
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
