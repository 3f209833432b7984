"""Shared set-up for the signing tests: a test PKI, the sandbox TSA served over HTTP, signer
configuration through the real settings, a SoftHSM2 token, and the independent checkers
(`pdfsig` with the test CA in an NSS database, `qpdf --check`)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.models import (
    Document,
    Organisation,
    Recipient,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.pdf import devpki
from shared.pdf.letters import Letter, render_letter
from shared.services.organisations import add_staff_member
from shared.storage import get_storage
from tests import factories
from tests.live_server import serving

PASSPHRASE = "geheim-wachtwoord"
PASSPHRASE_ENV = "ZEGEL_TEST_SIGNER_PASSPHRASE"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "zegel-test"
TOKEN_PIN = "1234"
TOKEN_KEY_LABEL = "handtekening"


@dataclass(frozen=True)
class Pki:
    folder: Path
    root: devpki.Issued
    tsa: devpki.Issued
    signers: dict[str, devpki.Issued]
    """By staff subject."""
    roots_path: Path
    crl_path: Path
    signers_config_path: Path

    def p12(self, subject: str) -> Path:
        return self.folder / f"{subject}.p12"


SIGNERS = {
    "directeur": "Koen Wouters",
    "burgemeester": "Els Vermeulen",
    "waarnemend": "Bart Jacobs",
    "gedelegeerde": "Ann De Wilde",
    "verlopen": "Vera Verlopen",
    "ingetrokken": "Ivo Ingetrokken",
}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    root = devpki.create_root_ca("Zegel Test Root CA (tests)")
    tsa = devpki.issue_tsa_certificate(root)
    now = datetime.now(UTC)
    signers: dict[str, devpki.Issued] = {}
    for subject, name in SIGNERS.items():
        if subject == "verlopen":
            signers[subject] = devpki.issue_signer_certificate(
                root,
                name,
                not_before=now - timedelta(days=400),
                not_after=now - timedelta(days=2),
            )
        else:
            signers[subject] = devpki.issue_signer_certificate(root, name)
    config: dict[str, dict[str, str]] = {}
    for subject, issued in signers.items():
        path = folder / f"{subject}.p12"
        path.write_bytes(devpki.pkcs12_bytes(issued, PASSPHRASE.encode(), chain=[root.certificate]))
        config[subject] = {"backend": "pkcs12", "path": str(path), "passphrase_env": PASSPHRASE_ENV}
    roots_path = folder / "roots.pem"
    roots_path.write_bytes(root.certificate_pem)
    crl_path = folder / "revoked.crl"
    crl_path.write_bytes(devpki.make_crl(root, [signers["ingetrokken"].certificate]))
    config_path = folder / "signers.json"
    config_path.write_text(json.dumps(config))
    return Pki(folder, root, tsa, signers, roots_path, crl_path, config_path)


@pytest.fixture(scope="session")
def tsa_url(pki: Pki) -> Iterator[str]:
    """The sandbox TSA (with the test PKI's TSA certificate) served by uvicorn on loopback."""
    from shared.integrations.tsa.sandbox import create_tsa_sandbox_router

    app = Litestar([create_tsa_sandbox_router(lambda: (pki.tsa, [pki.root.certificate]))])
    with serving(app) as url:
        yield f"{url}/tsa"


@pytest.fixture
def dead_tsa_url() -> str:
    """A loopback address where nothing listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    sock.close()
    return f"http://{host}:{port}/tsa"


@pytest.fixture
def signing_settings(pki: Pki, tsa_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point Zegel's settings at the test PKI, its CRL and the sandbox TSA."""
    monkeypatch.setenv("ZEGEL_TRUST_ROOTS_PATH", str(pki.roots_path))
    monkeypatch.setenv("ZEGEL_SIGNERS_CONFIG_PATH", str(pki.signers_config_path))
    monkeypatch.setenv("ZEGEL_CRL_PATH", str(pki.crl_path))
    monkeypatch.setenv("ZEGEL_REVOCATION_CHECKS_ONLINE", "false")
    monkeypatch.setenv("ZEGEL_TSA_URL", tsa_url)
    monkeypatch.setenv("ZEGEL_TSA_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- independent checkers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def nss_db(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database that trusts the test root CA, for `pdfsig -nssdir`."""
    folder = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{folder}",
            "-n",
            "Zegel Test Root CA",
            "-t",
            "CT,C,C",
            "-i",
            str(pki.roots_path),
        ],
        check=True,
    )
    return f"sql:{folder}"


@dataclass(frozen=True)
class PdfsigSignature:
    field_name: str
    signer: str
    valid: bool
    trusted: bool
    total_document: bool


