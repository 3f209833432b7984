"""The MAGDA client: person, eBox consent and preferences, and the Documentendienst over REST.

Authentication is OAuth2 client credentials (RFC 6749 § 4.4) where the client proves who it is
with a JWT signed by its private key (RFC 7523 `private_key_jwt`: iss = sub = client id, aud =
the token endpoint, a fresh jti, one minute valid). The access token is kept until shortly
before it expires and shared by the threads using the client; a 401 drops it and asks once
more.

Every call carries an `x-correlation-id` (a UUID4, logged on both sides); every message an
`Idempotency-Key` chosen by the caller per dispatch, so a repeat after a time-out or a crash
returns the first answer instead of sending a second letter.

Errors come in two kinds, both with a Dutch `reason` for staff:
- `MagdaRetryableError`: 5xx, 429, time-outs, no connection. Try again later (`retry_after`).
- `MagdaPermanentError` (and `MagdaNotFound`): any other refusal, described by problem JSON
  (RFC 9457) and/or the `x-magda-exceptions` header. Asking again will not help.

Numbers travel in request bodies, never in URLs, so no national register number ends up in an
access log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from shared.config import Settings, get_settings
from shared.integrations.magda import keys
from shared.integrations.magda.types import (
    Address,
    BpostStatus,
    CitizenConsent,
    EnterprisePreferences,
    MessageEvent,
    MessageStatus,
    OutgoingMessage,
    Person,
    SubmittedMessage,
    _time,
)

log = logging.getLogger("zegel.magda")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_MARGIN_SECONDS = 30
"""A token is renewed this long before it expires."""
STATUS_BATCH = 500
"""At most this many message ids per status request."""


class MagdaError(Exception):
    """A MAGDA call did not succeed. `reason` is Dutch, for staff; `code` for logs and tests."""

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        status_code: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.reason = reason
        self.code = code
        self.status_code = status_code
        self.correlation_id = correlation_id


class MagdaRetryableError(MagdaError):
    """Temporary: MAGDA is busy, down or slow. The same call may succeed later."""

    def __init__(self, reason: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.retry_after = retry_after


class MagdaPermanentError(MagdaError):
    """MAGDA refused the call; repeating it unchanged will not help."""


class MagdaNotFound(MagdaPermanentError):
    """The person, enterprise or message does not exist."""


@dataclass(frozen=True)
class MagdaConfig:
    base_url: str
    client_id: str
    private_key: dict[str, Any] | str
    """A private JWK (dict) or PEM text (RSA or EC)."""
    token_url: str | None = None
    timeout_seconds: float = 10.0

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.base_url.rstrip("/") + "/oauth2/token"


def load_private_key(path: Path) -> dict[str, Any] | str:
    text = path.read_text()
    return dict(json.loads(text)) if text.lstrip().startswith("{") else text


def _import_key(material: dict[str, Any] | str) -> RSAKey | ECKey:
    if isinstance(material, dict):
        return (
            ECKey.import_key(material)
            if material.get("kty") == "EC"
            else RSAKey.import_key(material)
        )
    try:
        return RSAKey.import_key(material)
    except Exception:
        return ECKey.import_key(material)


def client_from_settings(settings: Settings | None = None) -> MagdaClient:
    """A client configured by ZEGEL_MAGDA_*; outside production without a key file, the
    development key (created under ZEGEL_DEV_PKI_PATH when missing)."""
    settings = settings or get_settings()
    path = settings.magda_private_key_path
    if path is None:
        if settings.is_production:  # pragma: no cover - the settings refuse this already
            raise RuntimeError("ZEGEL_MAGDA_PRIVATE_KEY_PATH is not set")
        path = keys.ensure_dev_client_key(settings.dev_pki_path)
    return MagdaClient(
        MagdaConfig(
            base_url=settings.magda_base_url,
            client_id=settings.magda_client_id,
            private_key=load_private_key(path),
            token_url=settings.magda_token_url,
            timeout_seconds=settings.magda_timeout_seconds,
        )
    )


def _problem_reason(response: httpx.Response) -> tuple[str, str]:
    """The Dutch reason and a code from problem JSON and/or the x-magda-exceptions header."""
    parts: list[str] = []
    code = f"http_{response.status_code}"
    header = response.headers.get("x-magda-exceptions")
    if header:
        try:
            exceptions = json.loads(header)
        except ValueError:
            exceptions = [{"diagnosis": header}]
        for item in exceptions if isinstance(exceptions, list) else [exceptions]:
            if isinstance(item, dict):
                diagnosis = str(item.get("diagnosis") or item.get("message") or "").strip()
                ident = str(item.get("identification") or item.get("code") or "").strip()
                if ident:
                    code = f"magda_{ident}"
                if diagnosis:
                    parts.append(f"{diagnosis} ({ident})" if ident else diagnosis)
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            detail = str(problem.get("detail") or problem.get("title") or "").strip()
            if problem.get("code"):
                code = str(problem["code"])
            if detail and detail not in " ".join(parts):
                parts.insert(0, detail)
    if not parts:
        parts.append(f"MAGDA antwoordde met HTTP-status {response.status_code}.")
    return " ".join(parts), code


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


class MagdaClient:
    """Thread-safe: one client (one connection pool, one token) serves every worker thread."""

    def __init__(self, config: MagdaConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._key = _import_key(config.private_key)
        self._key.ensure_kid()
        self._algorithm = "ES256" if isinstance(self._key, ECKey) else "RS256"
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(config.timeout_seconds),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )
        self._base = config.base_url.rstrip("/")
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MagdaClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- authentication ------------------------------------------------------------------

    def client_assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": self.config.token_endpoint,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 60,
        }
        header = {"alg": self._algorithm, "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=[self._algorithm])

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        correlation_id = str(uuid.uuid4())
        try:
            response = self._http.post(
                self.config.token_endpoint, data=form, headers={"x-correlation-id": correlation_id}
            )
        except httpx.TimeoutException:
            raise MagdaRetryableError(
                "De aanmeldingsdienst van MAGDA antwoordde niet op tijd.",
                code="token_timeout",
                correlation_id=correlation_id,
            ) from None
        except httpx.TransportError:
            raise MagdaRetryableError(
                "De aanmeldingsdienst van MAGDA is niet bereikbaar.",
                code="token_unreachable",
                correlation_id=correlation_id,
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise MagdaRetryableError(
                "De aanmeldingsdienst van MAGDA is tijdelijk niet beschikbaar.",
                code=f"token_http_{response.status_code}",
                status_code=response.status_code,
                retry_after=_retry_after(response),
                correlation_id=correlation_id,
            )
        if response.status_code != 200:
            try:
                error = response.json()
            except ValueError:
                error = {}
            detail = error.get("error_description") or error.get("error") or response.status_code
            raise MagdaPermanentError(
                f"MAGDA weigerde de aanmelding van Zegel ({detail}). Controleer de client-id en"
                " de sleutel (ZEGEL_MAGDA_CLIENT_ID, ZEGEL_MAGDA_PRIVATE_KEY_PATH).",
                code="token_refused",
                status_code=response.status_code,
                correlation_id=correlation_id,
            )
        body = response.json()
        return str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 300))

    def access_token(self) -> str:
        """The cached token, or a new one when it (nearly) expired."""
        with self._lock:
            if self._token is None or time.monotonic() > self._token_expires - TOKEN_MARGIN_SECONDS:
                self._token, self._token_expires = self._fetch_token()
            return self._token

    def _drop_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    # -- transport -----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
        not_found: str = "MAGDA vond het gevraagde niet.",
    ) -> httpx.Response:
        correlation_id = correlation_id or str(uuid.uuid4())
        for attempt in (1, 2):
            token = self.access_token()
            all_headers = {
                "authorization": f"Bearer {token}",
                "x-correlation-id": correlation_id,
                "accept": "application/json",
                **(headers or {}),
            }
            try:
                response = self._http.request(
                    method, self._base + path, json=json_body, files=files, headers=all_headers
                )
            except httpx.TimeoutException:
                raise MagdaRetryableError(
                    "MAGDA antwoordde niet op tijd.",
                    code="timeout",
                    correlation_id=correlation_id,
                ) from None
            except httpx.TransportError:
                raise MagdaRetryableError(
                    "MAGDA is niet bereikbaar.", code="unreachable", correlation_id=correlation_id
                ) from None
            if response.status_code == 401 and attempt == 1:
                self._drop_token(token)  # expired or revoked early: one new token, once
                continue
            break
        status = response.status_code
        if status < 400:
            return response
        log.info(
            "MAGDA refused a call",
            extra={"path": path, "status": status, "correlation_id": correlation_id},
        )
        if status >= 500 or status == 429:
            reason = (
                "MAGDA krijgt te veel vragen en vraagt later opnieuw te proberen."
                if status == 429
                else f"MAGDA is tijdelijk niet beschikbaar (HTTP-status {status})."
            )
            raise MagdaRetryableError(
                reason,
                code=f"http_{status}",
                status_code=status,
                retry_after=_retry_after(response),
                correlation_id=correlation_id,
            )
        reason, code = _problem_reason(response)
        if status == 404:
            raise MagdaNotFound(
                not_found if code == "http_404" else reason,
                code=code,
                status_code=status,
                correlation_id=correlation_id,
            )
        raise MagdaPermanentError(
            f"MAGDA weigerde de vraag: {reason}",
            code=code,
            status_code=status,
            correlation_id=correlation_id,
        )

    # -- person and eBox -----------------------------------------------------------------

    def person(self, ssin: str, *, correlation_id: str | None = None) -> Person:
        """GeefPersoon: name and official address of the person with this INSZ."""
        response = self._request(
            "POST",
            "/api/v1/persons/query",
            json_body={"ssin": ssin},
            correlation_id=correlation_id,
            not_found="Het rijksregister kent niemand met dit rijksregisternummer.",
        )
        data = response.json()
        return Person(
            ssin=str(data["ssin"]),
            given_name=str(data.get("givenName") or ""),
            family_name=str(data.get("familyName") or ""),
            address=Address.from_json(data.get("officialAddress")),
            deceased=bool(data.get("deceased", False)),
        )

    def citizen_consent(self, ssin: str, *, correlation_id: str | None = None) -> CitizenConsent:
        """Did this citizen activate the eBox?"""
        response = self._request(
            "POST",
            "/api/v1/ebox/citizens/consent",
            json_body={"ssin": ssin},
            correlation_id=correlation_id,
            not_found="Het rijksregister kent niemand met dit rijksregisternummer.",
        )
        data = response.json()
        return CitizenConsent(
            ssin=str(data["ssin"]),
            ebox_activated=bool(data["eboxActivated"]),
            since=_time(data.get("since")),
        )

    def enterprise_preferences(
        self, enterprise_number: str, *, correlation_id: str | None = None
    ) -> EnterprisePreferences:
        """The eBox preferences of the enterprise with this KBO number."""
        response = self._request(
            "POST",
            "/api/v1/ebox/enterprises/preferences",
            json_body={"enterpriseNumber": enterprise_number},
            correlation_id=correlation_id,
            not_found="De Kruispuntbank van Ondernemingen kent geen onderneming met dit nummer.",
        )
        data = response.json()
        return EnterprisePreferences(
            enterprise_number=str(data["enterpriseNumber"]),
            name=str(data.get("name") or ""),
            ebox_activated=bool(data["eboxActivated"]),
            address=Address.from_json(data.get("address")),
        )

    # -- Documentendienst ----------------------------------------------------------------

    def send_message(
        self, message: OutgoingMessage, *, idempotency_key: str, correlation_id: str | None = None
    ) -> SubmittedMessage:
        """POST /api/v1/messages (multipart: `message` JSON, then one `attachment` per file)."""
        correlation_id = correlation_id or str(uuid.uuid4())
        files: list[tuple[str, tuple[str | None, bytes, str]]] = [
            ("message", (None, json.dumps(message.to_json()).encode(), "application/json"))
        ]
        for attachment in message.attachments:
            files.append(
                ("attachment", (attachment.file_name, attachment.content, attachment.media_type))
            )
        response = self._request(
            "POST",
            "/api/v1/messages",
            files=files,
            headers={"idempotency-key": idempotency_key},
            correlation_id=correlation_id,
        )
        data = response.json()
        submitted = _time(data.get("submittedAt"))
        assert submitted is not None
        return SubmittedMessage(
            message_id=str(data["messageId"]),
            status=str(data["status"]),
            submitted_at=submitted,
            correlation_id=correlation_id,
            replayed=response.headers.get("idempotent-replayed", "").lower() == "true",
        )

    def message_statuses(self, message_ids: Sequence[str]) -> list[MessageStatus]:
        """The status and events of many messages, asked STATUS_BATCH at a time."""
        found: list[MessageStatus] = []
        for chunk in _chunks(list(message_ids), STATUS_BATCH):
            response = self._request(
                "POST", "/api/v1/messages/statuses", json_body={"messageIds": chunk}
            )
            found.extend(MessageStatus.from_json(item) for item in response.json()["statuses"])
        return found

    def message_status(self, message_id: str) -> MessageStatus:
        response = self._request(
            "GET",
            f"/api/v1/messages/{message_id}",
            not_found="De Documentendienst kent dit bericht niet.",
        )
        return MessageStatus.from_json(response.json())

    def bpost_status(self, message_id: str) -> BpostStatus:
        """Track and trace of a registered letter."""
        response = self._request(
            "GET",
            f"/api/v1/messages/{message_id}/bpost-status",
            not_found="bpost kent deze aangetekende zending (nog) niet.",
        )
        data = response.json()
        return BpostStatus(
            message_id=str(data["messageId"]),
            barcode=str(data.get("barcode") or ""),
            status=str(data["status"]),
            events=tuple(MessageEvent.from_json(e) for e in data.get("events") or []),
            attestation_available=bool(data.get("attestationAvailable", False)),
        )

    def bpost_attestation(self, message_id: str) -> bytes:
        """The bpost proof (PDF) of delivery or return of a registered letter."""
        response = self._request(
            "GET",
            f"/api/v1/messages/{message_id}/bpost-attestation",
            headers={"accept": "application/pdf"},
            not_found="Er is (nog) geen bewijs van bpost voor deze zending.",
        )
        return response.content


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
