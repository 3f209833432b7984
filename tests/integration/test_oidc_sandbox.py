"""The sandbox OpenID Provider, driven by authlib's OAuth 2.0 client as a relying party would.

The provider runs in Litestar's TestClient (authlib's httpx client talks to it through the
TestClient's transport); the last tests serve it with uvicorn on loopback and log in with
Zegel's own relying party.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate
import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from litestar import Litestar
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport as LitestarTransport

from shared.config import load_settings
from shared.errors import ConfigError
from shared.integrations.oidc import sandbox
from shared.integrations.oidc.identities import (
    ACR_EID,
    ACR_ITSME,
    ACR_PASSWORD,
    ACR_SMS,
    ACR_TOTP,
    CITIZEN_WITHOUT_RRN,
    citizen,
)
from shared.integrations.oidc.sandbox import SandboxClient, create_oidc_sandbox_router
from shared.integrations.sandbox_app import create_sandbox_app
from tests.live_server import bind_loopback, serving, url_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

BASE = "http://127.0.0.1:8002"
ISSUER = f"{BASE}/oidc"
TOKEN_ENDPOINT = f"{ISSUER}/token"
REDIRECT = "http://portal.test/aanmelden/terug"
LOGGED_OUT = "http://portal.test/afgemeld"
SECRET = "portal-secret"
AN = citizen("an-janssens")

RP_KEY = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "use": "sig", "alg": "RS256"})


def _clients() -> list[SandboxClient]:
    return [
        SandboxClient(
            "portal",
            client_secret=SECRET,
            redirect_uris=[REDIRECT],
            post_logout_redirect_uris=[LOGGED_OUT],
        ),
        SandboxClient(
            "jwt-client",
            jwks=dict(KeySet([RP_KEY]).as_dict(private=False)),
            redirect_uris=[REDIRECT],
        ),
        SandboxClient("loopback", client_secret="loop-secret", allow_any_loopback_redirect=True),
        SandboxClient(
            "backoffice",
            client_secret="staff-secret",
            redirect_uris=["http://backoffice.test/aanmelden/terug"],
            identities="staff",
        ),
    ]


@pytest.fixture(scope="module")
def app() -> Litestar:
    return Litestar(route_handlers=[create_oidc_sandbox_router(ISSUER, _clients())])


@pytest.fixture
def op(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url=BASE) as client:
        yield client


def _rp(
    op: TestClient[Litestar],
    client_id: str = "portal",
    *,
    secret: str | None = SECRET,
    scope: str = "openid profile rrn",
    redirect_uri: str = REDIRECT,
) -> OAuth2Client:
    """authlib's relying party, talking to the sandbox through the TestClient."""
    transport = LitestarTransport(op)
    if client_id == "jwt-client":
        rp = OAuth2Client(
            client_id=client_id,
            client_secret=RP_KEY,
            token_endpoint_auth_method="private_key_jwt",
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            transport=transport,
        )
        rp.register_client_auth_method(PrivateKeyJWT(TOKEN_ENDPOINT))
        return rp
    return OAuth2Client(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic",
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        transport=transport,
    )


