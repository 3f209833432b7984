"""PAdES signatures with pyHanko: one cryptographic signature per signer, each an incremental
update (earlier signatures stay valid), with a visible stamp and an RFC 3161 signature
timestamp (PAdES-B-T).

- `SigningBackend` is one signer's key, opened once and used for many signatures: a PKCS#12
  file (`open_pkcs12`, development) or a PKCS#11 token (`open_pkcs11`, HSM or smart card).
  Any pyHanko `Signer` fits behind it, so signing with the eID in the browser (pyHanko's
  interrupted signing or an external signer) can be added as another backend.
- `sign_pdf()` adds one signature. A timestamp is mandatory: when the TSA does not answer,
  signing fails with `SigningError` and nothing is produced; there is no local-clock fallback.
- `check_signer_certificate()` checks the signer's certificate once before a batch: dates,
  path to the trust roots, revocation.
Every failure is a `SigningError` whose message is Dutch and says that nothing was signed.
"""

from __future__ import annotations

import io
import logging
import math
import textwrap
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from asn1crypto import tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError

__all__ = [
    "SigningBackend",
    "SigningError",
    "StampText",
    "TimeStamper",
    "check_signer_certificate",
    "make_timestamper",
    "open_pkcs11",
    "open_pkcs12",
    "sign_pdf",
]
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from shared.errors import DomainError
from shared.pdf.aio import run as _run
from shared.pdf.validation import revocation_date
from shared.timeutil import BRUSSELS

log = logging.getLogger("zegel.signing")

DIGEST = "sha256"
NOTHING_SIGNED = "er is niets ondertekend."
TSA_UNAVAILABLE_MESSAGE = (
    "De tijdstempeldienst antwoordt niet; er is niets ondertekend. Probeer het later opnieuw."
)


class SigningError(DomainError):
    """Signing failed and nothing was signed. `code` says why; `message` is Dutch."""

    code = "signing_failed"


def _error(code: str, message: str) -> SigningError:
    return SigningError(message, code=code)


# -- the signer's key ---------------------------------------------------------------------


class KeptKeySigner(Signer):
    """A pyHanko signer for a key held in memory, parsed once.

    pyHanko's stock `SimpleSigner` re-parses (and re-validates) the private key on every
    signature, which costs more than the rest of the signature together; this one keeps the
    parsed key. In a dry run (pyHanko sizing the signature container) it does not sign.
    """

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        signing_cert: asn1_x509.Certificate,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        super().__init__(signing_cert=signing_cert, cert_registry=cert_registry)
        self._private_key = private_key

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        key = self._private_key
        if dry_run:
            if isinstance(key, rsa.RSAPrivateKey):
                return bytes(math.ceil(key.key_size / 8))
            return bytes(2 * math.ceil(key.curve.key_size / 8) + 9)
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algorithm = mechanism.signature_algo
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(key, rsa.RSAPrivateKey):
            if algorithm == "rsassa_pkcs1v15":
                return key.sign(data, padding.PKCS1v15(), hash_algorithm)
            if algorithm == "rsassa_pss":
                pss, pss_hash = process_pss_params(mechanism["parameters"])
                return key.sign(data, pss, pss_hash)
        elif algorithm == "ecdsa":
            return key.sign(data, ec.ECDSA(hash_algorithm))
        raise PyHankoSigningError(f"unsupported signature mechanism {algorithm}")