def pdfsig(pdf: bytes, nss: str, tmp_path: Path) -> list[PdfsigSignature]:
    """Poppler's independent verdict on every signature of `pdf`."""
    path = tmp_path / f"check-{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdfsig", "-nssdir", nss, str(path)], capture_output=True, text=True, check=False
    )
    blocks = re.split(r"^Signature #\d+:$", result.stdout, flags=re.MULTILINE)[1:]
    found = []
    for block in blocks:
        field = re.search(r"Signature Field Name: (.*)", block)
        signer = re.search(r"Signer Certificate Common Name: (.*)", block)
        found.append(
            PdfsigSignature(
                field_name=field.group(1).strip() if field else "",
                signer=signer.group(1).strip() if signer else "",
                valid="Signature Validation: Signature is Valid." in block,
                trusted="Certificate Validation: Certificate is Trusted." in block,
                total_document="Total document signed" in block,
            )
        )
    assert found, f"pdfsig found no signature:\n{result.stdout}\n{result.stderr}"
    return found


def qpdf_check(pdf: bytes, tmp_path: Path) -> str:
    """`qpdf --check`; fails the test unless the file is clean."""
    path = tmp_path / f"qpdf-{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout
    return result.stdout


# -- SoftHSM2 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str
    key_label: str
    signer_name: str


@pytest.fixture(scope="session")
def softhsm_token(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftToken]:
    """A SoftHSM2 token with an RSA key generated inside it and a certificate for that key
    issued by the test CA, stored next to it on the token."""
    import pkcs11
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            TOKEN_PIN,
            "--so-pin",
            "87654321",
        ],
        check=True,
        capture_output=True,
    )
    pkcs11.unload(SOFTHSM_MODULE)  # re-read the token folder
    token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=TOKEN_LABEL)
    key_id = secrets.token_bytes(8)
    with token.open(rw=True, user_pin=TOKEN_PIN) as session:
        public, _private = session.generate_keypair(
            KeyType.RSA, 2048, store=True, label=TOKEN_KEY_LABEL, id=key_id
        )
        public_key = rsa.RSAPublicNumbers(
            int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(public[Attribute.MODULUS], "big"),
        ).public_key()
        certificate = devpki.issue_certificate_for_public_key(pki.root, "Hanne Token", public_key)
        from cryptography.hazmat.primitives import serialization

        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: TOKEN_KEY_LABEL,
                Attribute.ID: key_id,
                Attribute.SUBJECT: certificate.subject.public_bytes(),
                Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
            }
        )
    yield SoftToken(SOFTHSM_MODULE, TOKEN_LABEL, TOKEN_PIN, TOKEN_KEY_LABEL, "Hanne Token")
    pkcs11.unload(SOFTHSM_MODULE)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
    shutil.rmtree(folder, ignore_errors=True)


# -- documents and people ---------------------------------------------------------------------


def letter_pdf(title: str = "Besluit over uw aanvraag", recipient: str = "Jan Peeters") -> bytes:
    return render_letter(
        Letter(
            sender_name="Gemeente Testdorp",
            sender_address=["Marktplein 1", "9999 Testdorp"],
            recipient_name=recipient,
            recipient_address=["Kerkstraat 1", "9999 Testdorp"],
            place_and_date="Testdorp, 1 december 2026",
            subject=title,
            paragraphs=[
                "Het college van burgemeester en schepenen heeft uw aanvraag besproken.",
                "Het college verleent de vergunning onder de voorwaarden in bijlage.",
            ],
            reference="2026_CBS_00001",
            signatories=["De algemeen directeur", "De burgemeester"],
        )
    )


def draft(
    session: Session,
    org: Organisation,
    recipient: Recipient,
    *,
    document_type: str = "college_decision",
    title: str = "Besluit over uw aanvraag",
    pdf: bytes | None = None,
    created_by: StaffUser | None = None,
) -> Document:
    sha256 = get_storage().put(pdf if pdf is not None else letter_pdf(title))
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
        created_by_id=created_by.id if created_by is not None else None,
    )
    session.add(document)
    session.flush()
    return document


def signer(
    session: Session,
    org: Organisation,
    subject: str,
    function: SignerFunction,
    *,
    substitute: bool = False,
    delegation_reference: str | None = None,
    email: str | None = None,
) -> StaffUser:
    user = add_staff_member(
        session,
        org,
        issuer="https://idp.test",
        subject=subject,
        name=SIGNERS.get(subject, subject),
        email=email,
        roles=[StaffRole.ONDERTEKENAAR],
        actor=factories.SYSTEM,
        signer_function=function,
        substitute=substitute,
    )
    if delegation_reference:
        assignment = session.scalars(
            select(StaffRoleAssignment).where(
                StaffRoleAssignment.staff_user_id == user.id,
                StaffRoleAssignment.organisation_id == org.id,
            )
        ).one()
        assignment.delegation_reference = delegation_reference
        session.flush()
    return user
