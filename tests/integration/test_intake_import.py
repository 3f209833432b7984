"""Bulk intake from a ZIP file over HTTP and through a worker: progress, per-row errors,
replays, and the refusals that store nothing."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.app import create_app
from shared.jobs import Worker
from shared.models import (
    AuditEvent,
    Decision,
    Document,
    ImportBatch,
    ImportItem,
    ImportItemStatus,
    ImportStatus,
    Job,
    Organisation,
    StaffRole,
)
from shared.services import imports
from shared.timeutil import today
from shared.web import ZegelApp
from tests import factories, intake_pdfs

ANN = "85.07.30-033.28"
COLUMNS = [
    "external_id",
    "body",
    "session_date",
    "decision_number",
    "title",
    "file",
    "document_title",
    "recipient_kind",
    "national_register_number",
    "enterprise_number",
    "name",
    "street",
    "postal_code",
    "city",
    "amount_due",
    "due_date",
    "dispute_right",
]


def csv_manifest(rows: list[dict[str, str]]) -> bytes:
    lines = [";".join(COLUMNS)] + [";".join(row.get(c, "") for c in COLUMNS) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


SESSION_DATE = (today() - timedelta(days=5)).isoformat()
DECISION = {"body": "college", "session_date": SESSION_DATE, "title": "Subsidies sportclubs"}


def happy_rows() -> list[dict[str, str]]:
    return [
        {
            **DECISION,
            "decision_number": "2026_CBS_00900",
            "file": "pdf/ann.pdf",
            "recipient_kind": "citizen",
            "national_register_number": ANN,
            "name": "Ann Peeters",
        },
        {
            **DECISION,
            "decision_number": "2026_CBS_00900",
            "file": "pdf/club.pdf",
            "document_title": "Toelage voor de club",
            "recipient_kind": "enterprise",
            "enterprise_number": "0403.170.701",
            "name": "Sportclub vzw",
        },
        {
            "file": "pdf/herinnering.pdf",
            "title": "Herinnering retributie",
            "recipient_kind": "postal",
            "name": "Luc Maes",
            "street": "Beekstraat 88",
            "postal_code": "9999",
            "city": "Testdorp",
            "amount_due": "35,00",
            "due_date": (today() + timedelta(days=20)).isoformat(),
        },
        {
            **DECISION,
            "decision_number": "2026_CBS_00901",
            "file": "pdf/bob.pdf",
            "recipient_kind": "citizen",
            "national_register_number": "85.07.30-033.29",
            "name": "Bob Fout",
        },
        {
            **DECISION,
            "decision_number": "2026_CBS_00902",
            "file": "pdf/venster.pdf",
            "recipient_kind": "postal",
            "name": "Mevrouw Venster",
            "street": "Dorp 1",
            "postal_code": "9999",
            "city": "Testdorp",
        },
    ]


def happy_zip() -> bytes:
    return make_zip(
        {
            "manifest.csv": csv_manifest(happy_rows()),
            "pdf/ann.pdf": intake_pdfs.letter("Subsidie", "Ann Peeters"),
            "pdf/club.pdf": intake_pdfs.letter("Subsidie", "Sportclub vzw"),
            "pdf/herinnering.pdf": intake_pdfs.letter("Herinnering", "Luc Maes"),
            "pdf/bob.pdf": intake_pdfs.letter("Subsidie", "Bob"),
            "pdf/venster.pdf": intake_pdfs.with_ink_in_window(),
        }
    )


@dataclass
class World:
    org: Organisation
    session: Session
    http: TestClient[ZegelApp]

    def get(self, path: str, **kwargs: Any) -> Any:
        self.session.rollback()
        return self.http.get(path, **kwargs)

    def upload(self, content: bytes, name: str = "import.zip") -> Any:
        page = self.get("/import")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        self.session.rollback()
        return self.http.post(
            "/import",
            data={"_csrf_token": token},
            files=[("bestand", (name, content, "application/zip"))],
            follow_redirects=False,
        )

    def work(self) -> int:
        self.session.rollback()
        return Worker("test").run_pending()


@pytest.fixture
def world(session: Session) -> Iterator[World]:
    org = factories.organisation(session)
    clerk = factories.staff_member(session, org, [StaffRole.SECRETARIAAT])
    token = factories.web_session(session, "backoffice", staff=clerk, organisation=org)
    session.commit()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        client.cookies.set("zegel_backoffice_session", token)
        yield World(org, session, client)


def test_an_import_registers_row_by_row_with_progress_and_errors(world: World) -> None:
    response = world.upload(happy_zip())
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    batch_id = uuid.UUID(location.rsplit("/", 1)[1])

    page = world.get(location)
    assert page.status_code == 200
    assert f'hx-get="/import/{batch_id}/voortgang"' in page.text
    assert 'hx-trigger="every 1s"' in page.text
    assert f'href="/import/{batch_id}"' in page.text  # refresh without JavaScript
    assert "0 van 4 verwerkt" in page.text

    items = world.session.scalars(select(ImportItem).order_by(ImportItem.position)).all()
    assert [i.label for i in items] == ["regels 2, 3", "regel 4", "regel 5", "regel 6"]
    assert "85.07.30" not in json.dumps([i.payload for i in items])  # sealed, never in clear
    world.session.rollback()

    assert world.work() == 1
    partial = world.get(f"/import/{batch_id}/voortgang", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert "hx-trigger" not in partial.text  # done: polling stops
    assert "De import is klaar." in partial.text
    assert "4 van 4 verwerkt" in partial.text
    assert "Kolom national_register_number: Dit rijksregisternummer klopt niet" in partial.text
    assert 'max="4" value="4"' in partial.text  # the progress bar

    session = world.session
    batch = session.get(ImportBatch, batch_id)
    assert batch is not None
    assert batch.status is ImportStatus.DONE
    statuses = [i.status for i in session.scalars(select(ImportItem).order_by(ImportItem.position))]
    assert statuses == [
        ImportItemStatus.REGISTERED,
        ImportItemStatus.REGISTERED,
        ImportItemStatus.FAILED,
        ImportItemStatus.REGISTERED,
    ]
    decisions = session.scalars(select(Decision).order_by(Decision.decision_number)).all()
    assert [d.decision_number for d in decisions] == ["2026_CBS_00900", "2026_CBS_00902"]
    assert len(decisions[0].documents) == 2
    letter = session.scalars(select(Document).where(Document.decision_id.is_(None))).one()
    assert letter.title == "Herinnering retributie"
    assert letter.amount_due_cents == 3500
    window = decisions[1].documents[0]
    assert window.intake_check["findings"][0]["code"] == "ink_in_address_window"  # type: ignore[index]
    registered = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "decision.registered")
    ).all()
    assert {e.data["source"] for e in registered} == {"import"}
    assert all(e.actor_label and e.actor_label.endswith("(import)") for e in registered)
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "import_batch")
    ).all()
    assert actions == ["import_batch.queued", "import_batch.running", "import_batch.done"]
    session.rollback()

    # a job that runs again (a crash after its work) registers nothing twice
    imports.run_import({"batch_id": str(batch_id)}, None)  # type: ignore[arg-type]
    assert session.scalar(select(func.count()).select_from(Document)) == 4
    session.rollback()
    full = world.get(location)
    assert f'href="/beslissingen/{decisions[0].id}"' in full.text


def test_a_worker_that_died_half_way_resumes_with_the_pending_items(world: World) -> None:
    world.upload(happy_zip())
    session = world.session
    first = session.scalars(select(ImportItem).where(ImportItem.position == 1)).one()
    first.status = ImportItemStatus.REGISTERED  # as if done before the crash
    session.commit()
    world.work()
    numbers = set(session.scalars(select(Decision.decision_number)).all())
    assert numbers == {"2026_CBS_00902"}  # item 1 was not registered again
    assert session.scalar(select(func.count()).select_from(Document)) == 2


def test_a_json_manifest_with_external_ids_can_be_imported_again(world: World) -> None:
    manifest = {
        "decisions": [
            {
                "external_id": "gn-77",
                "body": "vast_bureau",
                "session_date": SESSION_DATE,
                "decision_number": "2026_VB_00077",
                "title": "Verwarmingstoelage",
                "documents": [
                    {
                        "file": "a.pdf",
                        "recipient": {
                            "kind": "citizen",
                            "name": "Ann",
                            "national_register_number": ANN,
                        },
                    }
                ],
            },
            {"external_id": "gn-78", "body": "college"},
        ],
    }
    content = make_zip(
        {"manifest.json": json.dumps(manifest).encode(), "a.pdf": intake_pdfs.letter()}
    )
    assert world.upload(content).status_code == 303
    world.work()
    assert world.upload(content).status_code == 303
    world.work()
    session = world.session
    items = session.scalars(select(ImportItem).order_by(ImportItem.id)).all()
    by_batch: dict[uuid.UUID, list[ImportItem]] = {}
    for item in items:
        by_batch.setdefault(item.batch_id, []).append(item)
    outcomes = sorted(
        sorted((i.position, i.status.value) for i in batch_items)
        for batch_items in by_batch.values()
    )
    assert outcomes == [
        [(1, "registered"), (2, "failed")],
        [(1, "skipped"), (2, "failed")],
    ]
    failed = next(i for i in items if i.status is ImportItemStatus.FAILED)
    assert failed.message == "session_date: Dit veld is verplicht."
    assert session.scalar(select(func.count()).select_from(Decision)) == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "manifest.csv": csv_manifest(happy_rows()[:1]),
                "pdf/ann.pdf": intake_pdfs.letter(),
                "../../buiten.pdf": b"%PDF-",
            },
            "Het ZIP-bestand bevat een ongeldige bestandsnaam: ‘../../buiten.pdf’.",
        ),
        (
            {"manifest.csv": csv_manifest(happy_rows()[:2]), "pdf/ann.pdf": intake_pdfs.letter()},
            "Regels 2, 3: het bestand ‘pdf/club.pdf’ staat niet in het ZIP-bestand.",
        ),
        ({"pdf/ann.pdf": intake_pdfs.letter()}, "bevat geen manifest.csv of manifest.json"),
    ],
)
def test_a_bad_zip_is_refused_with_its_reasons_and_stores_nothing(
    world: World, files: dict[str, bytes], message: str
) -> None:
    response = world.upload(make_zip(files))
    assert response.status_code == 422
    assert message in response.text
    assert "Het ZIP-bestand kan niet geïmporteerd worden." in response.text
    session = world.session
    session.rollback()
    for model in (ImportBatch, ImportItem, Job, Decision):
        assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_a_zip_bomb_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import get_settings

    bomb = make_zip(
        {
            "manifest.csv": csv_manifest(happy_rows()[:1]),
            "pdf/ann.pdf": b"\0" * (40 * 1024 * 1024),
        }
    )
    monkeypatch.setenv("ZEGEL_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024))
    get_settings.cache_clear()
    try:
        response = world.upload(bomb)
    finally:
        monkeypatch.delenv("ZEGEL_UPLOAD_MAX_BYTES")
        get_settings.cache_clear()
    assert response.status_code == 422
    assert "zip-bom" in response.text
    world.session.rollback()
    assert world.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_corrupt_or_empty_upload(world: World) -> None:
    corrupt = world.upload(b"PK\x03\x04 kapot")
    assert corrupt.status_code == 422
    assert "Dit is geen geldig ZIP-bestand, of het is beschadigd." in corrupt.text
    page = world.get("/import")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    world.session.rollback()
    empty = world.http.post("/import", data={"_csrf_token": token}, files=[("bestand", ("", b""))])
    assert empty.status_code == 422
    assert "Kies een ZIP-bestand." in empty.text


def test_another_organisation_cannot_follow_an_import(world: World, session: Session) -> None:
    response = world.upload(happy_zip())
    location = response.headers["location"]
    other = factories.organisation(session, "Gemeente B")
    stranger = factories.staff_member(session, other, [StaffRole.SECRETARIAAT])
    token = factories.web_session(session, "backoffice", staff=stranger, organisation=other)
    session.commit()
    world.http.cookies.set("zegel_backoffice_session", token)
    assert world.get(location).status_code == 404
    assert world.get(location + "/voortgang").status_code == 404


def test_the_example_manifest_can_be_downloaded(world: World) -> None:
    response = world.get("/import/voorbeeld.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("external_id;body;session_date")


def test_a_problem_in_a_decision_of_several_rows_names_its_row_and_column(world: World) -> None:
    rows = happy_rows()[:2]
    rows[1]["enterprise_number"] = "0403.170.702"
    rows[1]["title"] = "Een andere titel"
    content = make_zip(
        {
            "manifest.csv": csv_manifest(rows),
            "pdf/ann.pdf": intake_pdfs.letter(),
            "pdf/club.pdf": intake_pdfs.letter("Club"),
        }
    )
    assert world.upload(content).status_code == 303
    world.work()
    item = world.session.scalars(select(ImportItem)).one()
    assert item.status is ImportItemStatus.FAILED
    assert item.message == (
        "Regel 3, kolom title: Dit verschilt van de eerste regel van dezelfde beslissing.\n"
        "Regel 3, kolom enterprise_number: Dit ondernemingsnummer klopt niet: het"
        " controlegetal is fout."
    )
