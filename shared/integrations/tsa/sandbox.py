"""A local RFC 3161 time-stamping authority at /tsa, the sandbox of a real TSA.

`POST /tsa` takes a DER `TimeStampReq` (Content-Type application/timestamp-query) and answers
a `TimeStampResp` (application/timestamp-reply), signed with the development PKI's TSA
certificate (critical EKU timeStamping, issued by the test root CA; see `shared.pdf.devpki`).
The token's time is this server's clock, as with any TSA. Unreadable requests get a
`rejection` / `badDataFormat` response, as RFC 3161 § 2.4.2 prescribes.

A development and test tool: it refuses to exist when ZEGEL_ENV=production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from litestar import Request, Response, Router, get, post
from litestar.params import RawBody
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from shared.config import get_settings
from shared.errors import ConfigError
from shared.pdf import devpki

__all__ = ["SandboxTimeStamper", "create_tsa_sandbox_router"]

_attribute: Callable[[str, Any], Any] = simple_cms_attribute  # untyped in pyHanko

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class SandboxTimeStamper(DummyTimeStamper):
    """pyHanko's `DummyTimeStamper` acting as the TSA, with its key parsed once (the stock
    class re-parses it for every token)."""

    def __init__(self, tsa: devpki.Issued, chain: list[Any]) -> None:
        super().__init__(
            tsa_cert=translate_pyca_cryptography_cert_to_asn1(tsa.certificate),
            tsa_key=translate_pyca_cryptography_key_to_asn1(tsa.private_key),
            certs_to_embed=_store(chain),
        )
        self._private_key: rsa.RSAPrivateKey = tsa.private_key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                _attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._private_key.sign(
            signed_attrs.dump(), padding.PKCS1v15(), get_pyca_cryptography_hash(md_algorithm)
        )
        return signature, signed_attrs


def _store(chain: list[Any]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    store.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in chain])
    return store


def _rejection() -> bytes:
    status = tsp.PKIStatusInfo(
        {
            "status": tsp.PKIStatus("rejection"),
            "fail_info": tsp.PKIFailureInfo({"bad_data_format"}),
        }
    )
    # asn1crypto insists on a token, which a rejection has none of: wrap the status by hand.
    content: bytes = status.dump()
    length = len(content)
    if length < 0x80:
        header = bytes([0x30, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x30, 0x80 | len(size)]) + size
    return header + content


def create_tsa_sandbox_router(
    load: Callable[[], tuple[devpki.Issued, list[Any]]] | None = None,
) -> Router:
    """The sandbox TSA as a Litestar router at /tsa.

    `load` returns the TSA's certificate and key and the chain to embed; it is called on the
    first request (so mounting the sandbox generates nothing). By default the development PKI
    under `ZEGEL_DEV_PKI_PATH` is used, created there when missing. Raises ConfigError when
    ZEGEL_ENV=production.
    """
    if get_settings().is_production:
        raise ConfigError("The sandbox TSA is never served when ZEGEL_ENV=production")

    def default_load() -> tuple[devpki.Issued, list[Any]]:
        pki = devpki.ensure_dev_pki(get_settings().dev_pki_path)
        return pki.tsa, [pki.root.certificate]

    loader = load or default_load
    lock = threading.Lock()
    state: dict[str, SandboxTimeStamper] = {}

    def stamper() -> SandboxTimeStamper:
        with lock:
            if "stamper" not in state:
                tsa, chain = loader()
                state["stamper"] = SandboxTimeStamper(tsa, chain)
            return state["stamper"]

    @get("/", media_type="text/html", sync_to_thread=False)
    def overview() -> str:
        return (
            '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
            "<title>Tijdstempeldienst (zandbak)</title></head><body><main>"
            "<h1>Tijdstempeldienst (zandbak)</h1>"
            "<p>Een lokale tijdstempeldienst volgens RFC 3161 voor ontwikkeling en tests."
            f" Stuur een <code>TimeStampReq</code> met <code>POST</code> en"
            f" Content-Type <code>{QUERY_TYPE}</code> naar dit adres.</p>"
            "</main></body></html>"
        )

    @post("/", status_code=200, sync_to_thread=True)
    def timestamp(request: Request[Any, Any, Any], body: RawBody) -> Response[bytes]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != QUERY_TYPE:
            return Response(
                f"Verwacht Content-Type {QUERY_TYPE}.".encode(),
                status_code=415,
                media_type="text/plain; charset=utf-8",
            )
        try:
            query = tsp.TimeStampReq.load(bytes(body))
            query.native  # noqa: B018 - parse every field now, not half-way through signing
            reply = stamper().request_tsa_response(query).dump()
        except (ValueError, TypeError, KeyError):
            reply = _rejection()
        return Response(bytes(reply), media_type=REPLY_TYPE)

    return Router(path="/tsa", route_handlers=[overview, timestamp])