class Flow:
    """One login: the authorization request's secrets and what came back."""

    def __init__(self, rp: OAuth2Client, **extra: str) -> None:
        self.rp = rp
        self.verifier = generate_token(64)
        self.nonce = generate_token(24)
        self.url, self.state = rp.create_authorization_url(
            f"{ISSUER}/authorize", code_verifier=self.verifier, nonce=self.nonce, **extra
        )

    def login(
        self, op: TestClient[Litestar], identity: str = "citizen:an-janssens", method: str = "eid"
    ) -> dict[str, str]:
        page = op.get(self.url)
        assert page.status_code == 200, page.text
        answer = op.post(
            "/oidc/authorize/login",
            data={"request": _request_id(page.text), "identity": identity, "method": method},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return _callback(answer.headers["location"])

    def token(self, code: str, **overrides: Any) -> dict[str, Any]:
        params = {"code": code, "code_verifier": self.verifier, **overrides}
        token: dict[str, Any] = self.rp.fetch_token(TOKEN_ENDPOINT, **params)
        return token


def _request_id(html: str) -> str:
    found = re.search(r'name="request" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _callback(location: str, expected: str = REDIRECT) -> dict[str, str]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == expected
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def _validate(op: TestClient[Litestar], id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(op.get("/oidc/jwks").json())
    decoded = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] == keys.keys[0].kid
    return dict(decoded.claims)


def _authorize_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile rrn",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": create_s256_code_challenge("v" * 43),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def _token_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"


# -- discovery and keys -------------------------------------------------------------------


def test_discovery_document(op: TestClient[Litestar]) -> None:
    meta = op.get("/oidc/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["token_endpoint"] == TOKEN_ENDPOINT
    assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "private_key_jwt",
    ]
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256", "PS256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "profile", "rrn", "roles"} <= set(meta["scopes_supported"])
    assert {"sub", "acr", "amr", "rrn", "roles", "nonce"} <= set(meta["claims_supported"])
    assert set(meta["acr_values_supported"]) == {
        ACR_EID,
        ACR_ITSME,
        ACR_TOTP,
        ACR_SMS,
        ACR_PASSWORD,
    }
    assert meta["subject_types_supported"] == ["public"]
    assert meta["authorization_response_iss_parameter_supported"] is True

    jwks = op.get("/oidc/jwks").json()
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["kid"]
    assert "d" not in key, "only the public key is published"


def test_a_given_signing_key_is_used() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "fixed"})
    app = Litestar([create_oidc_sandbox_router(ISSUER, _clients(), signing_key=key)])
    with TestClient(app, base_url=BASE) as op:
        assert op.get("/oidc/jwks").json()["keys"][0]["kid"] == "fixed"


# -- the code flow ------------------------------------------------------------------------


def test_code_flow_with_pkce_and_client_secret_basic(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op), acr_values=f"{ACR_EID} {ACR_ITSME}")
    assert "code_challenge_method=S256" in flow.url
    before = int(time.time())
    callback = flow.login(op, method="itsme")
    assert callback["state"] == flow.state
    assert callback["iss"] == ISSUER  # RFC 9207

    token = flow.token(callback["code"])
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    claims = _validate(op, token["id_token"])
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "portal"
    assert claims["nonce"] == flow.nonce
    assert claims["acr"] == ACR_ITSME
    assert "mfa" in claims["amr"]
    assert claims["rrn"] == AN.rrn
    assert claims["sub"] == AN.subject
    assert AN.rrn not in claims["sub"], "the subject is pseudonymous"
    assert claims["name"] == "An Janssens"
    assert claims["given_name"] == "An"
    assert claims["family_name"] == "Janssens"
    assert before - 1 <= claims["iat"] <= claims["auth_time"] + 1
    assert claims["exp"] > claims["iat"]
    assert "roles" not in claims
    assert "email" not in claims


def test_code_flow_with_private_key_jwt(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op, "jwt-client"))
    callback = flow.login(op, identity="citizen:fatima-el-amrani", method="sms")
    token = flow.token(callback["code"])
    claims = _validate(op, token["id_token"])
    assert claims["aud"] == "jwt-client"
    assert claims["acr"] == ACR_SMS
    assert claims["rrn"] == citizen("fatima-el-amrani").rrn


def test_staff_get_roles_and_email(op: TestClient[Litestar]) -> None:
    rp = _rp(
        op,
        "backoffice",
        secret="staff-secret",
        scope="openid profile email roles",
        redirect_uri="http://backoffice.test/aanmelden/terug",
    )
    flow = Flow(rp)
    page = op.get(flow.url).text
    assert "Aanmelden als Ahmed Benali" in page
    assert "An Janssens" not in page, "a staff IdP lists no citizens"
    answer = op.post(
        "/oidc/authorize/login",
        data={"request": _request_id(page), "identity": "staff:beheerder"},
        follow_redirects=False,
    )
    callback = _callback(answer.headers["location"], "http://backoffice.test/aanmelden/terug")
    claims = _validate(op, flow.token(callback["code"])["id_token"])
    assert claims["sub"] == "beheerder"
    assert claims["name"] == "Ahmed Benali"
    assert claims["email"] == "beheerder@zegelbeek.example"
    assert claims["roles"] == ["beheerder", "secretariaat"]
    assert claims["acr"] == ACR_TOTP
    assert "rrn" not in claims


