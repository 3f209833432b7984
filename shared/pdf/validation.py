"""Validate every signature of a signed PDF with pyHanko's validator.

For each signature: who signed (the certificate's name), in what capacity (the signature's
/Reason, which `shared.pdf.signing` fills with the capacity), when (the RFC 3161 signature
timestamp; the signer's own clock is reported separately and never trusted), whether it is
intact, whether the certificate (and the timestamp's) chain to the given trust roots, and
whether the document changed after it (later signatures are not a change of content).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from shared.pdf.aio import run

log = logging.getLogger("zegel.validation")


@dataclass(frozen=True)
class SignatureValidation:
    field_name: str
    signer_name: str
    """The common name in the signer's certificate."""
    certificate_subject: str
    certificate_serial: str
    capacity: str | None
    """The capacity stated with the signature (its /Reason)."""
    signed_at: datetime | None
    """Time of the signature timestamp token (from the TSA), None without one."""
    timestamp_trusted: bool
    claimed_signing_time: datetime | None
    """What the signer's computer said; informative only."""
    intact: bool
    """The signed bytes are unchanged and the signature is cryptographically sound."""
    trusted: bool
    """The certificate chains to a trust root, is valid now and is not revoked."""
    revoked: bool
    covers_whole_document: bool
    """Nothing at all was added after this signature."""
    changed_after: bool
    """Content changed after this signature (later signatures alone do not count)."""
    valid: bool
    """Intact, trusted, timestamped by a trusted TSA and not changed after: the bottom line."""
    summary: str
    """One Dutch sentence for the portal."""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("signed_at", "claimed_signing_time"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


def revocation_date(
    certificate: x509.Certificate,
    crls: Sequence[bytes],
    issuers: Sequence[x509.Certificate],
) -> datetime | None:
    """When a CRL signed by the certificate's issuer (one of `issuers`) lists it as revoked,
    the revocation date; otherwise None. CRLs whose signature does not verify are ignored.

    pyhanko-certvalidator consults CRLs only for certificates that name a distribution point;
    this check also covers the CRLs configured by hand (`ZEGEL_CRL_PATH`)."""
    for der in crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            continue
        if crl.issuer != certificate.issuer:
            continue
        issuer = next((c for c in issuers if c.subject == crl.issuer), None)
        if issuer is None:
            continue
        try:
            verified = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        except (TypeError, ValueError):
            verified = False
        if not verified:
            continue
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if entry is not None:
            return entry.revocation_date_utc
    return None


def validate_signatures(
    pdf: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[bytes] = (),
    allow_fetching: bool = False,
) -> list[SignatureValidation]:
    """Validate every signature in `pdf`, in signing order."""
    return run(_validate_all(pdf, trust_roots, crls, allow_fetching))


async def _validate_all(
    pdf: bytes, trust_roots: Sequence[x509.Certificate], crls: Sequence[bytes], fetch: bool
) -> list[SignatureValidation]:
    reader = PdfFileReader(io.BytesIO(pdf))
    results = []
    for signature in reader.embedded_regular_signatures:
        context = ValidationContext(
            trust_roots=[translate_pyca_cryptography_cert_to_asn1(c) for c in trust_roots],
            crls=list(crls),
            allow_fetching=fetch,
            revocation_mode="soft-fail",
        )
        reason = signature.sig_object.get("/Reason")
        capacity = str(reason) if reason is not None else None
        try:
            status = await async_validate_pdf_signature(signature, context)
        except (SignatureValidationError, PdfError, ValueError) as error:
            log.warning("signature %s could not be validated: %s", signature.field_name, error)
            results.append(_broken(signature.field_name, capacity, signature.signer_cert))
            continue
        issuers = [
            *trust_roots,
            *(x509.load_der_x509_certificate(c.dump()) for c in signature.other_embedded_certs),
        ]
        revoked_at = revocation_date(
            x509.load_der_x509_certificate(status.signing_cert.dump()), crls, issuers
        )
        results.append(_describe(signature.field_name, capacity, status, revoked_at))
    return results


def _names(certificate: Any) -> tuple[str, str, str]:
    native = certificate.subject.native
    name = str(native.get("common_name") or native.get("organization_name") or "?")
    return name, certificate.subject.human_friendly, format(certificate.serial_number, "x")


def _broken(field_name: str, capacity: str | None, certificate: Any) -> SignatureValidation:
    name, subject, serial = _names(certificate)
    return SignatureValidation(
        field_name=field_name,
        signer_name=name,
        certificate_subject=subject,
        certificate_serial=serial,
        capacity=capacity,
        signed_at=None,
        timestamp_trusted=False,
        claimed_signing_time=None,
        intact=False,
        trusted=False,
        revoked=False,
        covers_whole_document=False,
        changed_after=True,
        valid=False,
        summary=f"De handtekening van {name} is ongeldig: ze kon niet gecontroleerd worden.",
    )


def _describe(
    field_name: str,
    capacity: str | None,
    status: PdfSignatureStatus,
    revoked_at: datetime | None = None,
) -> SignatureValidation:
    name, subject, serial = _names(status.signing_cert)
    timestamp = status.timestamp_validity
    timestamp_trusted = bool(
        timestamp is not None and timestamp.intact and timestamp.valid and timestamp.trusted
    )
    intact = bool(status.intact and status.valid)
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    level = status.modification_level
    harmless = (
        ModificationLevel.NONE,
        ModificationLevel.LTA_UPDATES,
        ModificationLevel.FORM_FILLING,
    )
    changed_after = not whole and (level not in harmless or status.docmdp_ok is False)
    signed_at = timestamp.timestamp if timestamp is not None else None
    # Revoked before it signed (or without a trusted time to tell): no longer trusted.
    revoked = bool(status.revoked) or (
        revoked_at is not None
        and (signed_at is None or not timestamp_trusted or revoked_at <= signed_at)
    )
    trusted = bool(status.trusted) and not revoked
    valid = intact and trusted and timestamp_trusted and not changed_after
    as_who = f"{name}" + (f" ({capacity})" if capacity else "")
    if valid:
        summary = f"Geldige handtekening van {as_who}."
    elif not intact:
        summary = (
            f"De handtekening van {as_who} is ongeldig: het document is na ondertekening"
            " gewijzigd of de handtekening is beschadigd."
        )
    elif changed_after:
        summary = (
            f"De handtekening van {as_who} is intact, maar het document werd nadien gewijzigd."
        )
    elif revoked:
        summary = f"De handtekening van {as_who} is intact, maar het certificaat is ingetrokken."
    elif not trusted:
        summary = (
            f"De handtekening van {as_who} is intact, maar het certificaat wordt niet vertrouwd."
        )
    else:
        summary = f"De handtekening van {as_who} is intact, maar heeft geen vertrouwde tijdstempel."
    return SignatureValidation(
        field_name=field_name,
        signer_name=name,
        certificate_subject=subject,
        certificate_serial=serial,
        capacity=capacity,
        signed_at=signed_at,
        timestamp_trusted=timestamp_trusted,
        claimed_signing_time=status.signer_reported_dt,
        intact=intact,
        trusted=trusted,
        revoked=revoked,
        covers_whole_document=whole,
        changed_after=changed_after,
        valid=valid,
        summary=summary,
    )
