"""A local MAGDA gateway at /magda: the sandbox of the person service, eBox and Documentendienst.

It speaks the protocol `client.MagdaClient` speaks, from the test data of `testdata`:
- `POST /oauth2/token`: client credentials with a JWT client assertion, verified against the
  registered client's public key (signature, iss = sub = client id, aud = this endpoint,
  expiry, no replayed jti);
- `POST /api/v1/persons/query`, `/api/v1/ebox/citizens/consent`,
  `/api/v1/ebox/enterprises/preferences`: name and official address, eBox consent, eBox
  preferences; 404 problem JSON for an unknown number, 400 for a wrong check digit;
- `POST /api/v1/messages` (multipart): honours `Idempotency-Key`: a repeat returns the first
  answer (header `Idempotent-Replayed: true`) and is counted as a duplicate; the same key with
  another message is refused (422);
- `POST /api/v1/messages/statuses` (at most 500 ids), `GET /api/v1/messages/{id}`,
  `.../bpost-status` and `.../bpost-attestation` (PDF): statuses move forward one step every
  `step_seconds` (0 in tests: at once). eBox: submitted, delivered to the eBox, read. Paper:
  submitted, printed, posted, delivered, or returned for an undeliverable address; the eBox
  messages of a recipient told to `leave_unread` stay delivered, never read;
- `GET /ebox` and `/ebox/{person}`: each test citizen's eBox as a page, with the portal link of
  every message; `GET /post`: the paper letters;
- failure injection, from tests through the `MagdaSandbox` object or over HTTP at `/_sandbox`:
  the next calls of an endpoint answer 5xx, 429, a permanent refusal, or a time-out (the
  message is accepted, the answer comes too late), or the whole gateway is down for a while.

State lives in memory. A development and test tool: it refuses to exist in production.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import anyio
from fpdf import FPDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from stdnum.be import bis, nn, vat
from stdnum.exceptions import ValidationError

from shared.config import get_settings
from shared.errors import ConfigError
from shared.integrations.magda import keys
from shared.integrations.magda.client import ASSERTION_TYPE, STATUS_BATCH, load_private_key
from shared.integrations.magda.testdata import ENTERPRISES, PEOPLE, SandboxEnterprise, SandboxPerson
from shared.integrations.magda.types import (
    DELIVERED,
    DELIVERED_TO_EBOX,
    POSTED,
    PRINTED,
    READ,
    RETURNED,
    SUBMITTED,
)

__all__ = ["FAILURE_MODES", "MagdaSandbox", "create_magda_sandbox_router"]

FAILURE_MODES = ("500", "502", "503", "429", "timeout", "permanent")
ENDPOINTS = ("token", "persons", "consent", "messages", "statuses", "bpost")
ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256"]
MAX_BODY = 100 * 1024 * 1024

_EBOX_STEPS = ((SUBMITTED, 0), (DELIVERED_TO_EBOX, 1), (READ, 3))
_PAPER_STEPS = ((SUBMITTED, 0), (PRINTED, 1), (POSTED, 2), (DELIVERED, 3))
_RETURNED_STEPS = ((SUBMITTED, 0), (PRINTED, 1), (POSTED, 2), (RETURNED, 4))

_STATUS_LABELS = {
    SUBMITTED: "aangeboden",
    DELIVERED_TO_EBOX: "in de eBox",
    READ: "gelezen",
    PRINTED: "afgedrukt",
    POSTED: "gepost",
    DELIVERED: "afgeleverd",
    RETURNED: "teruggestuurd naar de afzender",
}

PAGE = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"""