def test_a_staff_client_cannot_log_in_a_citizen(op: TestClient[Litestar]) -> None:
    response = op.get(f"{ISSUER}/authorize", params=_authorize_params(client_id="backoffice"))
    assert response.status_code == 400, "its redirect_uri differs"
    good = "http://backoffice.test/aanmelden/terug"
    page = op.get(
        f"{ISSUER}/authorize", params=_authorize_params(client_id="backoffice", redirect_uri=good)
    )
    answer = op.post(
        "/oidc/authorize/login",
        data={
            "request": _request_id(page.text),
            "identity": "citizen:an-janssens",
            "method": "eid",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_the_identity_without_rrn_gets_no_rrn_claim(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    callback = flow.login(op, identity=f"citizen:{CITIZEN_WITHOUT_RRN.key}", method="totp")
    token = flow.token(callback["code"])
    claims = _validate(op, token["id_token"])
    assert "rrn" not in claims
    assert claims["sub"] == CITIZEN_WITHOUT_RRN.subject
    info = op.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert "rrn" not in info.json()


def test_the_identity_with_an_invalid_rrn_gets_it_as_it_is(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    callback = flow.login(op, identity="citizen:ongeldig-rrn", method="eid")
    claims = _validate(op, flow.token(callback["code"])["id_token"])
    assert claims["rrn"] == citizen("ongeldig-rrn").rrn


def test_rrn_only_with_the_rrn_scope(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op, scope="openid profile"))
    callback = flow.login(op)
    claims = _validate(op, flow.token(callback["code"])["id_token"])
    assert "rrn" not in claims
    assert claims["name"] == "An Janssens"


def test_userinfo(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    token = flow.token(flow.login(op)["code"])
    response = op.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.status_code == 200
    info = response.json()
    assert info == {
        "sub": AN.subject,
        "name": "An Janssens",
        "given_name": "An",
        "family_name": "Janssens",
        "rrn": AN.rrn,
    }
    refused = op.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert op.get("/oidc/userinfo").status_code == 401


# -- refusals at the token endpoint -------------------------------------------------------


def test_a_wrong_code_verifier_fails(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    code = flow.login(op)["code"]
    response = op.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": generate_token(64),
        },
        auth=("portal", SECRET),
    )
    _token_error(response, 400, "invalid_grant")
    # The code was spent by that attempt: the right verifier cannot use it any more.
    retry = op.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": flow.verifier,
        },
        auth=("portal", SECRET),
    )
    _token_error(retry, 400, "invalid_grant")


def test_a_replayed_code_fails_and_revokes_its_tokens(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    code = flow.login(op)["code"]
    token = flow.token(code)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert op.get("/oidc/userinfo", headers=bearer).status_code == 200
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier,
    }
    _token_error(op.post("/oidc/token", data=data, auth=("portal", SECRET)), 400, "invalid_grant")
    assert op.get("/oidc/userinfo", headers=bearer).status_code == 401, "revoked (RFC 6749)"


def test_an_expired_code_fails(op: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch) -> None:
    flow = Flow(_rp(op))
    code = flow.login(op)["code"]
    later = time.time() + sandbox.CODE_TTL_SECONDS + 1
    monkeypatch.setattr(sandbox, "_now", lambda: later)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier,
    }
    _token_error(op.post("/oidc/token", data=data, auth=("portal", SECRET)), 400, "invalid_grant")


def test_a_code_only_works_for_its_client_and_redirect_uri(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    code = flow.login(op)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier,
    }
    other = op.post("/oidc/token", data=data, auth=("loopback", "loop-secret"))
    _token_error(other, 400, "invalid_grant")

    flow = Flow(_rp(op))
    code = flow.login(op)["code"]
    data = {**data, "code": code, "code_verifier": flow.verifier}
    data["redirect_uri"] = "http://portal.test/elders"
    _token_error(op.post("/oidc/token", data=data, auth=("portal", SECRET)), 400, "invalid_grant")


