"""OpenID Connect relying party (authlib): authorization code flow with PKCE (S256).

One `OidcClient` per provider and app. `begin()` gives the authorization URL plus the state,
nonce and code verifier to keep; `finish()` exchanges the code (client_secret_basic or
private_key_jwt) and validates the ID token fully: signature against the provider's JWKS,
issuer, audience, expiry, issued-at and nonce. Every failure raises `LoginFailed` with a code
for the security log and a Dutch message for the person logging in.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import authlib.deprecate
import httpx
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

with warnings.catch_warnings():
    # authlib prefers httpx2 and warns when it falls back to httpx, which Zegel uses.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

CLOCK_SKEW_SECONDS = 60
DISCOVERY_TTL_SECONDS = 3600


class LoginFailed(Exception):
    """The login did not succeed. `code` goes to the security log; `message` to the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


GENERIC = "De aanmelding is niet gelukt. Probeer het opnieuw."


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    client_id: str
    scopes: str
    client_secret: str | None = None
    private_key: dict[str, Any] | str | None = None
    """For private_key_jwt: a private JWK (dict) or PEM text."""
    timeout_seconds: float = 10.0
    clock_skew_seconds: int = CLOCK_SKEW_SECONDS

    @property
    def auth_method(self) -> str:
        return "private_key_jwt" if self.private_key is not None else "client_secret_basic"


def load_private_key(path: Path) -> dict[str, Any] | str:
    """A private key file for private_key_jwt: a JWK (JSON) or PEM."""
    text = path.read_text()
    return dict(json.loads(text)) if text.lstrip().startswith("{") else text


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedLogin:
    issuer: str
    subject: str
    claims: dict[str, Any]
    id_token: str
    acr: str | None


@dataclass
class _Cache:
    metadata: dict[str, Any] | None = None
    fetched_at: float = 0.0
    keys: KeySet | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class OidcClient:
    def __init__(
        self, config: ProviderConfig, transport: httpx.BaseTransport | None = None
    ) -> None:
        """`transport` carries every request to the provider (tests put one in between)."""
        self.config = config
        self._transport = transport
        self._http = httpx.Client(timeout=config.timeout_seconds, transport=transport)
        self._cache = _Cache()

    # -- provider metadata ----------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise LoginFailed(
                "provider_unreachable",
                "De aanmeldingsdienst is nu niet bereikbaar. Probeer het over enkele minuten"
                " opnieuw.",
            ) from error
        if not isinstance(data, dict):
            raise LoginFailed("provider_invalid_response", GENERIC)
        return data

    def metadata(self) -> dict[str, Any]:
        with self._cache.lock:
            fresh = time.monotonic() - self._cache.fetched_at < DISCOVERY_TTL_SECONDS
            if self._cache.metadata is not None and fresh:
                return self._cache.metadata
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = self._get_json(url)
        if metadata.get("issuer") != self.config.issuer:
            raise LoginFailed("discovery_issuer_mismatch", GENERIC)
        with self._cache.lock:
            self._cache.metadata = metadata
            self._cache.fetched_at = time.monotonic()
            self._cache.keys = None
        return metadata

    def _keys(self, *, refresh: bool = False) -> KeySet:
        with self._cache.lock:
            if self._cache.keys is not None and not refresh:
                return self._cache.keys
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        with self._cache.lock:
            self._cache.keys = keys
        return keys

    # -- the flow -------------------------------------------------------------------------

    def _oauth(self, redirect_uri: str) -> OAuth2Client:
        config = self.config
        if config.private_key is not None:
            client = OAuth2Client(
                client_id=config.client_id,
                client_secret=RSAKey.import_key(config.private_key),
                token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name
                redirect_uri=redirect_uri,
                code_challenge_method="S256",
                timeout=config.timeout_seconds,
                transport=self._transport,
            )
            client.register_client_auth_method(PrivateKeyJWT(self.metadata()["token_endpoint"]))
            return client
        return OAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=config.timeout_seconds,
            transport=self._transport,
        )

    def begin(self, redirect_uri: str, *, acr_values: list[str] | None = None) -> LoginStart:
        """Where to send the browser, and the secrets to keep until it comes back."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
        }
        if acr_values:
            params["acr_values"] = " ".join(acr_values)
        with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                code_verifier=verifier,
                **{k: v for k, v in params.items() if k not in ("client_id", "redirect_uri")},
            )
        return LoginStart(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish(
        self,
        *,
        code: str,
        redirect_uri: str,
        nonce: str,
        code_verifier: str,
        returned_issuer: str | None = None,
    ) -> VerifiedLogin:
        """Exchange the code and validate the ID token; raise LoginFailed on any doubt."""
        metadata = self.metadata()
        if returned_issuer is not None and returned_issuer != self.config.issuer:
            raise LoginFailed("wrong_issuer", GENERIC)  # RFC 9207 mix-up defence
        try:
            with self._oauth(redirect_uri) as oauth:
                token = oauth.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                )
        except httpx.HTTPError as error:
            raise LoginFailed(
                "provider_unreachable",
                "De aanmeldingsdienst is nu niet bereikbaar. Probeer het over enkele minuten"
                " opnieuw.",
            ) from error
        except Exception as error:  # authlib raises OAuthError and friends
            raise LoginFailed("token_request_refused", GENERIC) from error
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("id_token_missing", GENERIC)
        claims = self.validate_id_token(id_token, nonce=nonce)
        return VerifiedLogin(
            issuer=claims["iss"],
            subject=claims["sub"],
            claims=claims,
            id_token=id_token,
            acr=claims.get("acr"),
        )

    def validate_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        algorithms = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if a != "none"]
        try:
            decoded = jwt.decode(id_token, self._keys(), algorithms=algorithms)
        except JoseError:
            # The provider may have rotated its keys: fetch them once more.
            try:
                decoded = jwt.decode(id_token, self._keys(refresh=True), algorithms=algorithms)
            except JoseError as error:
                raise LoginFailed("id_token_bad_signature", GENERIC) from error
        except ValueError as error:
            raise LoginFailed("id_token_malformed", GENERIC) from error
        claims = dict(decoded.claims)
        now = time.time()
        if claims.get("iss") != self.config.issuer:
            raise LoginFailed("id_token_wrong_issuer", GENERIC)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.config.client_id not in audiences:
            raise LoginFailed("id_token_wrong_audience", GENERIC)
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise LoginFailed("id_token_wrong_audience", GENERIC)
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + self.config.clock_skew_seconds < now:
            raise LoginFailed(
                "id_token_expired", "De aanmelding duurde te lang. Meld u opnieuw aan."
            )
        issued = claims.get("iat")
        if not isinstance(issued, int | float) or issued - self.config.clock_skew_seconds > now:
            raise LoginFailed("id_token_issued_in_future", GENERIC)
        if claims.get("nonce") != nonce:
            raise LoginFailed("id_token_nonce_mismatch", GENERIC)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise LoginFailed("id_token_without_subject", GENERIC)
        return claims

    def logout_url(
        self, *, id_token_hint: str | None, post_logout_redirect_uri: str, state: str
    ) -> str | None:
        """RP-initiated logout, when the provider offers it."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except LoginFailed:
            return None
        if not endpoint:
            return None
        params = {
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": state,
            "client_id": self.config.client_id,
        }
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"