class _Refusal(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        identification: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.identification = identification
        self.headers = headers or {}


def _problem(refusal: _Refusal) -> Response[Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Geweigerd" if refusal.status < 500 else "Dienst niet beschikbaar",
        "status": refusal.status,
        "detail": refusal.detail,
    }
    headers = dict(refusal.headers)
    if refusal.identification:
        body["code"] = f"magda_{refusal.identification}"
        headers["x-magda-exceptions"] = json.dumps(
            [
                {
                    "identification": refusal.identification,
                    "origin": "MAGDA-zandbak",
                    "type": "FOUT",
                    "diagnosis": refusal.detail,
                }
            ]
        )
    return Response(
        body, status_code=refusal.status, media_type="application/problem+json", headers=headers
    )


def _valid_ssin(value: Any) -> str:
    digits = str(value or "")
    try:
        return str(nn.validate(digits))
    except ValidationError:
        pass
    try:
        return str(bis.validate(digits))
    except ValidationError:
        raise _Refusal(
            400, "Het rijksregisternummer is ongeldig (controlegetal).", identification="30001"
        ) from None


def _valid_kbo(value: Any) -> str:
    digits = str(value or "")
    try:
        return str(vat.compact(vat.validate(digits)))
    except ValidationError:
        raise _Refusal(
            400, "Het ondernemingsnummer is ongeldig (controlegetal).", identification="30002"
        ) from None


@dataclass
class _Message:
    id: str
    idempotency_key: str
    fingerprint: str
    created: float
    """Wall-clock seconds (time.time) of acceptance."""
    data: dict[str, Any]
    attachments: list[dict[str, Any]]
    undeliverable: bool
    barcode: str | None
    unread: bool = False
    """The recipient never opens it (eBox: delivered, not read)."""

    @property
    def channel(self) -> str:
        return str(self.data["channel"])

    @property
    def registered(self) -> bool:
        return self.data.get("deliveryMethod") == "registered"

    @property
    def recipient(self) -> dict[str, Any]:
        value: dict[str, Any] = self.data["recipient"]
        return value

    def steps(self) -> tuple[tuple[str, int], ...]:
        if self.channel == "EBOX":
            return _EBOX_STEPS[:-1] if self.unread else _EBOX_STEPS
        return _RETURNED_STEPS if self.undeliverable else _PAPER_STEPS

    def events(self, now: float, step_seconds: float) -> list[dict[str, Any]]:
        found = []
        for kind, step in self.steps():
            at = self.created + step * step_seconds
            if at <= now:
                found.append(
                    {
                        "id": f"{self.id}-{kind}",
                        "type": kind,
                        "occurredAt": datetime.fromtimestamp(at, UTC).isoformat(),
                    }
                )
        return found

    def status(self, now: float, step_seconds: float) -> dict[str, Any]:
        events = self.events(now, step_seconds)
        return {"messageId": self.id, "status": events[-1]["type"], "events": events}


@dataclass
class MagdaSandbox:
    """The sandbox's state and behaviour; `router()` serves it.

    `clients` maps a client id to the JWKS of its public key(s), or to a callable giving it
    (called on first use, so mounting the sandbox creates no key). `public_token_url` is the
    token endpoint's address as clients see it (accepted as `aud` besides the request URL).
    """

    clients: Mapping[str, dict[str, Any] | Callable[[], dict[str, Any]]]
    step_seconds: float = 0.0
    token_ttl_seconds: int = 300
    timeout_seconds: float = 15.0
    """How long a 'timeout' failure keeps the caller waiting."""
    public_token_url: str | None = None
    people: dict[str, SandboxPerson] = field(default_factory=dict)
    enterprises: dict[str, SandboxEnterprise] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.people:
            self.people = {p.ssin: p for p in PEOPLE}
        if not self.enterprises:
            self.enterprises = {e.enterprise_number: e for e in ENTERPRISES}
        self._lock = threading.Lock()
        self._jwks: dict[str, KeySet] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._seen_jti: dict[str, float] = {}
        self._failures: deque[tuple[str, str]] = deque()
        self._down_until = 0.0
        self._down_mode = "503"
        self.messages: dict[str, _Message] = {}
        self._by_key: dict[str, _Message] = {}
        self.duplicates = 0
        self.message_posts = 0
        self.token_requests = 0
        self.refused = 0
        self.calls: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        self.unread_recipients: set[str] = set()

    # -- control (tests, /_sandbox) --------------------------------------------------------

    def fail_next(self, mode: str, times: int = 1, endpoint: str = "messages") -> None:
        """The next `times` calls of `endpoint` fail with `mode` (see FAILURE_MODES)."""
        if mode not in FAILURE_MODES or endpoint not in ENDPOINTS:
            raise ValueError(f"unknown failure {mode!r} for {endpoint!r}")
        with self._lock:
            self._failures.extend([(endpoint, mode)] * times)

    def go_down(self, seconds: float, mode: str = "503") -> None:
        """Every API call fails with `mode` (5xx or 429) for `seconds`."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            self._down_mode = mode

    def leave_unread(self, number: str) -> None:
        """eBox messages sent from now on to this national register or enterprise number are
        delivered but never read."""
        with self._lock:
            self.unread_recipients.add(number)

    def reset(self) -> None:
        with self._lock:
            self.unread_recipients.clear()
            self._failures.clear()
            self._down_until = 0.0
            self.messages.clear()
            self._by_key.clear()
            self._tokens.clear()
            self.duplicates = self.message_posts = self.token_requests = self.refused = 0
            self.calls = dict.fromkeys(ENDPOINTS, 0)

    def add_person(self, person: SandboxPerson) -> None:
        with self._lock:
            self.people[person.ssin] = person

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "messages": len(self.messages),
                "distinctIdempotencyKeys": len(self._by_key),
                "duplicates": self.duplicates,
                "messagePosts": self.message_posts,
                "tokenRequests": self.token_requests,
                "refused": self.refused,
                "calls": dict(self.calls),
            }

    # -- behaviour ---------------------------------------------------------------------------

    def _injected(self, endpoint: str) -> str | None:
        with self._lock:
            self.calls[endpoint] += 1
            if endpoint != "token" and time.monotonic() < self._down_until:
                return self._down_mode
            for index, (where, mode) in enumerate(self._failures):
                if where == endpoint:
                    del self._failures[index]
                    return mode
            return None

    async def _maybe_fail(self, endpoint: str) -> str | None:
        """Raise the injected failure; return 'timeout' when the caller must wait after work."""
        mode = self._injected(endpoint)
        if mode is None:
            return None
        if mode == "timeout":
            return mode
        with self._lock:
            self.refused += 1
        if mode == "429":
            raise _Refusal(
                429,
                "Te veel vragen; probeer het later opnieuw.",
                headers={"retry-after": "1"},
            )
        if mode == "permanent":
            raise _Refusal(
                422, "De zandbak weigert deze vraag (foutinjectie).", identification="99001"
            )
        raise _Refusal(int(mode), "De dienst is tijdelijk niet beschikbaar (zandbak).")

    async def _late(self, mode: str | None) -> None:
        if mode == "timeout":
            await anyio.sleep(self.timeout_seconds)

    def _keyset(self, client_id: str) -> KeySet | None:
        with self._lock:
            cached = self._jwks.get(client_id)
        if cached is not None:
            return cached
        source = self.clients.get(client_id)
        if source is None:
            return None
        keyset = KeySet.import_key_set(source() if callable(source) else source)  # type: ignore[arg-type]
        with self._lock:
            self._jwks[client_id] = keyset
        return keyset

    def issue_token(self, form: Mapping[str, str], request_url: str) -> dict[str, Any]:
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            raise _OAuthRefusal("unsupported_grant_type", "Alleen client_credentials.")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _OAuthRefusal("invalid_client", "Een JWT-clientverklaring is vereist.", 401)
        assertion = form.get("client_assertion") or ""
        try:
            unverified = json.loads(_b64(assertion.split(".")[1]))
        except (ValueError, IndexError):
            raise _OAuthRefusal("invalid_client", "Onleesbare clientverklaring.", 401) from None
        client_id = str(unverified.get("iss") or "")
        if form.get("client_id") and form["client_id"] != client_id:
            raise _OAuthRefusal("invalid_client", "client_id en verklaring verschillen.", 401)
        keyset = self._keyset(client_id)
        if keyset is None:
            raise _OAuthRefusal("invalid_client", f"Onbekende client {client_id!r}.", 401)
        try:
            token = jwt.decode(assertion, keyset, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError):
            raise _OAuthRefusal("invalid_client", "Ongeldige handtekening.", 401) from None
        claims = token.claims
        now = time.time()
        audiences = claims.get("aud")
        audience_list = audiences if isinstance(audiences, list) else [audiences]
        accepted = {request_url.split("?")[0], self.public_token_url}
        if (
            claims.get("sub") != client_id
            or not any(a in accepted for a in audience_list)
            or not isinstance(claims.get("exp"), int | float)
            or claims["exp"] < now
            or claims["exp"] > now + 600
            or not claims.get("jti")
        ):
            raise _OAuthRefusal("invalid_client", "De clientverklaring klopt niet.", 401)
        with self._lock:
            self._seen_jti = {j: t for j, t in self._seen_jti.items() if t > now}
            if claims["jti"] in self._seen_jti:
                raise _OAuthRefusal(
                    "invalid_client", "Deze clientverklaring werd al gebruikt.", 401
                )
            self._seen_jti[str(claims["jti"])] = float(claims["exp"])
            access_token = secrets.token_urlsafe(32)
            self._tokens[access_token] = (client_id, time.monotonic() + self.token_ttl_seconds)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_seconds,
        }

    def authorise(self, request: Request[Any, Any, Any]) -> str:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] < time.monotonic():
            raise _Refusal(
                401,
                "Geen geldig toegangstoken.",
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )
        return entry[0]

    def person(self, ssin: Any) -> SandboxPerson:
        person = self.people.get(_valid_ssin(ssin))
        if person is None:
            raise _Refusal(
                404, "Geen persoon gevonden met dit rijksregisternummer.", identification="30404"
            )
        return person

    def enterprise(self, number: Any) -> SandboxEnterprise:
        enterprise = self.enterprises.get(_valid_kbo(number))
        if enterprise is None:
            raise _Refusal(
                404, "Geen onderneming gevonden met dit ondernemingsnummer.", identification="30405"
            )
        return enterprise

    def _check_message(self, data: dict[str, Any], attachments: list[dict[str, Any]]) -> bool:
        """Refuse what the Documentendienst refuses; return whether paper comes back."""
        if data.get("channel") not in ("EBOX", "PAPER"):
            raise _Refusal(400, "Kanaal moet EBOX of PAPER zijn.", identification="40001")
        if data.get("deliveryMethod") not in ("normal", "registered"):
            raise _Refusal(
                400, "Verzendwijze moet normal of registered zijn.", identification="40002"
            )
        if not str((data.get("subject") or {}).get("nl") or "").strip():
            raise _Refusal(400, "Het bericht heeft geen onderwerp.", identification="40003")
        if not attachments:
            raise _Refusal(400, "Het bericht heeft geen bijlage.", identification="40004")
        for attachment in attachments:
            if not attachment["pdf"]:
                raise _Refusal(
                    400,
                    f"Bijlage {attachment['fileName']!r} is geen PDF.",
                    identification="40005",
                )
        recipient = data.get("recipient") or {}
        if data["channel"] == "EBOX":
            if recipient.get("eboxType") == "citizen":
                person = self.people.get(_valid_ssin(recipient.get("ssin")))
                if person is not None and not person.ebox:
                    raise _Refusal(
                        422,
                        "Deze burger heeft de eBox niet geactiveerd.",
                        identification="40010",
                    )
            elif recipient.get("eboxType") == "enterprise":
                enterprise = self.enterprises.get(_valid_kbo(recipient.get("enterpriseNumber")))
                if enterprise is not None and not enterprise.ebox:
                    raise _Refusal(
                        422,
                        "Deze onderneming ontvangt geen berichten in de eBox.",
                        identification="40011",
                    )
            else:
                raise _Refusal(
                    400, "eboxType moet citizen of enterprise zijn.", identification="40012"
                )
            return False
        address = recipient.get("postalAddress") or {}
        if not all(
            str(address.get(k) or "").strip() for k in ("street", "postalCode", "municipality")
        ):
            raise _Refusal(
                422,
                "Het postadres is onvolledig: straat, postcode en gemeente zijn nodig.",
                identification="40020",
            )
        undeliverable = {
            p.address.street for p in self.people.values() if p.undeliverable and p.address
        }
        street = str(address.get("street"))
        return any(street.startswith(u) for u in undeliverable)

    def accept_message(
        self, key: str, data: dict[str, Any], attachments: list[dict[str, Any]]
    ) -> tuple[_Message, bool]:
        """Store the message, or return the first one sent with this key (and True)."""
        if not key or len(key) > 255:
            raise _Refusal(400, "De header Idempotency-Key ontbreekt.", identification="40030")
        fingerprint = hashlib.sha256(
            json.dumps([data, [a["sha256"] for a in attachments]], sort_keys=True).encode()
        ).hexdigest()
        with self._lock:
            self.message_posts += 1
            first = self._by_key.get(key)
            if first is not None:
                if first.fingerprint != fingerprint:
                    raise _Refusal(
                        422,
                        "Deze Idempotency-Key werd al gebruikt voor een ander bericht.",
                        identification="40031",
                    )
                self.duplicates += 1
                return first, True
        undeliverable = self._check_message(data, attachments)
        message = _Message(
            id=str(uuid.uuid4()),
            idempotency_key=key,
            fingerprint=fingerprint,
            created=time.time(),
            data=data,
            attachments=[{k: v for k, v in a.items() if k != "pdf"} for a in attachments],
            undeliverable=undeliverable,
            unread=data["channel"] == "EBOX"
            and bool(
                {data["recipient"].get("ssin"), data["recipient"].get("enterpriseNumber")}
                & self.unread_recipients
            ),
            barcode=(
                f"JJBE{secrets.randbelow(10**12):012d}"
                if data["channel"] == "PAPER" and data.get("deliveryMethod") == "registered"
                else None
            ),
        )
        with self._lock:
            first = self._by_key.get(key)
            if first is not None:  # the same key raced us
                self.duplicates += 1
                return first, True
            self._by_key[key] = message
            self.messages[message.id] = message
        return message, False

    def message(self, message_id: FromPath[str]) -> _Message:
        with self._lock:
            found = self.messages.get(message_id)
        if found is None:
            raise _Refusal(404, "Onbekend bericht.", identification="40404")
        return found

    def status_of(self, message: _Message) -> dict[str, Any]:
        return message.status(time.time(), self.step_seconds)

    def bpost_status(self, message: _Message) -> dict[str, Any]:
        if message.barcode is None:
            raise _Refusal(404, "Dit bericht is geen aangetekende zending.", identification="40406")
        events = [
            e
            for e in self.status_of(message)["events"]
            if e["type"] in (POSTED, DELIVERED, RETURNED)
        ]
        status = events[-1]["type"] if events else "ANNOUNCED"
        return {
            "messageId": message.id,
            "barcode": message.barcode,
            "status": status,
            "events": events,
            "attestationAvailable": status in (DELIVERED, RETURNED),
        }

    def attestation(self, message: _Message) -> bytes:
        status = self.bpost_status(message)
        if not status["attestationAvailable"]:
            raise _Refusal(
                404, "Er is nog geen bewijs: de zending is niet afgeleverd.", identification="40407"
            )
        final = status["events"][-1]
        return attestation_pdf(
            barcode=str(message.barcode),
            outcome="Uitgereikt" if final["type"] == DELIVERED else "Teruggestuurd naar afzender",
            at=datetime.fromisoformat(final["occurredAt"]),
            recipient=str(message.recipient.get("name") or ""),
            reference=str(message.data.get("reference") or ""),
        )

    def router(self, path: str = "/magda") -> Router:
        return _build_router(self, path)


class _OAuthRefusal(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def attestation_pdf(
    *, barcode: str, outcome: str, at: datetime, recipient: str, reference: str
) -> bytes:
    """bpost's proof of a registered letter, as the sandbox makes it (a one-page PDF)."""
    pdf = FPDF()
    pdf.set_creator("MAGDA-zandbak")
    pdf.set_title(f"Bewijs aangetekende zending {barcode}")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 12, "Bewijs van aangetekende zending (zandbak)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 12)
    lines = [
        f"Zendingsnummer: {barcode}",
        f"Referentie afzender: {reference}",
        f"Geadresseerde: {recipient}",
        f"Resultaat: {outcome}",
        f"Datum: {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
    ]
    for line in lines:
        pdf.cell(
            0, 8, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())


def _json_body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Refusal(400, "Verwacht een JSON-object.", identification="40000")
    return data


def _address_html(address: dict[str, Any] | None) -> str:
    if not address:
        return ""
    street = f"{address.get('street', '')} {address.get('houseNumber', '')}".strip()
    if address.get("box"):
        street += f" bus {address['box']}"
    return escape(f"{street}, {address.get('postalCode', '')} {address.get('municipality', '')}")


def _build_router(sandbox: MagdaSandbox, path: str) -> Router:
    def guarded(request: Request[Any, Any, Any]) -> None:
        sandbox.authorise(request)

    @post("/oauth2/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        try:
            await sandbox._maybe_fail("token")
            values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
            body = sandbox.issue_token(values, str(request.url))
        except _Refusal as refusal:
            return _problem(refusal)
        except _OAuthRefusal as refusal:
            return Response(
                {"error": refusal.error, "error_description": refusal.description},
                status_code=refusal.status,
                headers={"cache-control": "no-store"},
            )
        return Response(body, headers={"cache-control": "no-store"})

    async def look_up(
        request: Request[Any, Any, Any],
        failure_kind: str,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Response[Any]:
        """What the three look-ups share: the token, injected failures, the body, lateness."""
        try:
            guarded(request)
            late = await sandbox._maybe_fail(failure_kind)
            body = answer(_json_body(await request.json()))
            await sandbox._late(late)
        except _Refusal as refusal:
            return _problem(refusal)
        return Response(body)

    def person_answer(data: dict[str, Any]) -> dict[str, Any]:
        found = sandbox.person(data.get("ssin"))
        return {
            "ssin": found.ssin,
            "givenName": found.given_name,
            "familyName": found.family_name,
            "officialAddress": found.address.to_json() if found.address else None,
            "deceased": False,
        }

    def consent_answer(data: dict[str, Any]) -> dict[str, Any]:
        found = sandbox.person(data.get("ssin"))
        return {
            "ssin": found.ssin,
            "eboxActivated": found.ebox,
            "since": found.ebox_since.isoformat() if found.ebox_since else None,
        }

    def preferences_answer(data: dict[str, Any]) -> dict[str, Any]:
        found = sandbox.enterprise(data.get("enterpriseNumber"))
        return {
            "enterpriseNumber": found.enterprise_number,
            "name": found.name,
            "eboxActivated": found.ebox,
            "address": found.address.to_json(),
        }

    @post("/api/v1/persons/query", status_code=200)
    async def person(request: Request[Any, Any, Any]) -> Response[Any]:
        return await look_up(request, "persons", person_answer)

    @post("/api/v1/ebox/citizens/consent", status_code=200)
    async def consent(request: Request[Any, Any, Any]) -> Response[Any]:
        return await look_up(request, "consent", consent_answer)

    @post("/api/v1/ebox/enterprises/preferences", status_code=200)
    async def preferences(request: Request[Any, Any, Any]) -> Response[Any]:
        return await look_up(request, "consent", preferences_answer)

    @post("/api/v1/messages", status_code=201, request_max_body_size=MAX_BODY)
    async def messages(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            guarded(request)
            late = await sandbox._maybe_fail("messages")
            form = await request.form()
            raw = form.get("message")
            if isinstance(raw, UploadFile):
                raw = (await raw.read()).decode()
            try:
                data = _json_body(json.loads(raw or ""))
            except ValueError:
                raise _Refusal(
                    400, "Het deel 'message' is geen JSON.", identification="40000"
                ) from None
            attachments = []
            for item in form.getall("attachment"):
                if not isinstance(item, UploadFile):
                    continue
                content = await item.read()
                attachments.append(
                    {
                        "fileName": item.filename,
                        "size": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                        "pdf": content.startswith(b"%PDF-"),
                    }
                )
            message, replayed = sandbox.accept_message(
                request.headers.get("idempotency-key", ""), data, attachments
            )
            await sandbox._late(late)
        except _Refusal as refusal:
            return _problem(refusal)
        return Response(
            {
                "messageId": message.id,
                "status": SUBMITTED,
                "submittedAt": datetime.fromtimestamp(message.created, UTC).isoformat(),
            },
            status_code=201,
            headers={"idempotent-replayed": "true"} if replayed else {},
        )

    @post("/api/v1/messages/statuses", status_code=200)
    async def statuses(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            guarded(request)
            late = await sandbox._maybe_fail("statuses")
            ids = _json_body(await request.json()).get("messageIds")
            if not isinstance(ids, list) or len(ids) > STATUS_BATCH:
                raise _Refusal(
                    400,
                    f"Geef een lijst van hoogstens {STATUS_BATCH} bericht-id's.",
                    identification="40040",
                )
            found, unknown = [], []
            for message_id in ids:
                try:
                    found.append(sandbox.status_of(sandbox.message(str(message_id))))
                except _Refusal:
                    unknown.append(message_id)
            await sandbox._late(late)
        except _Refusal as refusal:
            return _problem(refusal)
        return Response({"statuses": found, "unknown": unknown})

    @get("/api/v1/messages/{message_id:str}")
    async def one_status(
        request: Request[Any, Any, Any], message_id: FromPath[str]
    ) -> Response[Any]:
        try:
            guarded(request)
            late = await sandbox._maybe_fail("statuses")
            body = sandbox.status_of(sandbox.message(message_id))
            await sandbox._late(late)
        except _Refusal as refusal:
            return _problem(refusal)
        return Response(body)

    @get("/api/v1/messages/{message_id:str}/bpost-status")
    async def bpost_status(
        request: Request[Any, Any, Any], message_id: FromPath[str]
    ) -> Response[Any]:
        try:
            guarded(request)
            late = await sandbox._maybe_fail("bpost")
            body = sandbox.bpost_status(sandbox.message(message_id))
            await sandbox._late(late)
        except _Refusal as refusal:
            return _problem(refusal)
        return Response(body)

    @get("/api/v1/messages/{message_id:str}/bpost-attestation", sync_to_thread=False)
    def bpost_attestation(
        request: Request[Any, Any, Any], message_id: FromPath[str]
    ) -> Response[Any]:
        try:
            guarded(request)
            content = sandbox.attestation(sandbox.message(message_id))
        except _Refusal as refusal:
            return _problem(refusal)
        return Response(content, media_type="application/pdf")

    # -- pages -------------------------------------------------------------------------------

    @get("/", media_type="text/html", sync_to_thread=False)
    def overview() -> str:
        body = (
            "<p>Een lokale MAGDA-gateway voor ontwikkeling en tests: persoonsgegevens,"
            " eBox-toestemming en de Documentendienst, uit testgegevens.</p>"
            f'<ul><li><a href="{path}/ebox">eBox van de testburgers</a></li>'
            f'<li><a href="{path}/post">Brieven op papier</a></li></ul>'
        )
        return PAGE.format(title="MAGDA (zandbak)", body=body)

    @get("/ebox", media_type="text/html", sync_to_thread=False)
    def ebox_index() -> str:
        items = "".join(
            f'<li><a href="{path}/ebox/{escape(p.key)}">{escape(p.name)}</a>'
            f" — {'eBox geactiveerd' if p.ebox else 'geen eBox'}</li>"
            for p in sandbox.people.values()
        )
        return PAGE.format(title="eBox van de testburgers", body=f"<ul>{items}</ul>")

    @get("/ebox/{key:str}", media_type="text/html", sync_to_thread=False)
    def ebox_inbox(key: FromPath[str]) -> Response[str]:
        person = next((p for p in sandbox.people.values() if p.key == key), None)
        if person is None:
            return Response(
                PAGE.format(title="Onbekend", body="<p>Deze testburger bestaat niet.</p>"),
                status_code=404,
                media_type="text/html",
            )
        with sandbox._lock:
            mine = [
                m
                for m in sandbox.messages.values()
                if m.channel == "EBOX" and m.recipient.get("ssin") == person.ssin
            ]
        rows = []
        for message in sorted(mine, key=lambda m: m.created, reverse=True):
            status = sandbox.status_of(message)["status"]
            url = message.data.get("portalUrl")
            link = (
                f'<a href="{escape(str(url))}">Bekijk het document in het portaal</a>'
                if url
                else ""
            )
            rows.append(
                "<article>"
                f"<h2>{escape(str(message.data['subject']['nl']))}</h2>"
                f"<p>Van: {escape(str((message.data.get('sender') or {}).get('name') or ''))}"
                f" — {datetime.fromtimestamp(message.created, UTC):%Y-%m-%d %H:%M} UTC"
                f" — {_STATUS_LABELS.get(status, status)}</p>"
                f"<p>{escape(str((message.data.get('body') or {}).get('nl') or ''))}</p>"
                f"<p>{link}</p></article>"
            )
        body = "".join(rows) or "<p>Geen berichten in deze eBox.</p>"
        if not person.ebox:
            body = "<p>Deze burger heeft de eBox niet geactiveerd.</p>" + body
        return Response(
            PAGE.format(title=f"eBox van {escape(person.name)}", body=body), media_type="text/html"
        )

    @get("/post", media_type="text/html", sync_to_thread=False)
    def paper() -> str:
        with sandbox._lock:
            letters = [m for m in sandbox.messages.values() if m.channel == "PAPER"]
        rows = "".join(
            f"<tr><td>{escape(str(m.data.get('reference') or ''))}</td>"
            f"<td>{escape(str(m.recipient.get('name') or ''))}</td>"
            f"<td>{_address_html(m.recipient.get('postalAddress'))}</td>"
            f"<td>{'aangetekend ' + (m.barcode or '') if m.registered else 'gewoon'}</td>"
            f"<td>{_STATUS_LABELS.get(sandbox.status_of(m)['status'], '')}</td></tr>"
            for m in sorted(letters, key=lambda m: m.created, reverse=True)
        )
        table = (
            "<table><thead><tr><th>Referentie</th><th>Geadresseerde</th><th>Adres</th>"
            f"<th>Verzendwijze</th><th>Status</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return PAGE.format(
            title="Brieven op papier (zandbak)",
            body=table if letters else "<p>Nog geen brieven.</p>",
        )

    # -- control ------------------------------------------------------------------------------

    @get("/_sandbox/stats", sync_to_thread=False)
    def stats() -> dict[str, Any]:
        return sandbox.stats()

    @post("/_sandbox/fail", status_code=200)
    async def fail(request: Request[Any, Any, Any]) -> Response[Any]:
        data = await request.json()
        try:
            sandbox.fail_next(
                str(data.get("mode")),
                int(data.get("times", 1)),
                str(data.get("endpoint", "messages")),
            )
        except ValueError as error:
            return Response({"error": str(error)}, status_code=400)
        return Response({"ok": True})

    @post("/_sandbox/down", status_code=200)
    async def down(request: Request[Any, Any, Any]) -> dict[str, Any]:
        data = await request.json()
        sandbox.go_down(float(data.get("seconds", 60)), str(data.get("mode", "503")))
        return {"ok": True}

    @post("/_sandbox/speed", status_code=200)
    async def speed(request: Request[Any, Any, Any]) -> dict[str, Any]:
        data = await request.json()
        sandbox.step_seconds = float(data.get("stepSeconds", 0))
        return {"ok": True}

    @post("/_sandbox/unread", status_code=200)
    async def unread(request: Request[Any, Any, Any]) -> dict[str, Any]:
        data = await request.json()
        sandbox.leave_unread(str(data.get("recipient", "")))
        return {"ok": True}

    @post("/_sandbox/reset", status_code=200, sync_to_thread=False)
    def reset() -> dict[str, Any]:
        sandbox.reset()
        return {"ok": True}

    return Router(
        path=path,
        route_handlers=[
            token,
            person,
            consent,
            preferences,
            messages,
            statuses,
            one_status,
            bpost_status,
            bpost_attestation,
            overview,
            ebox_index,
            ebox_inbox,
            paper,
            stats,
            fail,
            down,
            speed,
            unread,
            reset,
        ],
    )


def create_magda_sandbox_router(
    *,
    public_url: str | None = None,
    sandbox: MagdaSandbox | None = None,
) -> Router:
    """The sandbox gateway at /magda, trusting the configured client (ZEGEL_MAGDA_CLIENT_ID with
    the public half of ZEGEL_MAGDA_PRIVATE_KEY_PATH, or of the development key). Raises
    ConfigError when ZEGEL_ENV=production."""
    settings = get_settings()
    if settings.is_production:
        raise ConfigError("The MAGDA sandbox is never served when ZEGEL_ENV=production")
    if sandbox is None:

        def client_jwks() -> dict[str, Any]:
            path = settings.magda_private_key_path or keys.ensure_dev_client_key(
                settings.dev_pki_path
            )
            return keys.public_jwks(load_private_key(path))

        token_url = (public_url or settings.magda_base_url).rstrip("/") + "/oauth2/token"
        sandbox = MagdaSandbox(
            clients={settings.magda_client_id: client_jwks},
            step_seconds=settings.magda_sandbox_step_seconds,
            public_token_url=token_url,
        )
    return sandbox.router("/magda")