def test_a_wrong_client_secret_fails(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op, secret="not-the-secret"))
    code = flow.login(op)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": flow.verifier,
    }
    response = op.post("/oidc/token", data=data, auth=("portal", "not-the-secret"))
    _token_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
    _token_error(op.post("/oidc/token", data=data), 401, "invalid_client")
    posted = op.post("/oidc/token", data={**data, "client_id": "portal", "client_secret": SECRET})
    _token_error(posted, 401, "invalid_client")
    # authlib sees the refusal too.
    with pytest.raises(Exception, match="invalid_client"):
        flow.token(code)
    # The code was not spent by the failed client authentications.
    assert op.post("/oidc/token", data=data, auth=("portal", SECRET)).status_code == 200


def test_other_grant_types_are_refused(op: TestClient[Litestar]) -> None:
    response = op.post(
        "/oidc/token", data={"grant_type": "client_credentials"}, auth=("portal", SECRET)
    )
    _token_error(response, 400, "unsupported_grant_type")
    response = op.post("/oidc/token", json={"grant_type": "x"}, auth=("portal", SECRET))
    _token_error(response, 400, "invalid_request")


def _assertion(key: RSAKey, *, client_id: str = "jwt-client", **claims: Any) -> str:
    return str(
        private_key_jwt_sign(
            key,
            client_id=client_id,
            token_endpoint=claims.pop("aud", TOKEN_ENDPOINT),
            claims=claims or None,
            header={"kid": key.kid},
        )
    )


def _assertion_request(op: TestClient[Litestar], assertion: str) -> httpx.Response:
    flow = Flow(_rp(op, "jwt-client"))
    code = flow.login(op)["code"]
    return op.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": flow.verifier,
            "client_id": "jwt-client",
            "client_assertion_type": sandbox.ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def test_a_forged_client_assertion_fails(op: TestClient[Litestar]) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "rp-1"})  # same kid, other key
    _token_error(_assertion_request(op, _assertion(forger)), 401, "invalid_client")
    with pytest.raises(BadSignatureError):
        jwt.decode(_assertion(forger), RP_KEY)


def test_client_assertions_are_checked(op: TestClient[Litestar]) -> None:
    good = _assertion(RP_KEY)
    assert _assertion_request(op, good).status_code == 200
    _token_error(_assertion_request(op, good), 401, "invalid_client")  # jti reused

    wrong_audience = _assertion(RP_KEY, aud="https://elders.example/token")
    _token_error(_assertion_request(op, wrong_audience), 401, "invalid_client")

    expired = _assertion(RP_KEY, exp=int(time.time()) - 5)
    _token_error(_assertion_request(op, expired), 401, "invalid_client")

    other_issuer = jwt.encode(
        {"alg": "RS256", "kid": "rp-1"},
        {
            "iss": "portal",
            "sub": "jwt-client",
            "aud": TOKEN_ENDPOINT,
            "exp": int(time.time()) + 60,
            "jti": generate_token(20),
        },
        RP_KEY,
    )
    _token_error(_assertion_request(op, other_issuer), 401, "invalid_client")

    issuer_as_audience = _assertion(RP_KEY, aud=ISSUER)
    assert _assertion_request(op, issuer_as_audience).status_code == 200

    _token_error(_assertion_request(op, "not.a.jwt"), 401, "invalid_client")


# -- refusals at the authorization endpoint -----------------------------------------------


def test_an_unregistered_redirect_uri_is_never_followed(op: TestClient[Litestar]) -> None:
    for params in (
        _authorize_params(redirect_uri="https://attacker.example/cb"),
        _authorize_params(redirect_uri=None),
        _authorize_params(client_id="unknown"),
        _authorize_params(redirect_uri="http://127.0.0.1:9999/cb"),  # portal: no loopback
    ):
        response = op.get("/oidc/authorize", params=params, follow_redirects=False)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "Ongeldige aanmeldingsaanvraag" in response.text