class SigningBackend:
    """One signer's key and certificate, opened once (PIN or passphrase given then) and used
    for any number of signatures. Close it when done (it is a context manager)."""

    def __init__(
        self,
        signer: Signer,
        *,
        kind: str,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.signer = signer
        self.kind = kind
        self._on_close = on_close
        self._reserved: dict[object, int] = {}
        self._lock = threading.Lock()
        certificate = signer.signing_cert
        if certificate is None:  # pragma: no cover - both backends always load one
            raise _error("signing_failed", f"Er is geen certificaat gevonden; {NOTHING_SIGNED}")
        self.certificate: asn1_x509.Certificate = certificate

    @property
    def signer_name(self) -> str:
        """The certificate's common name (or organisation): who signs."""
        native = self.certificate.subject.native
        return str(native.get("common_name") or native.get("organization_name") or "?")

    def bytes_reserved(self, timestamper: TimeStamper) -> int:
        """Room for the signature container in the PDF, estimated once per timestamper
        (pyHanko would otherwise estimate it with a dry-run signature every time)."""
        key: object = getattr(timestamper, "url", None) or id(timestamper)
        with self._lock:
            if key not in self._reserved:
                self._reserved[key] = _run(self._estimate(timestamper))
            return self._reserved[key]

    async def _estimate(self, timestamper: TimeStamper) -> int:
        digest = hashes.Hash(get_pyca_cryptography_hash(DIGEST)).finalize()
        test = await self.signer.async_sign(
            digest,
            DIGEST,
            use_pades=True,
            dry_run=True,
            timestamper=timestamper,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
        )
        length = len(test.dump()) * 2  # hex in the PDF
        return length + 2 * (length // 4) + 2048  # pyHanko's 50 % margin, plus a reason

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> SigningBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_pkcs12(source: bytes | Path, passphrase: str | bytes | None) -> SigningBackend:
    """Open a PKCS#12 file (development signers); a wrong passphrase raises SigningError."""
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
    except OSError:
        raise _error(
            "backend_unavailable", f"Het certificaatbestand is niet te vinden; {NOTHING_SIGNED}"
        ) from None
    secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, secret)
    except ValueError:
        raise _error(
            "wrong_pin",
            f"Het wachtwoord van uw certificaatbestand is onjuist; {NOTHING_SIGNED}",
        ) from None
    if certificate is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise _error(
            "backend_unavailable",
            f"Het certificaatbestand bevat geen bruikbare sleutel; {NOTHING_SIGNED}",
        )
    registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    registry.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in extra])
    signer = KeptKeySigner(key, translate_pyca_cryptography_cert_to_asn1(certificate), registry)
    return SigningBackend(signer, kind="pkcs12")


