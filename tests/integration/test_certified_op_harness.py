"""The certified OpenID Provider harness works end to end, with a plain authlib client.

These tests prove the harness (tests/certified_op.py and tests/oidc_provider/server.mjs), not
Zegel's relying party: they log in with authlib's OAuth2Client directly and check the ID token
with joserfc against the OP's published keys.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.certified_op import (
    ACR_EID,
    ACR_PASSWORD,
    CertifiedOp,
    StartOp,
    follow_login,
    follow_logout,
    make_client_keys,
    start_certified_op,
)

pytest_plugins = ["tests.certified_op"]

RP = "http://127.0.0.1:8999"
REDIRECT_URI = f"{RP}/login/callback"
SCOPE = "openid profile rrn roles"
SECRET = "harness-client-secret-0123456789abcdef"

CLIENT_KEY, CLIENT_JWKS = make_client_keys()

CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "basic-rp",
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [f"{RP}/"],
    },
    {
        "client_id": "jwt-rp",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": CLIENT_JWKS,
        "redirect_uris": [REDIRECT_URI],
    },
]

ACCOUNTS: dict[str, dict[str, Any]] = {
    "jan": {
        "name": "Jan Peeters",
        "given_name": "Jan",
        "family_name": "Peeters",
        "email": "jan@example.org",
        "rrn": "85073003328",
        "roles": ["burger"],
        "acr": ACR_EID,
    },
    "zonder-rrn": {
        "name": "Els Zonder",
        "given_name": "Els",
        "family_name": "Zonder",
        "roles": [],
        "acr": ACR_PASSWORD,
    },
}


@pytest.fixture(scope="module")
def op() -> Iterator[CertifiedOp]:
    started = start_certified_op(CLIENTS, ACCOUNTS)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def metadata(op: CertifiedOp) -> dict[str, Any]:
    return op.metadata()


def _basic_client() -> OAuth2Client:
    return OAuth2Client(
        "basic-rp",
        SECRET,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )


def _jwt_client(token_endpoint: str) -> OAuth2Client:
    client = OAuth2Client(
        "jwt-rp",
        CLIENT_KEY,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint),
    )
    return client


def _login(
    client: OAuth2Client,
    metadata: dict[str, Any],
    account: str,
    browser: httpx.Client | None = None,
) -> tuple[dict[str, Any], str]:
    """Code flow with PKCE S256: returns the token response and the nonce sent."""
    verifier = generate_token(48)
    nonce = secrets.token_urlsafe(16)
    url, _state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, login_hint=account
    )
    assert "code_challenge_method=S256" in url
    redirect = follow_login(url, client=browser, redirect_uri_prefix=REDIRECT_URI)
    assert "code=" in redirect, redirect
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=redirect, code_verifier=verifier
    )
    return dict(token), nonce


def _verified_claims(
    id_token: str, metadata: dict[str, Any], client_id: str, nonce: str
) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return dict(token.claims)


def test_code_flow_with_pkce_and_client_secret_basic(
    op: CertifiedOp, metadata: dict[str, Any]
) -> None:
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert ACR_EID in metadata["acr_values_supported"]
    with _basic_client() as client:
        token, nonce = _login(client, metadata, "jan")
    claims = _verified_claims(token["id_token"], metadata, "basic-rp", nonce)
    assert claims["sub"] == "jan"
    assert claims["acr"] == ACR_EID
    assert claims["amr"] == ["hwk", "sc", "pin", "mfa"]
    assert claims["rrn"] == "85073003328"
    assert claims["roles"] == ["burger"]
    assert claims["name"] == "Jan Peeters"
    assert claims["email"] == "jan@example.org"


def test_code_flow_with_private_key_jwt(op: CertifiedOp, metadata: dict[str, Any]) -> None:
    with _jwt_client(metadata["token_endpoint"]) as client:
        token, nonce = _login(client, metadata, "jan")
    claims = _verified_claims(token["id_token"], metadata, "jwt-rp", nonce)
    assert claims["acr"] == ACR_EID
    assert claims["rrn"] == "85073003328"


def test_private_key_jwt_with_another_key_is_refused(
    op: CertifiedOp, metadata: dict[str, Any]
) -> None:
    other_key, _ = make_client_keys(kid=str(CLIENT_JWKS["keys"][0]["kid"]))
    client = OAuth2Client(
        "jwt-rp",
        other_key,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT(metadata["token_endpoint"]),
    )
    with client, pytest.raises(Exception, match="invalid_client"):
        _login(client, metadata, "jan")


def test_account_without_rrn_gets_no_rrn_claim(op: CertifiedOp, metadata: dict[str, Any]) -> None:
    with _basic_client() as client:
        token, nonce = _login(client, metadata, "zonder-rrn")
    claims = _verified_claims(token["id_token"], metadata, "basic-rp", nonce)
    assert "rrn" not in claims
    assert claims["acr"] == ACR_PASSWORD
    assert claims["roles"] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "PKCE"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "code_challenge_method"),
    ],
    ids=["no-challenge", "plain-method"],
)
def test_op_requires_pkce_s256(
    op: CertifiedOp, metadata: dict[str, Any], extra: dict[str, str], message: str
) -> None:
    # No code_challenge_method on the client: authlib sends no PKCE unless `extra` adds it.
    with OAuth2Client("basic-rp", SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI) as client:
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], nonce="n", login_hint="jan", **extra
        )
    redirect = follow_login(url, redirect_uri_prefix=REDIRECT_URI)
    params = parse_qs(urlsplit(redirect).query)
    assert params["error"] == ["invalid_request"]
    assert message in params["error_description"][0]
    assert params["state"] == [state]
    assert "code" not in params


def test_unknown_login_hint_is_denied(op: CertifiedOp, metadata: dict[str, Any]) -> None:
    with _basic_client() as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"],
            code_verifier=generate_token(48),
            nonce="n",
            login_hint="niemand",
        )
    params = parse_qs(urlsplit(follow_login(url, redirect_uri_prefix=REDIRECT_URI)).query)
    assert params["error"] == ["access_denied"]


def test_logout_returns_to_the_relying_party(op: CertifiedOp, metadata: dict[str, Any]) -> None:
    with httpx.Client(timeout=10) as browser, _basic_client() as client:
        token, _ = _login(client, metadata, "jan", browser=browser)
        end_session = httpx.URL(
            metadata["end_session_endpoint"],
            params={
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": f"{RP}/",
                "state": "bye",
            },
        )
        back = follow_logout(str(end_session), client=browser, redirect_uri_prefix=f"{RP}/")
    assert parse_qs(urlsplit(back).query)["state"] == ["bye"]


def test_short_id_token_ttl(certified_op_factory: StartOp) -> None:
    short = certified_op_factory(CLIENTS[:1], ACCOUNTS, ttl={"IdToken": 1})
    metadata = short.metadata()
    with _basic_client() as client:
        token, nonce = _login(client, metadata, "jan")
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["nonce"] == nonce
    assert claims["exp"] <= claims["iat"] + 1


def test_one_browser_logs_in_as_the_account_in_login_hint(
    op: CertifiedOp, metadata: dict[str, Any]
) -> None:
    with httpx.Client(timeout=10) as browser, _basic_client() as client:
        first, nonce1 = _login(client, metadata, "jan", browser=browser)
        second, nonce2 = _login(client, metadata, "zonder-rrn", browser=browser)
    assert _verified_claims(first["id_token"], metadata, "basic-rp", nonce1)["sub"] == "jan"
    assert _verified_claims(second["id_token"], metadata, "basic-rp", nonce2)["sub"] == "zonder-rrn"


def test_follow_login_can_choose_the_account(op: CertifiedOp, metadata: dict[str, Any]) -> None:
    verifier = generate_token(48)
    with _basic_client() as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce="n"
        )
        assert "login_hint" not in url
        redirect = follow_login(url, redirect_uri_prefix=REDIRECT_URI, account="zonder-rrn")
        token = client.fetch_token(
            metadata["token_endpoint"], authorization_response=redirect, code_verifier=verifier
        )
    claims = _verified_claims(token["id_token"], metadata, "basic-rp", "n")
    assert claims["sub"] == "zonder-rrn"


def test_essential_acr_the_account_cannot_give_is_unmet(
    op: CertifiedOp, metadata: dict[str, Any]
) -> None:
    claims = {"id_token": {"acr": {"essential": True, "values": [ACR_EID]}}}
    with _basic_client() as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"],
            code_verifier=generate_token(48),
            nonce="n",
            login_hint="zonder-rrn",
            claims=json.dumps(claims),
        )
    params = parse_qs(urlsplit(follow_login(url, redirect_uri_prefix=REDIRECT_URI)).query)
    assert params["error"] == ["unmet_authentication_requirements"]