def test_any_loopback_redirect_when_allowed(op: TestClient[Litestar]) -> None:
    for uri in ("http://127.0.0.1:53124/aanmelden/terug", "http://localhost:8/x"):
        params = _authorize_params(client_id="loopback", redirect_uri=uri)
        assert op.get("/oidc/authorize", params=params).status_code == 200
    for uri in ("https://127.0.0.1:53124/x", "http://example.org/x", "http://127.0.0.1/x#f"):
        params = _authorize_params(client_id="loopback", redirect_uri=uri)
        assert op.get("/oidc/authorize", params=params).status_code == 400


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_bad_requests_go_back_with_an_error_and_the_state(
    op: TestClient[Litestar], overrides: dict[str, str | None], error: str
) -> None:
    response = op.get(
        "/oidc/authorize", params=_authorize_params(**overrides), follow_redirects=False
    )
    assert response.status_code == 303
    back = _callback(response.headers["location"])
    assert back["error"] == error
    assert back["state"] == "st-1"
    assert back["iss"] == ISSUER
    assert "code" not in back


def test_authlib_without_pkce_is_refused(op: TestClient[Litestar]) -> None:
    rp = OAuth2Client(client_id="portal", redirect_uri=REDIRECT, scope="openid")
    url, state = rp.create_authorization_url(f"{ISSUER}/authorize", nonce="n")
    response = op.get(url, follow_redirects=False)
    back = _callback(response.headers["location"])
    assert back["error"] == "invalid_request"
    assert "code_challenge" in back["error_description"]
    assert back["state"] == state


def test_cancelling_returns_access_denied(op: TestClient[Litestar]) -> None:
    page = op.get("/oidc/authorize", params=_authorize_params())
    answer = op.post(
        "/oidc/authorize/login",
        data={"request": _request_id(page.text), "annuleren": "1"},
        follow_redirects=False,
    )
    back = _callback(answer.headers["location"])
    assert back["error"] == "access_denied"
    assert back["state"] == "st-1"
    again = op.post(
        "/oidc/authorize/login",
        data={"request": _request_id(page.text), "identity": "citizen:an-janssens"},
    )
    assert again.status_code == 400, "a login page answers once"


# -- the login page -----------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.labels: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []
        self.headings: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag in ("script", "style") or "style" in values:
            self.problems.append(tag)
        if any(name.startswith("on") for name in values):
            self.problems.append(f"event handler on <{tag}>")
        if tag == "label" and values.get("for"):
            self.labels.add(str(values["for"]))
        if tag == "input" and values.get("type") == "radio":
            self.inputs.append(values)
        if tag in ("h1", "h2", "h3"):
            self.headings.append(tag)


def test_the_login_page_is_dutch_accessible_and_csp_safe(op: TestClient[Litestar]) -> None:
    response = op.get(
        "/oidc/authorize", params=_authorize_params(acr_values=f"{ACR_EID} {ACR_ITSME} {ACR_TOTP}")
    )
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = _Page()
    page.feed(response.text)
    assert page.lang == "nl"
    assert page.problems == []
    assert page.headings[0] == "h1"
    assert "<h1>Aanmelden bij de testomgeving</h1>" in response.text
    assert {str(i["id"]) for i in page.inputs} <= page.labels, "every radio has a label"
    assert "Gevraagd aanmeldingsniveau: <strong>substantieel of hoger</strong>" in response.text
    for name in ("An Janssens", "Burger zonder rijksregisternummer", "Sofie Claes"):
        assert f"Aanmelden als {name}" in response.text
    for label in ("eID", "itsme", "mobiele app", "sms", "wachtwoord"):
        assert label in response.text
    assert 'value="eid" checked' in response.text


def test_login_hint_puts_the_identity_first(op: TestClient[Litestar]) -> None:
    response = op.get("/oidc/authorize", params=_authorize_params(login_hint="pieter-de-smet"))
    text = response.text
    assert "Voorgestelde identiteit" in text
    assert text.index("Aanmelden als Pieter De Smet") < text.index("Aanmelden als An Janssens")
    assert text.count("Aanmelden als Pieter De Smet") == 1