def open_pkcs11(
    module: str,
    *,
    token_label: str,
    key_label: str,
    pin: str,
    cert_label: str | None = None,
    chain: Sequence[x509.Certificate] = (),
) -> SigningBackend:
    """Open a session on a PKCS#11 token (HSM, smart card, SoftHSM2) and log in with `pin`."""
    import pkcs11
    from pkcs11 import exceptions as p11
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    try:
        session = open_pkcs11_session(
            module, token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
    except (p11.PinIncorrect, p11.PinLenRange, p11.PinInvalid):
        raise _error("wrong_pin", f"De pincode is onjuist; {NOTHING_SIGNED}") from None
    except p11.PinLocked:
        raise _error(
            "pin_locked", f"De pincode is geblokkeerd na te veel pogingen; {NOTHING_SIGNED}"
        ) from None
    except (pkcs11.PKCS11Error, PdfError, OSError, RuntimeError) as error:
        log.warning("PKCS#11 token unavailable: %s", type(error).__name__)
        raise _error(
            "backend_unavailable",
            f"Het token of de kaart met uw sleutel is niet bereikbaar; {NOTHING_SIGNED}",
        ) from None
    try:
        signer = PKCS11Signer(
            session,
            cert_label=cert_label or key_label,
            key_label=key_label,
            ca_chain=[translate_pyca_cryptography_cert_to_asn1(c) for c in chain],
        )
        backend = SigningBackend(signer, kind="pkcs11", on_close=session.close)
    except (pkcs11.PKCS11Error, PdfError, PyHankoSigningError) as error:
        session.close()
        log.warning("PKCS#11 key or certificate not found: %s", error)
        raise _error(
            "backend_unavailable",
            f"Uw sleutel of certificaat staat niet op het token; {NOTHING_SIGNED}",
        ) from None
    return backend


# -- the signer's certificate -------------------------------------------------------------


def _dutch_date(moment: datetime) -> str:
    return f"{moment.astimezone(BRUSSELS):%d.%m.%Y}"


def check_signer_certificate(
    backend: SigningBackend,
    *,
    trust_roots: Sequence[x509.Certificate] = (),
    crls: Sequence[bytes] = (),
    allow_fetching: bool = False,
    at: datetime | None = None,
) -> None:
    """Refuse a certificate that is expired, not yet valid, revoked or (when trust roots are
    given) not issued under one of them. Run once per batch, not per document."""
    moment = at or datetime.now(UTC)
    certificate = backend.certificate
    not_after = certificate["tbs_certificate"]["validity"]["not_after"].native
    not_before = certificate["tbs_certificate"]["validity"]["not_before"].native
    if moment > not_after:
        raise _error(
            "certificate_expired",
            f"Uw certificaat is verlopen op {_dutch_date(not_after)}; {NOTHING_SIGNED}"
            " Vraag een nieuw certificaat aan.",
        )
    if moment < not_before:
        raise _error(
            "certificate_not_yet_valid",
            f"Uw certificaat is pas geldig vanaf {_dutch_date(not_before)}; {NOTHING_SIGNED}",
        )
    pyca_certificate = x509.load_der_x509_certificate(certificate.dump())
    chain = [x509.load_der_x509_certificate(c.dump()) for c in backend.signer.cert_registry]
    if revocation_date(pyca_certificate, crls, [*trust_roots, *chain]) is not None:
        raise _error("certificate_revoked", f"Uw certificaat is ingetrokken; {NOTHING_SIGNED}")
    if not trust_roots:
        return
    context = ValidationContext(
        trust_roots=[translate_pyca_cryptography_cert_to_asn1(c) for c in trust_roots],
        crls=list(crls),
        allow_fetching=allow_fetching,
        revocation_mode="soft-fail",
        moment=moment,
    )
    validator = CertificateValidator(
        certificate, intermediate_certs=backend.signer.cert_registry, validation_context=context
    )
    try:
        _run(validator.async_validate_usage({"non_repudiation"}))  # type: ignore[no-untyped-call]
    except cv_errors.RevokedError:
        raise _error(
            "certificate_revoked", f"Uw certificaat is ingetrokken; {NOTHING_SIGNED}"
        ) from None
    except cv_errors.ExpiredError:  # an expired CA certificate in the chain
        raise _error(
            "certificate_expired",
            f"Een certificaat in de keten van uw certificaat is verlopen; {NOTHING_SIGNED}",
        ) from None
    except cv_errors.PathBuildingError:
        raise _error(
            "certificate_untrusted",
            "Uw certificaat is niet uitgegeven door een vertrouwde certificatie-autoriteit;"
            f" {NOTHING_SIGNED}",
        ) from None
    except cv_errors.InvalidCertificateError:
        raise _error(
            "certificate_unsuitable",
            f"Uw certificaat is niet bedoeld om documenten te ondertekenen; {NOTHING_SIGNED}",
        ) from None
    except (cv_errors.PathValidationError, cv_errors.ValidationError) as error:
        log.warning("signer certificate refused: %s", error)
        raise _error(
            "certificate_untrusted", f"Uw certificaat wordt niet aanvaard; {NOTHING_SIGNED}"
        ) from None


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Certificates from a PEM bundle (or one DER certificate)."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_crls(path: Path) -> list[bytes]:
    """CRLs from a PEM bundle or one DER file, as DER bytes."""
    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        return [data]
    crls = []
    for block in data.split(b"-----END X509 CRL-----"):
        if b"-----BEGIN X509 CRL-----" in block:
            pem = block[block.index(b"-----BEGIN X509 CRL-----") :] + b"-----END X509 CRL-----\n"
            crl = x509.load_pem_x509_crl(pem)
            crls.append(crl.public_bytes(serialization.Encoding.DER))
    return crls


# -- the stamp ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StampText:
    """What the visible stamp says: who, in which capacity, on which day."""

    name: str
    capacity: str
    signed_on: date

    def lines(self) -> str:
        text = [
            *textwrap.wrap(_stamp_safe(self.name), STAMP_LINE_CHARS),
            *textwrap.wrap(_stamp_safe(self.capacity), STAMP_LINE_CHARS),
            f"digitaal ondertekend op {self.signed_on:%d.%m.%Y}",
        ]
        return "\n".join(text)


MM = 72 / 25.4
STAMP_WIDTH_MM = 56.0
STAMP_HEIGHT_MM = 20.0
STAMP_LEFT_MM = 15.0
STAMP_GAP_MM = 4.0
STAMP_BOTTOM_MM = 12.0
STAMPS_PER_ROW = 3
STAMP_LINE_CHARS = 34
"""The signature area: a band 12–32 mm above the bottom edge of the last page, inside the
printable area, holding up to three 56 × 20 mm stamps side by side (a fourth signer starts a
row above). `shared.pdf.letters` keeps its text out of this band."""

STAMP_STYLE = TextStampStyle(
    stamp_text="%(lines)s",
    text_box_style=TextBoxStyle(font_size=7, leading=9),
    border_width=1,
    background=None,
    inner_content_layout=layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MIN,
        y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins.uniform(5),  # type: ignore[no-untyped-call]
        inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
    ),
)
"""Courier (a standard PDF font) keeps each signature fast: an embedded font would be
subset and embedded again with every signature."""


