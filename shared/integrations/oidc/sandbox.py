"""A small OpenID Provider on loopback: the sandbox of ACM/IDM and of a staff IdP.

It speaks the authorization code flow as a real provider does, so the relying party is
exercised end to end: discovery, JWKS, `/authorize` with PKCE (S256 only), a Dutch login
page listing the test identities of `identities`, one-time codes bound to the request,
`/token` with `client_secret_basic` or `private_key_jwt`, RS256 ID tokens, `/userinfo` and
RP-initiated logout. State lives in memory; it is a development and test tool and refuses to
exist when ZEGEL_ENV=production.

Protocol references: RFC 6749 (OAuth 2.0), RFC 7636 (PKCE), RFC 7523 (JWT client
authentication), RFC 9207 (`iss` in the authorization response), OpenID Connect Core 1.0,
Discovery 1.0 and RP-Initiated Logout 1.0.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from ipaddress import ip_address
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet, KeySetSerialization, RSAKey
from litestar import Request, Response, Router, get, post, route

from shared.config import get_settings
from shared.errors import ConfigError
from shared.integrations.oidc.identities import (
    ACR_LEVELS,
    ALL_CITIZENS,
    ALL_STAFF,
    AUTH_METHODS,
    LEVEL_LABELS,
    STAFF_METHOD,
    AuthLevel,
    AuthMethod,
    CitizenIdentity,
    StaffIdentity,
    auth_method,
)

__all__ = ["IdentityKind", "SandboxClient", "create_oidc_sandbox_router"]

CODE_TTL_SECONDS = 60
LOGIN_PAGE_TTL_SECONDS = 15 * 60
ACCESS_TOKEN_TTL_SECONDS = 600
ID_TOKEN_TTL_SECONDS = 600
USED_CODE_MEMORY_SECONDS = 15 * 60
"""How long a used code is remembered, so that a replay is recognised and revoked."""
SESSION_COOKIE = "zegel_oidc_sandbox"

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS256", "ES256", "PS256"]
ID_TOKEN_ALGORITHM = "RS256"  # noqa: S105 - an algorithm name
SCOPES = ["openid", "profile", "email", "rrn", "roles"]
CLAIMS = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "rrn",
    "roles",
]
PROMPTS = {"none", "login", "consent", "select_account"}
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")

Identity = CitizenIdentity | StaffIdentity
IdentityKind = Literal["all", "citizens", "staff"]


@dataclass(frozen=True)
class SandboxClient:
    """A relying party registered at the sandbox.

    It authenticates at the token endpoint with `client_secret` (client_secret_basic) or with
    a key of `jwks` (private_key_jwt), whichever it has. Redirect and post-logout URIs match
    exactly; with `allow_any_loopback_redirect` any `http://` loopback URI is accepted as
    well (RFC 8252), for apps on random ports in tests. `identities` chooses who the login
    page offers: citizens (ACM/IDM), staff (an organisation's IdP) or both.
    """

    client_id: str
    client_secret: str | None = None
    jwks: Mapping[str, Any] | None = None
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    allow_any_loopback_redirect: bool = False
    identities: IdentityKind = "all"


# -- internal records ---------------------------------------------------------------------


@dataclass(frozen=True)
class _AuthRequest:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    acr_values: tuple[str, ...]
    login_hint: str | None
    prompt: frozenset[str]
    max_age: int | None


@dataclass(frozen=True)
class _Login:
    """The sandbox's own login session (its cookie), as a real provider keeps one for SSO."""

    sid: str
    identity: str
    method: str
    auth_time: int


@dataclass
class _Code:
    request: _AuthRequest
    login: _Login
    expires_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Grant:
    client_id: str
    claims: dict[str, Any]
    expires_at: float


class _PageError(Exception):
    """The request cannot be answered to the client: show a page, never redirect."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _OAuthError(Exception):
    """An OAuth error: as JSON from the token and userinfo endpoints, or as a redirect."""

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def _now() -> float:
    return time.time()


# -- small helpers ------------------------------------------------------------------------


def _single_values(items: Iterable[tuple[str, Any]]) -> tuple[dict[str, str], set[str]]:
    """The parameters as a dict, plus the names that occurred more than once (RFC 6749 §3.1)."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in items:
        if not isinstance(value, str):
            continue
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


def _is_loopback_http(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.fragment or parts.username or parts.password:
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _with_params(uri: str, params: Mapping[str, str | None]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, v) for k, v in params.items() if v is not None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _identity_ref(identity: Identity) -> str:
    if isinstance(identity, CitizenIdentity):
        return f"citizen:{identity.key}"
    return f"staff:{identity.subject}"


_IDENTITIES: dict[str, Identity] = {
    **{_identity_ref(i): i for i in ALL_CITIZENS},
    **{_identity_ref(i): i for i in ALL_STAFF},
}


def _subject(identity: Identity) -> str:
    return identity.subject


def _format_rrn(rrn: str) -> str:
    if len(rrn) != 11 or not rrn.isdigit():
        return rrn
    return f"{rrn[0:2]}.{rrn[2:4]}.{rrn[4:6]}-{rrn[6:9]}.{rrn[9:11]}"


def _profile_claims(identity: Identity, scope: Sequence[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if "profile" in scope:
        claims.update(
            name=identity.name, given_name=identity.given_name, family_name=identity.family_name
        )
    if isinstance(identity, CitizenIdentity):
        if "rrn" in scope and identity.rrn is not None:
            claims["rrn"] = identity.rrn
    else:
        if "email" in scope:
            claims.update(email=identity.email, email_verified=True)
        if "roles" in scope:
            claims["roles"] = list(identity.roles)
    return claims


def _method_of(login: _Login) -> AuthMethod:
    return auth_method(login.method)


# -- pages --------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — testomgeving</title>
</head>
<body>
<header><p>Testomgeving van Zegel — nagebootste aanmeldingsdienst, geen echte gegevens</p></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""

_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status_code: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=escape(title), body=body),
        status_code=status_code,
        media_type="text/html",
        headers=_PAGE_HEADERS,
    )


def _error_page(message: str) -> Response[str]:
    body = (
        f"<p>{escape(message)}</p>"
        "<p>De aanvraag komt niet van een geregistreerde toepassing of is onvolledig; daarom"
        " stuurt de testomgeving u niet terug. Ga terug naar de toepassing en probeer opnieuw.</p>"
    )
    return _page("Ongeldige aanmeldingsaanvraag", body, status_code=400)


def _redirect(location: str) -> Response[str]:
    return Response(
        "",
        status_code=303,
        media_type="text/plain",
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _json(
    content: Mapping[str, Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    cacheable: bool = False,
) -> Response[Any]:
    caching = (
        {"Cache-Control": "public, max-age=300"}
        if cacheable
        else {"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
    return Response(
        dict(content),
        status_code=status_code,
        media_type="application/json",
        headers={**caching, **(headers or {})},
    )


def _oauth_error_json(error: _OAuthError) -> Response[Any]:
    return _json(
        {"error": error.error, "error_description": error.description},
        error.status_code,
        error.headers,
    )


# -- the provider -------------------------------------------------------------------------


class _Provider:
    def __init__(self, issuer: str, clients: Sequence[SandboxClient], key: RSAKey) -> None:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"issuer must be an http(s) URL: {issuer!r}")
        if parts.query or parts.fragment:
            raise ValueError("issuer must have no query or fragment (RFC 8414)")
        if not parts.path.rstrip("/").endswith("/oidc"):
            raise ValueError("issuer must end with /oidc, where the sandbox router is mounted")
        self.issuer = issuer
        self.base = issuer.rstrip("/")
        self.base_path = parts.path.rstrip("/")
        self.secure_cookie = parts.scheme == "https"
        self.key = key
        self.clients: dict[str, SandboxClient] = {}
        self.client_keys: dict[str, KeySet] = {}
        for client in clients:
            if client.client_id in self.clients:
                raise ValueError(f"client {client.client_id!r} is registered twice")
            if not client.client_secret and not client.jwks:
                raise ValueError(f"client {client.client_id!r} needs a client_secret or jwks")
            self.clients[client.client_id] = client
            if client.jwks:
                self.client_keys[client.client_id] = KeySet.import_key_set(
                    cast(KeySetSerialization, dict(client.jwks))
                )
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[_AuthRequest, float]] = {}
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._sessions: dict[str, _Login] = {}
        self._jtis: dict[tuple[str, str], float] = {}

    # -- endpoints and metadata --

    @property
    def token_endpoint(self) -> str:
        return f"{self.base}/token"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": f"{self.base}/userinfo",
            "jwks_uri": f"{self.base}/jwks",
            "end_session_endpoint": f"{self.base}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM],
            "scopes_supported": SCOPES,
            "claims_supported": CLAIMS,
            "acr_values_supported": list(ACR_LEVELS),
            "prompt_values_supported": sorted(PROMPTS),
            "ui_locales_supported": ["nl-BE"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    # -- housekeeping --

    def _prune(self, now: float) -> None:
        """Forget what has expired. Call with the lock held."""
        for request_id in [k for k, (_, exp) in self._pending.items() if exp <= now]:
            del self._pending[request_id]
        for code in [
            k for k, c in self._codes.items() if c.expires_at + USED_CODE_MEMORY_SECONDS <= now
        ]:
            del self._codes[code]
        for token in [k for k, g in self._grants.items() if g.expires_at <= now]:
            del self._grants[token]
        for jti in [k for k, exp in self._jtis.items() if exp <= now]:
            del self._jtis[jti]

    def login_session(self, sid: str | None) -> _Login | None:
        if not sid:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def _may_use(self, client: SandboxClient, identity: Identity) -> bool:
        if client.identities == "citizens":
            return isinstance(identity, CitizenIdentity)
        if client.identities == "staff":
            return isinstance(identity, StaffIdentity)
        return True

    def _redirect_allowed(self, client: SandboxClient, uri: str, registered: Sequence[str]) -> bool:
        if uri in registered:
            return "#" not in uri
        return client.allow_any_loopback_redirect and _is_loopback_http(uri)

    # -- the overview page --

    def overview(self) -> Response[str]:
        metadata = self.metadata()
        addresses = [
            ("Issuer", self.issuer),
            ("Discovery", f"{self.base}/.well-known/openid-configuration"),
            ("Autorisatie", metadata["authorization_endpoint"]),
            ("Token", metadata["token_endpoint"]),
            ("Gebruikersinfo", metadata["userinfo_endpoint"]),
            ("Sleutels (JWKS)", metadata["jwks_uri"]),
            ("Afmelden", metadata["end_session_endpoint"]),
        ]
        endpoints = "".join(
            f"<li>{escape(label)}: <code>{escape(url)}</code></li>" for label, url in addresses
        )
        clients = "".join(
            f"<li><code>{escape(c.client_id)}</code> — "
            f"{escape(', '.join(c.redirect_uris) or 'geen vaste terugkeeradressen')}"
            f"{' (en elk loopback-adres)' if c.allow_any_loopback_redirect else ''}</li>"
            for c in self.clients.values()
        )
        citizens = "".join(
            f"<tr><td>{escape(i.name)}</td>"
            f"<td>{escape(_format_rrn(i.rrn)) if i.rrn else 'geen'}</td>"
            f"<td><code>{escape(i.subject)}</code></td></tr>"
            for i in ALL_CITIZENS
        )
        staff = "".join(
            f"<tr><td>{escape(i.name)}</td><td><code>{escape(i.subject)}</code></td>"
            f"<td>{escape(', '.join(i.roles) or 'geen')}</td></tr>"
            for i in ALL_STAFF
        )
        methods = "".join(
            f"<li>{escape(m.label)} — niveau {LEVEL_LABELS[m.level]} — <code>{escape(m.acr)}"
            "</code></li>"
            for m in AUTH_METHODS
        )
        body = (
            "<p>Een nagebootste OpenID Provider die in ontwikkeling en tests de plaats inneemt"
            " van het aanmelden via de Vlaamse overheid (ACM/IDM) voor burgers en van de"
            " identiteitsdienst van het bestuur voor personeel. Aanmelden gebeurt vanuit de"
            " toepassingen.</p>"
            f"<h2>Adressen</h2><ul>{endpoints}</ul>"
            f"<h2>Geregistreerde toepassingen</h2><ul>{clients}</ul>"
            f"<h2>Aanmeldingsmiddelen</h2><ul>{methods}</ul>"
            "<h2>Burgers</h2><table><caption>Testburgers</caption><thead><tr>"
            '<th scope="col">Naam</th><th scope="col">Rijksregisternummer</th>'
            f'<th scope="col">Subject (sub)</th></tr></thead><tbody>{citizens}</tbody></table>'
            "<h2>Personeel</h2><table><caption>Testpersoneel</caption><thead><tr>"
            '<th scope="col">Naam</th><th scope="col">Subject (sub)</th>'
            f'<th scope="col">Rollen</th></tr></thead><tbody>{staff}</tbody></table>'
        )
        return _page("Testaanmelding (OpenID Provider)", body)

    # -- /authorize --

    def authorize(self, items: Iterable[tuple[str, Any]], sid: str | None) -> Response[str]:
        params, repeated = _single_values(items)
        client_id = params.get("client_id")
        if "client_id" in repeated or not client_id:
            return _error_page("De parameter client_id ontbreekt of komt meer dan eens voor.")
        client = self.clients.get(client_id)
        if client is None:
            return _error_page(f"De toepassing {client_id!r} is niet geregistreerd.")
        redirect_uri = params.get("redirect_uri")
        if "redirect_uri" in repeated or not redirect_uri:
            return _error_page("De parameter redirect_uri ontbreekt of komt meer dan eens voor.")
        if not self._redirect_allowed(client, redirect_uri, client.redirect_uris):
            return _error_page(
                f"Het terugkeeradres {redirect_uri!r} is niet geregistreerd voor {client_id!r}."
            )
        state = params.get("state")
        try:
            request = self._check_request(client, redirect_uri, params, repeated)
            login = None if "login" in request.prompt else self.login_session(sid)
            if login is not None and not self._login_fits(client, request, login):
                login = None
            if "none" in request.prompt:
                if login is None:
                    raise _OAuthError("login_required", "no sandbox login session to reuse")
                return self._issue_code(request, login)
        except _OAuthError as error:
            return _redirect(
                _with_params(
                    redirect_uri,
                    {
                        "error": error.error,
                        "error_description": error.description,
                        "state": state,
                        "iss": self.issuer,
                    },
                )
            )
        request_id = secrets.token_urlsafe(24)
        with self._lock:
            now = _now()
            self._prune(now)
            self._pending[request_id] = (request, now + LOGIN_PAGE_TTL_SECONDS)
        return self._login_page(client, request, request_id, login)

    def _check_request(
        self,
        client: SandboxClient,
        redirect_uri: str,
        params: dict[str, str],
        repeated: set[str],
    ) -> _AuthRequest:
        if "request" in params:
            raise _OAuthError("request_not_supported", "request objects are not supported")
        if "request_uri" in params:
            raise _OAuthError("request_uri_not_supported", "request_uri is not supported")
        if repeated:
            names = ", ".join(sorted(repeated))
            raise _OAuthError("invalid_request", f"parameters repeated: {names}")
        response_type = params.get("response_type")
        if not response_type:
            raise _OAuthError("invalid_request", "response_type is required")
        if response_type != "code":
            raise _OAuthError("unsupported_response_type", "only response_type=code is supported")
        if params.get("response_mode", "query") != "query":
            raise _OAuthError("invalid_request", "only response_mode=query is supported")
        scope = tuple(params.get("scope", "").split())
        if "openid" not in scope:
            raise _OAuthError("invalid_scope", "scope must contain openid")
        challenge = params.get("code_challenge")
        if not challenge:
            raise _OAuthError("invalid_request", "code_challenge is required (PKCE)")
        if params.get("code_challenge_method") != "S256":
            raise _OAuthError("invalid_request", "transform algorithm not supported: use S256")
        if not _S256_CHALLENGE.match(challenge):
            raise _OAuthError("invalid_request", "code_challenge is not a S256 challenge")
        prompt = frozenset(params.get("prompt", "").split())
        if not prompt <= PROMPTS:
            raise _OAuthError("invalid_request", "unknown prompt value")
        if "none" in prompt and len(prompt) > 1:
            raise _OAuthError("invalid_request", "prompt=none cannot be combined")
        max_age: int | None = None
        if "max_age" in params:
            try:
                max_age = int(params["max_age"])
            except ValueError:
                max_age = -1
            if max_age < 0:
                raise _OAuthError("invalid_request", "max_age must be a non-negative integer")
        return _AuthRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            state=params.get("state"),
            nonce=params.get("nonce"),
            code_challenge=challenge,
            acr_values=tuple(params.get("acr_values", "").split()),
            login_hint=params.get("login_hint") or None,
            prompt=prompt,
            max_age=max_age,
        )

    def _login_fits(self, client: SandboxClient, request: _AuthRequest, login: _Login) -> bool:
        identity = _IDENTITIES.get(login.identity)
        if identity is None or not self._may_use(client, identity):
            return False
        return request.max_age is None or _now() - login.auth_time <= request.max_age

    def _issue_code(self, request: _AuthRequest, login: _Login) -> Response[str]:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = _now()
            self._prune(now)
            self._codes[code] = _Code(request, login, expires_at=now + CODE_TTL_SECONDS)
        return _redirect(
            _with_params(
                request.redirect_uri, {"code": code, "state": request.state, "iss": self.issuer}
            )
        )

    # -- the login page and its answer --

    def login(self, items: Iterable[tuple[str, Any]], sid: str | None) -> Response[str]:
        params, _ = _single_values(items)
        request_id = params.get("request", "")
        with self._lock:
            now = _now()
            self._prune(now)
            pending = self._pending.get(request_id)
        if pending is None:
            return _page(
                "Aanvraag verlopen",
                "<p>Deze aanmeldingsaanvraag is verlopen of al gebruikt. Ga terug naar de"
                " toepassing en meld u opnieuw aan.</p>",
                status_code=400,
            )
        request = pending[0]
        client = self.clients[request.client_id]
        if params.get("annuleren"):
            self._forget_request(request_id)
            return _redirect(
                _with_params(
                    request.redirect_uri,
                    {
                        "error": "access_denied",
                        "error_description": "the user cancelled the login",
                        "state": request.state,
                        "iss": self.issuer,
                    },
                )
            )
        login: _Login | None
        if params.get("doorgaan"):
            login = self.login_session(sid)
            if login is None or not self._login_fits(client, request, login):
                return _page(
                    "Niet meer aangemeld",
                    "<p>U bent niet meer aangemeld bij de testomgeving. Kies opnieuw een"
                    " testidentiteit.</p>",
                    status_code=400,
                )
        else:
            identity = _IDENTITIES.get(params.get("identity", ""))
            if identity is None or not self._may_use(client, identity):
                return _page(
                    "Onbekende testidentiteit",
                    "<p>Kies een van de testidentiteiten op de aanmeldpagina.</p>",
                    status_code=400,
                )
            if isinstance(identity, CitizenIdentity):
                try:
                    method = auth_method(params.get("method", ""))
                except KeyError:
                    return _page(
                        "Onbekend aanmeldingsmiddel",
                        "<p>Kies een aanmeldingsmiddel.</p>",
                        status_code=400,
                    )
            else:
                method = STAFF_METHOD
            login = _Login(
                sid=secrets.token_urlsafe(24),
                identity=_identity_ref(identity),
                method=method.key,
                auth_time=int(now),
            )
            with self._lock:
                if sid:
                    self._sessions.pop(sid, None)
                self._sessions[login.sid] = login
        self._forget_request(request_id)
        response = self._issue_code(request, login)
        response.set_cookie(
            SESSION_COOKIE,
            login.sid,
            path=self.base_path or "/",
            httponly=True,
            secure=self.secure_cookie,
            samesite="lax",
        )
        return response

    def _forget_request(self, request_id: str) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    def _login_page(
        self,
        client: SandboxClient,
        request: _AuthRequest,
        request_id: str,
        login: _Login | None,
    ) -> Response[str]:
        action = escape(f"{self.base_path}/authorize/login")
        hidden = f'<input type="hidden" name="request" value="{escape(request_id)}">'
        parts = [
            "<p>Dit is een nagebootste aanmeldingsdienst voor ontwikkeling en tests. Kies een"
            " testidentiteit; er wordt geen wachtwoord of kaart gevraagd.</p>",
            f"<p>De toepassing <strong>{escape(client.client_id)}</strong> vraagt uw"
            f" aanmelding.</p>",
        ]
        requested = [acr for acr in request.acr_values if acr in ACR_LEVELS]
        if request.acr_values:
            if requested:
                minimum = min(ACR_LEVELS[acr] for acr in requested)
                names = ", ".join(
                    escape(m.label) for m in AUTH_METHODS if m.acr in request.acr_values
                )
                level = LEVEL_LABELS[minimum]
                if minimum < AuthLevel.HIGH:
                    level += " of hoger"
                parts.append(
                    f"<p>Gevraagd aanmeldingsniveau: <strong>{level}</strong> ({names}).</p>"
                )
            else:
                parts.append(
                    "<p>De toepassing vraagt een aanmeldingsniveau dat de testomgeving"
                    " niet kent.</p>"
                )
        if login is not None and (identity := _IDENTITIES.get(login.identity)) is not None:
            method = _method_of(login)
            parts.append(
                '<section aria-labelledby="sessie"><h2 id="sessie">Al aangemeld</h2>'
                f"<p>U bent al aangemeld als {escape(identity.name)} met"
                f" {escape(method.label)}.</p>"
                f'<form method="post" action="{action}">{hidden}'
                '<input type="hidden" name="doorgaan" value="1">'
                f'<button type="submit">Doorgaan als {escape(identity.name)}</button>'
                "</form></section>"
            )
        hinted = self._hinted(client, request.login_hint)
        if hinted is not None:
            parts.append(
                '<section aria-labelledby="voorgesteld"><h2 id="voorgesteld">Voorgestelde'
                " identiteit</h2>"
                + self._identity_form(hinted, request, action, hidden)
                + "</section>"
            )
        elif request.login_hint:
            parts.append(
                f"<p>De toepassing stelt {escape(request.login_hint)!s} voor, maar die"
                " testidentiteit bestaat niet.</p>"
            )
        if client.identities in ("all", "citizens"):
            forms = "".join(
                self._identity_form(i, request, action, hidden)
                for i in ALL_CITIZENS
                if i is not hinted
            )
            parts.append(
                '<section aria-labelledby="burgers"><h2 id="burgers">Burgers</h2>'
                "<p>Zoals bij het aanmelden via de Vlaamse overheid (ACM/IDM): kies per burger"
                f" een aanmeldingsmiddel.</p>{forms}</section>"
            )
        if client.identities in ("all", "staff"):
            forms = "".join(
                self._identity_form(i, request, action, hidden)
                for i in ALL_STAFF
                if i is not hinted
            )
            parts.append(
                '<section aria-labelledby="personeel"><h2 id="personeel">Personeel</h2>'
                "<p>Zoals bij het aanmelden via de identiteitsdienst van het bestuur"
                f" ({escape(STAFF_METHOD.label)}).</p>{forms}</section>"
            )
        parts.append(
            f'<form method="post" action="{action}">{hidden}'
            '<input type="hidden" name="annuleren" value="1">'
            '<button type="submit">Annuleren en terug naar de toepassing</button></form>'
        )
        return _page("Aanmelden bij de testomgeving", "".join(parts))

    def _hinted(self, client: SandboxClient, hint: str | None) -> Identity | None:
        if not hint:
            return None
        for identity in _IDENTITIES.values():
            if not self._may_use(client, identity):
                continue
            names = {identity.subject}
            if isinstance(identity, CitizenIdentity):
                names.add(identity.key)
                if identity.rrn:
                    names.add(identity.rrn)
            else:
                names.add(identity.email)
            if hint in names:
                return identity
        return None

    def _identity_form(
        self, identity: Identity, request: _AuthRequest, action: str, hidden: str
    ) -> str:
        ref = escape(_identity_ref(identity))
        slug = escape(_identity_ref(identity).replace(":", "-"))
        name = escape(identity.name)
        if isinstance(identity, StaffIdentity):
            roles = ", ".join(identity.roles) or "geen"
            details = (
                f"<p>{escape(identity.note)} — {escape(identity.email)} — rollen:"
                f" {escape(roles)}</p>"
            )
            return (
                f'<form method="post" action="{action}">{hidden}'
                f'<input type="hidden" name="identity" value="{ref}">'
                f"<h3>{name}</h3>{details}"
                f'<button type="submit">Aanmelden als {name}</button></form>'
            )
        rrn = (
            f"Rijksregisternummer: {escape(_format_rrn(identity.rrn))}"
            if identity.rrn
            else "Geen rijksregisternummer"
        )
        note = f"<p>{escape(identity.note)}</p>" if identity.note else ""
        default = next((m for m in AUTH_METHODS if m.acr in request.acr_values), AUTH_METHODS[0])
        options = []
        for method in AUTH_METHODS:
            element_id = f"{slug}-{method.key}"
            checked = " checked" if method is default else ""
            level = LEVEL_LABELS[method.level]
            remark = (
                " — niet gevraagd door de toepassing"
                if request.acr_values and method.acr not in request.acr_values
                else ""
            )
            options.append(
                f'<div><input type="radio" id="{element_id}" name="method"'
                f' value="{escape(method.key)}"{checked}>'
                f' <label for="{element_id}">{escape(method.label)} (niveau {level}){remark}'
                "</label></div>"
            )
        return (
            f'<form method="post" action="{action}">{hidden}'
            f'<input type="hidden" name="identity" value="{ref}">'
            f"<h3>{name}</h3><p>{rrn}</p>{note}"
            f"<fieldset><legend>Aanmeldingsmiddel voor {name}</legend>{''.join(options)}"
            f'</fieldset><button type="submit">Aanmelden als {name}</button></form>'
        )

    # -- /token --

    def token(self, items: Iterable[tuple[str, Any]], authorization: str | None) -> Response[Any]:
        try:
            params, repeated = _single_values(items)
            if repeated:
                names = ", ".join(sorted(repeated))
                raise _OAuthError("invalid_request", f"parameters repeated: {names}")
            client = self._authenticate_client(params, authorization)
            return _json(self._exchange_code(client, params))
        except _OAuthError as error:
            return _oauth_error_json(error)

    def _authenticate_client(
        self, params: Mapping[str, str], authorization: str | None
    ) -> SandboxClient:
        basic = authorization is not None and authorization[:6].lower() == "basic "
        assertion = "client_assertion" in params or "client_assertion_type" in params
        if "client_secret" in params:
            raise _OAuthError(
                "invalid_client", "client_secret_post is not supported: use HTTP Basic", 401
            )
        if basic and assertion:
            raise _OAuthError("invalid_request", "use one client authentication method")
        if basic:
            assert authorization is not None
            client = self._basic_client(authorization[6:].strip())
        elif assertion:
            client = self._assertion_client(params)
        else:
            raise _OAuthError("invalid_client", "client authentication is required", 401)
        claimed = params.get("client_id")
        if claimed is not None and claimed != client.client_id:
            raise _OAuthError("invalid_client", "client_id does not match the credentials", 401)
        return client

    def _basic_client(self, credentials: str) -> SandboxClient:
        def refused(description: str) -> _OAuthError:
            error = _OAuthError("invalid_client", description, 401)
            error.headers["WWW-Authenticate"] = 'Basic realm="zegel-sandbox-oidc"'
            return error

        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise refused("malformed Basic credentials") from None
        raw_id, separator, raw_secret = decoded.partition(":")
        if not separator:
            raise refused("malformed Basic credentials")
        # RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        client = self.clients.get(client_id)
        expected = (client.client_secret or "") if client else ""
        if (
            client is None
            or not expected
            or not hmac.compare_digest(secret.encode(), expected.encode())
        ):
            raise refused("unknown client or wrong client secret")
        return client

    def _assertion_client(self, params: Mapping[str, str]) -> SandboxClient:
        def refused(description: str) -> _OAuthError:
            return _OAuthError("invalid_client", description, 401)

        if params.get("client_assertion_type") != ASSERTION_TYPE:
            raise refused("client_assertion_type must be jwt-bearer")
        assertion = params.get("client_assertion", "")
        try:
            unverified = jws.extract_compact(assertion.encode("ascii"))
            header = unverified.headers()
            payload = unverified.payload
        except (JoseError, ValueError, UnicodeEncodeError):
            raise refused("client_assertion is not a compact JWS") from None
        client_id = params.get("client_id") or self._assertion_issuer(payload)
        client = self.clients.get(client_id or "")
        keys = self.client_keys.get(client_id or "")
        if client is None or keys is None:
            raise refused("unknown client or no registered keys")
        claims = self._verify_assertion(assertion, header, keys)
        now = _now()
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise refused("iss and sub must be the client_id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not {self.token_endpoint, self.issuer} & set(audiences):
            raise refused("aud must be the token endpoint or the issuer")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= now:
            raise refused("the assertion has expired")
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and not_before > now + 30:
            raise refused("the assertion is not valid yet")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise refused("jti is required")
        with self._lock:
            self._prune(now)
            if (client.client_id, jti) in self._jtis:
                raise refused("this assertion was used before (jti)")
            self._jtis[(client.client_id, jti)] = float(expires)
        return client

    @staticmethod
    def _assertion_issuer(payload: bytes | None) -> str | None:
        try:
            data = json.loads(payload or b"")
        except ValueError:
            return None
        issuer = data.get("iss") if isinstance(data, dict) else None
        return issuer if isinstance(issuer, str) else None

    @staticmethod
    def _verify_assertion(
        assertion: str, header: Mapping[str, Any], keys: KeySet
    ) -> dict[str, Any]:
        kid = header.get("kid")
        candidates: list[Key] = (
            [k for k in keys if k.kid == kid] if isinstance(kid, str) else list(keys)
        )
        for key in candidates:
            try:
                return dict(jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS).claims)
            except (JoseError, ValueError):
                continue
        raise _OAuthError("invalid_client", "the client assertion signature is not valid", 401)

    def _exchange_code(self, client: SandboxClient, params: Mapping[str, str]) -> dict[str, Any]:
        grant_type = params.get("grant_type")
        if not grant_type:
            raise _OAuthError("invalid_request", "grant_type is required")
        if grant_type != "authorization_code":
            raise _OAuthError("unsupported_grant_type", "only authorization_code is supported")
        code = params.get("code")
        if not code:
            raise _OAuthError("invalid_request", "code is required")
        with self._lock:
            now = _now()
            record = self._codes.get(code)
            if record is None:
                raise _OAuthError("invalid_grant", "unknown or expired code")
            if record.used:
                # RFC 6749 §4.1.2: deny, and revoke what the code already gave.
                for token in record.access_tokens:
                    self._grants.pop(token, None)
                record.access_tokens.clear()
                raise _OAuthError("invalid_grant", "the code was already used")
            if record.request.client_id != client.client_id:
                raise _OAuthError("invalid_grant", "the code was issued to another client")
            record.used = True
            if record.expires_at <= now:
                raise _OAuthError("invalid_grant", "the code has expired")
        request = record.request
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise _OAuthError("invalid_request", "redirect_uri is required")
        if redirect_uri != request.redirect_uri:
            raise _OAuthError("invalid_grant", "redirect_uri does not match the authorization")
        verifier = params.get("code_verifier")
        if not verifier:
            raise _OAuthError("invalid_request", "code_verifier is required (PKCE)")
        if not _PKCE_VALUE.match(verifier) or not hmac.compare_digest(
            _s256(verifier), request.code_challenge
        ):
            raise _OAuthError("invalid_grant", "code_verifier does not match the code_challenge")

        identity = _IDENTITIES[record.login.identity]
        method = _method_of(record.login)
        profile = _profile_claims(identity, request.scope)
        issued_at = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": _subject(identity),
            "aud": client.client_id,
            "exp": issued_at + ID_TOKEN_TTL_SECONDS,
            "iat": issued_at,
            "auth_time": record.login.auth_time,
            "acr": method.acr,
            "amr": list(method.amr),
            "sid": record.login.sid,
        }
        if request.nonce is not None:
            claims["nonce"] = request.nonce
        claims.update(profile)
        id_token = jwt.encode(
            {"alg": ID_TOKEN_ALGORITHM, "kid": self.key.kid, "typ": "JWT"},
            claims,
            self.key,
            algorithms=[ID_TOKEN_ALGORITHM],
        )
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[access_token] = _Grant(
                client_id=client.client_id,
                claims={"sub": _subject(identity), **profile},
                expires_at=now + ACCESS_TOKEN_TTL_SECONDS,
            )
            record.access_tokens.append(access_token)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
            "id_token": id_token,
            "scope": " ".join(request.scope),
        }

    # -- /userinfo --

    def userinfo(self, authorization: str | None) -> Response[Any]:
        realm = 'Bearer realm="zegel-sandbox-oidc"'
        if authorization is None or authorization[:7].lower() != "bearer ":
            error = _OAuthError("invalid_request", "a Bearer access token is required", 401)
            error.headers["WWW-Authenticate"] = realm
            return _oauth_error_json(error)
        token = authorization[7:].strip()
        with self._lock:
            now = _now()
            self._prune(now)
            grant = self._grants.get(token)
        if grant is None:
            error = _OAuthError("invalid_token", "the access token is unknown or expired", 401)
            error.headers["WWW-Authenticate"] = (
                f'{realm}, error="invalid_token", error_description="unknown or expired token"'
            )
            return _oauth_error_json(error)
        return _json(grant.claims)

    # -- /logout --

    def logout(self, items: Iterable[tuple[str, Any]], sid: str | None) -> Response[str]:
        params, _ = _single_values(items)
        hint_claims = self._id_token_hint(params.get("id_token_hint"))
        with self._lock:
            for session_id in (sid, hint_claims.get("sid") if hint_claims else None):
                if isinstance(session_id, str):
                    self._sessions.pop(session_id, None)
        response = self._after_logout(params, hint_claims)
        response.delete_cookie(SESSION_COOKIE, path=self.base_path or "/")
        return response

    def _id_token_hint(self, hint: str | None) -> dict[str, Any] | None:
        """The claims of an ID token this provider issued (expired or not); None otherwise."""
        if not hint:
            return None
        try:
            claims = dict(jwt.decode(hint, self.key, algorithms=[ID_TOKEN_ALGORITHM]).claims)
        except (JoseError, ValueError):
            return None
        return claims if claims.get("iss") == self.issuer else None

    def _after_logout(
        self, params: Mapping[str, str], hint_claims: dict[str, Any] | None
    ) -> Response[str]:
        uri = params.get("post_logout_redirect_uri")
        client_id = params.get("client_id")
        if hint_claims is not None:
            audience = hint_claims.get("aud")
            hinted = audience[0] if isinstance(audience, list) and audience else audience
            if client_id is not None and client_id != hinted:
                client_id = None  # the two disagree: trust neither
                uri = None
            else:
                client_id = hinted if isinstance(hinted, str) else None
        elif params.get("id_token_hint"):
            uri = None  # an ID token this provider did not issue
        client = self.clients.get(client_id or "")
        if (
            uri
            and client is not None
            and self._redirect_allowed(client, uri, client.post_logout_redirect_uris)
        ):
            return _redirect(_with_params(uri, {"state": params.get("state")}))
        return _page(
            "U bent afgemeld",
            "<p>U bent afgemeld bij de testomgeving. U kunt dit venster sluiten of terugkeren"
            " naar de toepassing.</p>",
        )


# -- the router ---------------------------------------------------------------------------


def create_oidc_sandbox_router(
    issuer: str,
    clients: Sequence[SandboxClient],
    *,
    signing_key: RSAKey | None = None,
) -> Router:
    """The sandbox OpenID Provider as a Litestar router at /oidc.

    `issuer` is the full public URL of the provider, ending in /oidc (for example
    http://127.0.0.1:8002/oidc); every endpoint lives below it. Without `signing_key` a fresh
    RSA 2048 key signs the ID tokens. Raises ConfigError when ZEGEL_ENV=production.
    """
    if get_settings().is_production:
        raise ConfigError("The sandbox OpenID Provider is never served when ZEGEL_ENV=production")
    if signing_key is None:
        signing_key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    if not signing_key.is_private:
        raise ValueError("signing_key must be a private RSA key")
    signing_key.ensure_kid()
    provider = _Provider(issuer, clients, signing_key)

    @get("/", media_type="text/html", sync_to_thread=False)
    def overview() -> Response[str]:
        return provider.overview()

    @get("/.well-known/openid-configuration", sync_to_thread=False)
    def discovery() -> Response[Any]:
        return _json(provider.metadata(), cacheable=True)

    @get("/jwks", sync_to_thread=False)
    def jwks() -> Response[Any]:
        return _json(provider.jwks(), cacheable=True)

    @get("/authorize", sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[str]:
        return provider.authorize(
            request.query_params.multi_items(), request.cookies.get(SESSION_COOKIE)
        )

    @post("/authorize/login")
    async def login(request: Request[Any, Any, Any]) -> Response[str]:
        form = await request.form()
        return provider.login(form.multi_items(), request.cookies.get(SESSION_COOKIE))

    @post("/token")
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("application/x-www-form-urlencoded"):
            return _oauth_error_json(
                _OAuthError("invalid_request", "use application/x-www-form-urlencoded")
            )
        form = await request.form()
        return provider.token(form.multi_items(), request.headers.get("authorization"))

    @route("/userinfo", http_method=["GET", "POST"], sync_to_thread=False)
    def userinfo(request: Request[Any, Any, Any]) -> Response[Any]:
        return provider.userinfo(request.headers.get("authorization"))

    @route("/logout", http_method=["GET", "POST"])
    async def logout(request: Request[Any, Any, Any]) -> Response[str]:
        items: list[tuple[str, Any]] = list(request.query_params.multi_items())
        if request.method == "POST":
            items.extend((await request.form()).multi_items())
        return provider.logout(items, request.cookies.get(SESSION_COOKIE))

    return Router(
        path="/oidc",
        route_handlers=[overview, discovery, jwks, authorize, login, token, userinfo, logout],
    )