def test_sso_session_prompt_none_and_logout(op: TestClient[Litestar]) -> None:
    flow = Flow(_rp(op))
    callback = flow.login(op, identity="citizen:luc-maes", method="wachtwoord")
    first = _validate(op, flow.token(callback["code"])["id_token"])
    assert first["acr"] == ACR_PASSWORD

    # The sandbox remembers the login: prompt=none gives a code without a page.
    silent = Flow(_rp(op), prompt="none")
    response = op.get(silent.url, follow_redirects=False)
    assert response.status_code == 303
    again = _validate(op, silent.token(_callback(response.headers["location"])["code"])["id_token"])
    assert again["sub"] == first["sub"]
    assert again["auth_time"] == first["auth_time"]
    assert again["nonce"] == silent.nonce
    # The login page offers to continue.
    assert "Doorgaan als Luc Maes" in op.get(Flow(_rp(op)).url).text

    logout = op.get(
        "/oidc/logout",
        params={
            "id_token_hint": _id_token_of(op, "citizen:luc-maes"),
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "weg-1",
        },
        follow_redirects=False,
    )
    assert logout.status_code == 303
    assert _callback(logout.headers["location"], LOGGED_OUT) == {"state": "weg-1"}

    # The sandbox's own session is gone.
    after = op.get(Flow(_rp(op), prompt="none").url, follow_redirects=False)
    assert _callback(after.headers["location"])["error"] == "login_required"


def _id_token_of(op: TestClient[Litestar], identity: str) -> str:
    flow = Flow(_rp(op))
    return str(flow.token(flow.login(op, identity=identity)["code"])["id_token"])


def test_logout_without_a_valid_redirect_shows_a_page(op: TestClient[Litestar]) -> None:
    hint = _id_token_of(op, "citizen:an-janssens")
    for params in (
        {},
        {"id_token_hint": hint, "post_logout_redirect_uri": "https://attacker.example/"},
        {"post_logout_redirect_uri": LOGGED_OUT, "state": "s"},  # which client? unknown
        {"id_token_hint": "forged", "post_logout_redirect_uri": LOGGED_OUT},
        {"id_token_hint": hint, "client_id": "loopback", "post_logout_redirect_uri": LOGGED_OUT},
    ):
        response = op.get("/oidc/logout", params=params, follow_redirects=False)
        assert response.status_code == 200, params
        assert "U bent afgemeld" in response.text
    by_client_id = op.get(
        "/oidc/logout",
        params={"client_id": "portal", "post_logout_redirect_uri": LOGGED_OUT, "state": "s"},
        follow_redirects=False,
    )
    assert by_client_id.status_code == 303


# -- production and the sandbox app -------------------------------------------------------


def test_the_router_refuses_to_exist_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production = load_settings(
        env="production",
        secret_key="s" * 40,
        audit_key="a" * 40,
        protection_key="p" * 40,
        sandboxes_enabled=False,
        citizen_oidc_client_secret="c" * 40,
        staff_oidc_client_secret="d" * 40,
        magda_base_url="https://magda.example.be/gateway",
        magda_client_id="gemeente-testdorp",
        magda_private_key_path="/etc/zegel/magda-client.pem",
    )
    monkeypatch.setattr(sandbox, "get_settings", lambda: production)
    with pytest.raises(ConfigError, match="production"):
        create_oidc_sandbox_router(ISSUER, _clients())