_TRANSLITERATIONS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Œ": "OE", "œ": "oe"}


def _stamp_safe(text: str) -> str:
    """Text the stamp's standard font can show (Latin-1); other letters lose their accents."""
    out = []
    for char in text.replace("\u00a0", " "):
        if 32 <= ord(char) < 127 or 160 < ord(char) < 256:
            out.append(char)
        elif char in _TRANSLITERATIONS:
            out.append(_TRANSLITERATIONS[char])
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def stamp_box(slot: int) -> tuple[int, int, int, int]:
    """The rectangle (PDF points, from the bottom-left) of the `slot`-th stamp (0-based)."""
    row, column = divmod(slot, STAMPS_PER_ROW)
    left = STAMP_LEFT_MM + column * (STAMP_WIDTH_MM + STAMP_GAP_MM)
    bottom = STAMP_BOTTOM_MM + row * (STAMP_HEIGHT_MM + STAMP_GAP_MM)
    return (
        round(left * MM),
        round(bottom * MM),
        round((left + STAMP_WIDTH_MM) * MM),
        round((bottom + STAMP_HEIGHT_MM) * MM),
    )


# -- signing ------------------------------------------------------------------------------


class TsaClient(TimeStamper):
    """An RFC 3161 client over HTTP with a kept-alive connection, for many signatures in a row.

    pyHanko's `HTTPTimeStamper` opens a new aiohttp session (with a freshly loaded TLS trust
    store) for every token, which costs about 30 ms per signature. This client keeps one
    `httpx.Client` (thread-safe, pooled). Any failure (no answer, an HTTP error, a reply that
    is not a granted `TimeStampResp`) raises pyHanko's `TimestampRequestError`; there is no
    fallback to the local clock.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.url = url
        self._client = httpx.Client(timeout=timeout)

    async def async_request_tsa_response(self, req: Any) -> Any:
        # Blocking is fine here: pyHanko runs each signature in its own short event loop.
        try:
            response = self._client.post(
                self.url, content=req.dump(), headers={"Content-Type": TIMESTAMP_QUERY}
            )
        except httpx.HTTPError as error:
            raise TimestampRequestError("the timestamp service did not answer") from error
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code != 200 or content_type != TIMESTAMP_REPLY:
            raise TimestampRequestError(
                f"the timestamp service answered {response.status_code} {content_type}"
            )
        return tsp.TimeStampResp.load(response.content)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except (ValueError, TypeError, KeyError) as error:
            # asn1crypto cannot even parse an RFC 3161 rejection (it carries no token)
            raise TimestampRequestError("unreadable or refused timestamp reply") from error

    def close(self) -> None:
        self._client.close()


TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"


def make_timestamper(url: str, *, timeout: float = 10.0) -> TsaClient:
    """An RFC 3161 client for the TSA at `url`."""
    return TsaClient(url, timeout=timeout)


DOCUMENT_CHANGED_MESSAGE = (
    "Het document is gewijzigd na de vorige handtekening; er is niets ondertekend."
    " Laat het document opnieuw opmaken en ondertekenen."
)


def check_unchanged_since_last_signature(reader: PdfFileReader, size: int) -> int:
    """Raise SigningError when bytes were changed or added after the last signature, or an
    earlier signature no longer matches its bytes. Returns the number of signatures."""
    signatures = reader.embedded_regular_signatures
    for signature in signatures:
        try:
            signed_attrs = signature.signer_info["signed_attrs"]
            expected = find_unique_cms_attribute(signed_attrs, "message_digest").native
            actual = signature.compute_digest()
        except (ValueError, KeyError, PdfError, PyHankoSigningError):
            raise _error("document_changed", DOCUMENT_CHANGED_MESSAGE) from None
        if expected != actual:
            raise _error("document_changed", DOCUMENT_CHANGED_MESSAGE)
    if signatures:
        last = signatures[-1]
        if last.evaluate_signature_coverage() != SignatureCoverageLevel.ENTIRE_FILE:
            raise _error("document_changed", DOCUMENT_CHANGED_MESSAGE)
        byte_range = last.byte_range
        if byte_range[2] + byte_range[3] != size:
            raise _error("document_changed", DOCUMENT_CHANGED_MESSAGE)
    return len(signatures)


def sign_pdf(
    pdf: bytes,
    backend: SigningBackend,
    *,
    field_name: str,
    stamp: StampText,
    timestamper: TimeStamper,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Add one PAdES-B-T signature as an incremental update, with a visible stamp in the next
    free place of the signature area on the last page. `reason` (default: the stamp's
    capacity) is the signature's /Reason, which validation reports as the capacity."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError, OSError):
        raise _error(
            "unreadable", f"Het PDF-bestand kan niet gelezen worden; {NOTHING_SIGNED}"
        ) from None
    if writer.prev.encrypted:
        raise _error("unreadable", f"Het PDF-bestand is versleuteld; {NOTHING_SIGNED}")
    try:
        check_unchanged_since_last_signature(writer.prev, len(pdf))
        slot = sum(1 for _ in fields.enumerate_sig_fields(writer.prev))
    except (PdfError, ValueError, KeyError, TypeError, IndexError):
        raise _error(
            "unreadable", f"Het PDF-bestand kan niet gelezen worden; {NOTHING_SIGNED}"
        ) from None
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or stamp.capacity,
        name=backend.signer_name,
        location=location,
    )
    pdf_signer = signers.PdfSigner(
        metadata,
        backend.signer,
        timestamper=timestamper,
        stamp_style=STAMP_STYLE,
        new_field_spec=fields.SigFieldSpec(field_name, box=stamp_box(slot), on_page=-1),
    )
    try:
        reserved = backend.bytes_reserved(timestamper)
        output = _run(
            pdf_signer.async_sign_pdf(
                writer, bytes_reserved=reserved, appearance_text_params={"lines": stamp.lines()}
            )
        )
    except TimestampRequestError:
        raise _error("tsa_unavailable", TSA_UNAVAILABLE_MESSAGE) from None
    except SigningError:
        raise
    except Exception as error:
        raise _translate(error) from None
    result: bytes = output.getvalue()
    return result


def _translate(error: Exception) -> SigningError:
    """Map what pyHanko, the token or the network raised to a Dutch SigningError."""
    try:
        from pkcs11 import exceptions as p11
    except ImportError:  # pragma: no cover - the pkcs11 extra is installed
        p11 = None  # type: ignore[assignment]
    if p11 is not None and isinstance(error, p11.PKCS11Error):
        log.warning("PKCS#11 error while signing: %s", type(error).__name__)
        if isinstance(error, p11.PinIncorrect | p11.PinLenRange | p11.PinInvalid):
            return _error("wrong_pin", f"De pincode is onjuist; {NOTHING_SIGNED}")
        return _error(
            "backend_unavailable",
            f"Het token of de kaart met uw sleutel antwoordt niet; {NOTHING_SIGNED}",
        )
    if isinstance(error, OSError | TimeoutError):
        return _error("tsa_unavailable", TSA_UNAVAILABLE_MESSAGE)
    if isinstance(error, PyHankoSigningError) and "field" in str(error).lower():
        log.warning("signature field problem: %s", error)
        return _error(
            "already_signed", f"Dit document draagt deze handtekening al; {NOTHING_SIGNED}"
        )
    log.exception("signing failed")
    return _error(
        "signing_failed", f"Ondertekenen is mislukt door een technische fout; {NOTHING_SIGNED}"
    )
