"""The MAGDA sandbox served by uvicorn on a loopback port, Zegel's settings pointing at it with
a test client key and a legal basis, and builders for documents that are ready to send."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.integrations.magda import keys
from shared.integrations.magda.sandbox import MagdaSandbox
from shared.models import Document, DocumentStatus, Organisation, Recipient
from shared.services import audit
from shared.services.transitions import transition
from shared.storage import get_storage
from tests.live_server import serving

CLIENT_ID = "zegel-test"
LEGAL_BASIS = "Beraadslaging IVC nr. 26/000 (test)"
SMALL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
TEST_ACTOR = audit.Actor.system("test")


@dataclass
class Magda:
    sandbox: MagdaSandbox
    base_url: str
    key_path: Path


@pytest.fixture(scope="session")
def magda_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Magda]:
    folder = tmp_path_factory.mktemp("magda")
    key = keys.generate_key()
    key_path = folder / "client.jwk"
    key_path.write_text(json.dumps(key))
    sandbox = MagdaSandbox(clients={CLIENT_ID: keys.public_jwks(key)}, timeout_seconds=2.5)
    with serving(Litestar([sandbox.router("/magda")])) as url:
        base_url = f"{url}/magda"
        sandbox.public_token_url = f"{base_url}/oauth2/token"
        yield Magda(sandbox, base_url, key_path)


@pytest.fixture
def magda(magda_server: Magda, monkeypatch: pytest.MonkeyPatch) -> Iterator[Magda]:
    """A fresh sandbox (no messages, no failures, statuses at once) and settings to use it."""
    magda_server.sandbox.reset()
    magda_server.sandbox.step_seconds = 0.0
    monkeypatch.setenv("ZEGEL_MAGDA_BASE_URL", magda_server.base_url)
    monkeypatch.setenv("ZEGEL_MAGDA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZEGEL_MAGDA_PRIVATE_KEY_PATH", str(magda_server.key_path))
    monkeypatch.setenv("ZEGEL_MAGDA_LEGAL_BASIS", LEGAL_BASIS)
    monkeypatch.setenv("ZEGEL_MAGDA_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    yield magda_server
    magda_server.sandbox.reset()
    get_settings.cache_clear()


def ready_document(
    session: Session,
    org: Organisation,
    recipient: Recipient,
    *,
    document_type: str = "college_decision",
    title: str = "Besluit over uw aanvraag",
    status: DocumentStatus = DocumentStatus.READY,
) -> Document:
    """A document with a real (tiny) PDF in storage, moved along its legal path to `status`."""
    sha256 = get_storage().put(SMALL_PDF)
    document = Document(
        id=uuid.uuid4(),
        organisation_id=org.id,
        recipient_id=recipient.id,
        document_type=document_type,
        title=title,
        file_name="besluit.pdf",
        original_sha256=sha256,
        current_sha256=sha256,
        public_token=secrets.token_urlsafe(32),
    )
    session.add(document)
    session.flush()
    path = {
        DocumentStatus.DRAFT: [],
        DocumentStatus.AWAITING_SIGNATURE: [
            DocumentStatus.SCREENED,
            DocumentStatus.AWAITING_SIGNATURE,
        ],
        DocumentStatus.READY: [DocumentStatus.SCREENED, DocumentStatus.READY],
    }[status]
    if status is DocumentStatus.AWAITING_SIGNATURE:
        document.signature_required = True
    for target in path:
        transition(session, document, target, actor=TEST_ACTOR)
    return document