def test_the_sandbox_app_mounts_the_provider_for_both_apps() -> None:
    from shared.config import get_settings

    settings = get_settings()
    app = create_sandbox_app(None, base_url="http://127.0.0.1:8002")
    with TestClient(app, base_url="http://127.0.0.1:8002") as client:
        assert 'href="/oidc">Testaanmelding (OpenID Provider)' in client.get("/").text
        overview = client.get("/oidc")
        assert overview.status_code == 200
        assert AN.subject in overview.text
        meta = client.get("/oidc/.well-known/openid-configuration").json()
        assert meta["issuer"] == "http://127.0.0.1:8002/oidc" == settings.citizen_oidc_issuer

        portal = settings.portal_base_url + "/aanmelden/terug"
        secret = settings.citizen_oidc_client_secret.get_secret_value() or "sandbox-secret"
        for redirect_uri in (portal, "http://127.0.0.1:45678/aanmelden/terug"):
            rp = OAuth2Client(
                client_id=settings.citizen_oidc_client_id,
                client_secret=secret,
                scope=settings.citizen_oidc_scopes,
                redirect_uri=redirect_uri,
                code_challenge_method="S256",
                transport=LitestarTransport(client),
            )
            verifier = generate_token(64)
            url, _ = rp.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, nonce="n"
            )
            page = client.get(url)
            assert "Sofie Claes" not in page.text, "the portal's provider lists citizens"
            answer = client.post(
                "/oidc/authorize/login",
                data={
                    "request": _request_id(page.text),
                    "identity": "citizen:an-janssens",
                    "method": "eid",
                },
                follow_redirects=False,
            )
            code = _callback(answer.headers["location"], redirect_uri)["code"]
            token = rp.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
            assert token["id_token"]

        staff_page = client.get(
            "/oidc/authorize",
            params=_authorize_params(
                client_id=settings.staff_oidc_client_id,
                redirect_uri=settings.backoffice_base_url + "/aanmelden/terug",
            ),
        )
        assert "Aanmelden als Sofie Claes" in staff_page.text
        assert "An Janssens" not in staff_page.text


# -- Zegel's own relying party against the sandbox, over real HTTP ------------------------


@pytest.fixture(scope="module")
def live_op() -> Iterator[str]:
    sock = bind_loopback()
    base = url_of(sock)
    clients = [
        SandboxClient("portal", client_secret=SECRET, allow_any_loopback_redirect=True),
        SandboxClient(
            "jwt-client",
            jwks=dict(KeySet([RP_KEY]).as_dict(private=False)),
            allow_any_loopback_redirect=True,
        ),
    ]
    app = Litestar([create_oidc_sandbox_router(f"{base}/oidc", clients)])
    with serving(app, sock):
        yield f"{base}/oidc"


@pytest.mark.parametrize("client_id", ["portal", "jwt-client"])
def test_zegels_relying_party_logs_in_at_the_sandbox(live_op: str, client_id: str) -> None:
    from shared.integrations.oidc.client import OidcClient, ProviderConfig

    config = ProviderConfig(
        issuer=live_op,
        client_id=client_id,
        scopes="openid profile rrn",
        client_secret=SECRET if client_id == "portal" else None,
        private_key=RP_KEY.as_dict(private=True) if client_id == "jwt-client" else None,
    )
    rp = OidcClient(config)
    redirect_uri = "http://127.0.0.1:8001/aanmelden/terug"
    start = rp.begin(redirect_uri, acr_values=[ACR_EID, ACR_ITSME])
    with httpx.Client() as browser:
        page = browser.get(start.url)
        assert "Gevraagd aanmeldingsniveau: <strong>hoog</strong>" in page.text
        answer = browser.post(
            f"{live_op}/authorize/login",
            data={
                "request": _request_id(page.text),
                "identity": "citizen:an-janssens",
                "method": "eid",
            },
        )
    assert answer.status_code == 303
    back = _callback(answer.headers["location"], redirect_uri)
    assert back["state"] == start.state
    verified = rp.finish(
        code=back["code"],
        redirect_uri=redirect_uri,
        nonce=start.nonce,
        code_verifier=start.code_verifier,
        returned_issuer=back["iss"],
    )
    assert verified.issuer == live_op
    assert verified.acr == ACR_EID
    assert verified.claims["rrn"] == AN.rrn
    logout = rp.logout_url(
        id_token_hint=verified.id_token,
        post_logout_redirect_uri="http://127.0.0.1:8001/afgemeld",
        state="s-1",
    )
    assert logout is not None
    with httpx.Client() as browser:
        gone = browser.get(logout)
    assert gone.status_code == 303
    assert gone.headers["location"] == "http://127.0.0.1:8001/afgemeld?state=s-1"
