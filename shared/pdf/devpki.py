"""A development PKI: a test root CA, signer certificates (PKCS#12) and a TSA certificate.

Used by the tests, by the TSA sandbox and by `zegel demo` (which keeps its PKI under
`var/pki/`, generated once). Never part of a production set-up: real signers use their own
certificates (PKCS#12 or a PKCS#11 token) issued by a real CA, and the TSA is a real one.

Layout of a dev PKI folder (see `ensure_dev_pki`):

    root.pem, root-key.pem      the test root CA (its key issues the other certificates)
    tsa.pem, tsa-key.pem        the sandbox TSA's certificate (EKU timeStamping) and key
    signers/<slug>.p12          one PKCS#12 file per signer, protected by a passphrase
    signers.json                the signer configuration (see `shared.pdf.signers`)
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_SIZE = 2048


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def private_key_pem(self) -> bytes:
        """The key unencrypted, in PKCS#8 PEM: for development files only."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "BE")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def create_root_ca(common_name: str = "Zegel Test Root CA", *, days: int = 3650) -> Issued:
    key = new_key()
    now = datetime.now(UTC)
    name = _name(common_name, "Zegel ontwikkeling")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _issue(
    ca: Issued,
    subject: x509.Name,
    *,
    public_key: rsa.RSAPublicKey,
    not_before: datetime,
    not_after: datetime,
    key_usage: x509.KeyUsage,
    extended_key_usage: x509.ExtendedKeyUsage | None = None,
    email: str | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    if extended_key_usage is not None:
        builder = builder.add_extension(extended_key_usage, critical=True)
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    return builder.sign(ca.private_key, hashes.SHA256())


SIGNER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,  # nonRepudiation: what signature validation asks for
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def issue_signer_certificate(
    ca: Issued,
    common_name: str,
    *,
    organisation: str | None = None,
    email: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Issued:
    """A certificate for signing documents (digitalSignature + nonRepudiation)."""
    now = datetime.now(UTC)
    key = key or new_key()
    certificate = _issue(
        ca,
        _name(common_name, organisation),
        public_key=key.public_key(),
        not_before=not_before or now - timedelta(days=1),
        not_after=not_after or now + timedelta(days=3 * 365),
        key_usage=SIGNER_KEY_USAGE,
        email=email,
    )
    return Issued(certificate, key)


def issue_certificate_for_public_key(
    ca: Issued, common_name: str, public_key: rsa.RSAPublicKey, *, organisation: str | None = None
) -> x509.Certificate:
    """A signer certificate for a key that lives elsewhere (e.g. generated inside a token)."""
    now = datetime.now(UTC)
    return _issue(
        ca,
        _name(common_name, organisation),
        public_key=public_key,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=3 * 365),
        key_usage=SIGNER_KEY_USAGE,
    )


def issue_tsa_certificate(ca: Issued, common_name: str = "Zegel Test TSA") -> Issued:
    """A time-stamping authority certificate (critical EKU timeStamping, RFC 3161 § 2.3)."""
    now = datetime.now(UTC)
    key = new_key()
    certificate = _issue(
        ca,
        _name(common_name, "Zegel ontwikkeling"),
        public_key=key.public_key(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=5 * 365),
        key_usage=x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        extended_key_usage=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
    )
    return Issued(certificate, key)


def make_crl(ca: Issued, revoked: Sequence[x509.Certificate], *, days: int = 30) -> bytes:
    """A CRL (DER) of `ca` listing `revoked` as revoked since yesterday."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + timedelta(days=days))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    for certificate in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(certificate.serial_number)
            .revocation_date(now - timedelta(days=1))
            .build()
        )
    return builder.sign(ca.private_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pkcs12_bytes(issued: Issued, passphrase: bytes, *, chain: Sequence[x509.Certificate]) -> bytes:
    """A PKCS#12 file with the key, its certificate and `chain`, protected by `passphrase`."""
    return pkcs12.serialize_key_and_certificates(
        name=issued.certificate.subject.rfc4514_string().encode(),
        key=issued.private_key,
        cert=issued.certificate,
        cas=list(chain),
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
    )


def load_issued(certificate_pem: bytes, private_key_pem: bytes) -> Issued:
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the development PKI uses RSA keys only")
    return Issued(certificate, key)


def _write(path: Path, content: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class DevSigner:
    """A signer of the development PKI: `key` is the signer configuration key (staff subject)."""

    key: str
    name: str
    email: str | None = None


@dataclass(frozen=True)
class DevPki:
    path: Path
    root: Issued
    tsa: Issued

    @property
    def roots_path(self) -> Path:
        return self.path / "root.pem"

    @property
    def signers_config_path(self) -> Path:
        return self.path / "signers.json"


_lock = threading.Lock()


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", key).strip("-") or "signer"


def ensure_dev_pki(
    path: Path,
    signers: Sequence[DevSigner] = (),
    *,
    passphrase_env: str = "ZEGEL_DEV_SIGNER_PASSPHRASE",  # noqa: S107 - a variable name
    passphrase: str = "zegel-dev",  # noqa: S107 - development files only
    organisation: str | None = None,
) -> DevPki:
    """Create (once) the development PKI under `path`; load it when it exists.

    Signers that are missing get a PKCS#12 file protected by `passphrase` and an entry in
    `signers.json` that reads the passphrase from the environment variable `passphrase_env`.
    """
    with _lock:
        root_pem, root_key = path / "root.pem", path / "root-key.pem"
        if root_pem.exists() and root_key.exists():
            root = load_issued(root_pem.read_bytes(), root_key.read_bytes())
        else:
            root = create_root_ca()
            _write(root_key, root.private_key_pem, private=True)
            _write(root_pem, root.certificate_pem)
        tsa_pem, tsa_key = path / "tsa.pem", path / "tsa-key.pem"
        if tsa_pem.exists() and tsa_key.exists():
            tsa = load_issued(tsa_pem.read_bytes(), tsa_key.read_bytes())
        else:
            tsa = issue_tsa_certificate(root)
            _write(tsa_key, tsa.private_key_pem, private=True)
            _write(tsa_pem, tsa.certificate_pem)
        pki = DevPki(path=path, root=root, tsa=tsa)
        if signers:
            config_path = pki.signers_config_path
            config: dict[str, dict[str, str]] = (
                json.loads(config_path.read_text()) if config_path.exists() else {}
            )
            changed = False
            for signer in signers:
                p12 = path / "signers" / f"{_slug(signer.key)}.p12"
                if signer.key in config and p12.exists():
                    continue
                issued = issue_signer_certificate(
                    root, signer.name, organisation=organisation, email=signer.email
                )
                _write(
                    p12,
                    pkcs12_bytes(issued, passphrase.encode(), chain=[root.certificate]),
                    private=True,
                )
                config[signer.key] = {
                    "backend": "pkcs12",
                    "path": str(p12.resolve()),
                    "passphrase_env": passphrase_env,
                }
                changed = True
            if changed:
                _write(config_path, (json.dumps(config, indent=2) + "\n").encode())
        return pki
