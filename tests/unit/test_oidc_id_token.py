"""ID-token validation of the relying party, against a provider served by httpx's MockTransport."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.integrations.oidc.client import LoginFailed, OidcClient, ProviderConfig

ISSUER = "https://op.example/op"
CLIENT = "zegel-portal"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.jwks_requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/op/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "end_session_endpoint": f"{ISSUER}/logout",
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if request.url.path == "/op/jwks":
            self.jwks_requests += 1
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        return httpx.Response(404)

    def token(self, key: RSAKey | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT,
            "sub": "citizen-1",
            "exp": now + 300,
            "iat": now,
            "nonce": "n-1",
            "acr": "urn:be:vlaanderen:authmech:eid",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signing_key = key or self.key
        header = {"alg": "RS256", "kid": signing_key.kid}
        return jwt.encode(header, claims, signing_key)


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def client(provider: Provider) -> OidcClient:
    return OidcClient(
        ProviderConfig(issuer=ISSUER, client_id=CLIENT, scopes="openid", client_secret="s"),
        transport=httpx.MockTransport(provider.handler),
    )


def test_a_valid_token_gives_its_claims(provider: Provider, client: OidcClient) -> None:
    claims = client.validate_id_token(provider.token(), nonce="n-1")
    assert claims["sub"] == "citizen-1"
    assert claims["acr"] == "urn:be:vlaanderen:authmech:eid"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"iss": "https://evil.example/op"}, "id_token_wrong_issuer"),
        ({"aud": "another-client"}, "id_token_wrong_audience"),
        ({"aud": [CLIENT, "another-client"]}, "id_token_wrong_audience"),
        ({"exp": int(time.time()) - 3600}, "id_token_expired"),
        ({"iat": int(time.time()) + 3600}, "id_token_issued_in_future"),
        ({"nonce": "replayed-nonce"}, "id_token_nonce_mismatch"),
        ({"nonce": None}, "id_token_nonce_mismatch"),
        ({"sub": None}, "id_token_without_subject"),
    ],
)
def test_bad_claims_are_refused(
    provider: Provider, client: OidcClient, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(LoginFailed) as refused:
        client.validate_id_token(provider.token(**overrides), nonce="n-1")
    assert refused.value.code == code
    assert refused.value.message  # Dutch text for the person


def test_a_token_signed_with_another_key_is_refused(provider: Provider, client: OidcClient) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(LoginFailed) as refused:
        client.validate_id_token(provider.token(key=forger), nonce="n-1")
    assert refused.value.code == "id_token_bad_signature"


def test_an_unsigned_token_is_refused(provider: Provider, client: OidcClient) -> None:
    import base64
    import json

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    unsigned = ".".join(
        [
            part({"alg": "none"}),
            part(
                {
                    "iss": ISSUER,
                    "aud": CLIENT,
                    "sub": "x",
                    "exp": now + 60,
                    "iat": now,
                    "nonce": "n-1",
                }
            ),
            "",
        ]
    )
    with pytest.raises(LoginFailed) as refused:
        client.validate_id_token(unsigned, nonce="n-1")
    assert refused.value.code in ("id_token_bad_signature", "id_token_malformed")


def test_rotated_keys_are_fetched_again_once(provider: Provider, client: OidcClient) -> None:
    client.validate_id_token(provider.token(), nonce="n-1")
    assert provider.jwks_requests == 1
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig", "alg": "RS256"})
    client.validate_id_token(provider.token(), nonce="n-1")
    assert provider.jwks_requests == 2


def test_discovery_with_another_issuer_is_refused(provider: Provider) -> None:
    client = OidcClient(
        ProviderConfig(issuer=ISSUER + "/", client_id=CLIENT, scopes="openid", client_secret="s"),
        transport=httpx.MockTransport(provider.handler),
    )
    with pytest.raises(LoginFailed) as refused:
        client.metadata()
    assert refused.value.code == "discovery_issuer_mismatch"


def test_logout_url_carries_the_hint_and_the_way_back(client: OidcClient) -> None:
    url = client.logout_url(
        id_token_hint="t", post_logout_redirect_uri="http://rp/afgemeld", state="s"
    )
    assert url is not None
    assert url.startswith(f"{ISSUER}/logout?")
    assert "id_token_hint=t" in url
    assert "post_logout_redirect_uri=http%3A%2F%2Frp%2Fafgemeld" in url
