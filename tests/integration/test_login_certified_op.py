"""Zegel's login against an independent, certified OpenID Provider (npm `oidc-provider`).

The portal authenticates with private_key_jwt, the back office with client_secret_basic, both
with PKCE S256. Every refused login shows a Dutch page, opens no session, and writes a
security event (with a reason, never the national register number).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backoffice.app import create_app as create_backoffice
from portal.app import create_app as create_portal
from shared.integrations.oidc.client import OidcClient, ProviderConfig
from shared.models import LoginAttempt, StaffRole, StaffUser, WebSession
from shared.services import auth
from shared.web import ZegelApp
from tests import factories
from tests.certified_op import (
    ACR_EID,
    ACR_PASSWORD,
    ACR_TOTP,
    CertifiedOp,
    follow_login,
    make_client_keys,
    start_certified_op,
)

RP = "http://testserver.local"
CALLBACK = f"{RP}/aanmelden/terug"
ANN = "85073003328"
SECRET = "backoffice-test-secret-0123456789abcdef"
PORTAL_KEY, PORTAL_JWKS = make_client_keys()

CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "zegel-portal",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": PORTAL_JWKS,
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [f"{RP}/afgemeld"],
    },
    {
        "client_id": "other-app",
        "client_secret": "another-client-secret-0123456789abcdef",
        "redirect_uris": [CALLBACK],
    },
    {
        "client_id": "zegel-backoffice",
        "client_secret": SECRET,
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [f"{RP}/afgemeld"],
    },
]

ACCOUNTS: dict[str, dict[str, Any]] = {
    "ann": {"name": "Ann Janssens", "rrn": ANN, "acr": ACR_EID},
    "zonder-rrn": {"name": "Els Zonder", "acr": ACR_EID},
    "fout-rrn": {"name": "Piet Fout", "rrn": "85073003329", "acr": ACR_EID},
    "wachtwoord": {"name": "Wim Zwak", "rrn": ANN, "acr": ACR_PASSWORD},
    "sofie": {"name": "Sofie Claes", "email": "sofie@gemeente.test", "acr": ACR_TOTP},
}


@pytest.fixture(scope="module")
def op() -> Iterator[CertifiedOp]:
    provider = start_certified_op(CLIENTS, ACCOUNTS)
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def other_op() -> Iterator[CertifiedOp]:
    provider = start_certified_op(CLIENTS, ACCOUNTS)
    yield provider
    provider.stop()


Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class TokenTamperer(httpx.BaseTransport):
    """Between Zegel and the OP: rewrites the token endpoint's answer when told to."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.rewrite: Rewrite | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.rewrite is None or not request.url.path.endswith("/token"):
            return response
        response.read()
        body = self.rewrite(json.loads(response.content))
        return httpx.Response(
            response.status_code, json=body, headers={"cache-control": "no-store"}
        )


def _portal_rp(op: CertifiedOp, transport: httpx.BaseTransport | None = None, **kw: Any) -> None:
    config = ProviderConfig(
        issuer=op.issuer,
        client_id="zegel-portal",
        scopes="openid profile rrn",
        private_key=PORTAL_KEY,
        **kw,
    )
    auth.use_provider(auth.App.PORTAL, OidcClient(config, transport=transport))


@pytest.fixture
def portal(op: CertifiedOp) -> Iterator[TestClient[ZegelApp]]:
    _portal_rp(op)
    with TestClient(create_portal(), raise_server_exceptions=False) as client:
        yield client
    auth.use_provider(auth.App.PORTAL, None)


@pytest.fixture
def backoffice(op: CertifiedOp) -> Iterator[TestClient[ZegelApp]]:
    config = ProviderConfig(
        issuer=op.issuer,
        client_id="zegel-backoffice",
        scopes="openid profile email roles",
        client_secret=SECRET,
    )
    auth.use_provider(auth.App.BACKOFFICE, OidcClient(config))
    with TestClient(create_backoffice(), raise_server_exceptions=False) as client:
        yield client
    auth.use_provider(auth.App.BACKOFFICE, None)


def _start(client: TestClient[ZegelApp], path: str = "/aanmelden?terug=/mijn-documenten") -> str:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _callback_path(url: str) -> str:
    assert url.startswith(CALLBACK), url
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _sessions(session: Session) -> int:
    session.rollback()
    count = session.scalar(select(func.count()).select_from(WebSession)) or 0
    session.rollback()
    return count


def _security_events(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    _, err = capfd.readouterr()
    events = []
    for line in err.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") in ("login_failed", "login_succeeded"):
                events.append(event)
    assert ANN not in err, "the national register number reached the log"
    return events


def _refused(
    response: httpx.Response,
    session: Session,
    capfd: pytest.CaptureFixture[str],
    reason: str,
    *,
    sessions: int = 0,
) -> None:
    assert response.status_code == 400
    assert "Aanmelden is niet gelukt" in response.text
    assert _sessions(session) == sessions, "a refused login opened a session"
    events = _security_events(capfd)
    assert [e["reason"] for e in events if e["event"] == "login_failed"] == [reason]


# -- citizens ---------------------------------------------------------------------------


def test_a_citizen_logs_in_with_pkce_and_private_key_jwt(
    portal: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    authorization = _start(portal)
    query = parse_qs(urlsplit(authorization).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["scope"] == ["openid profile rrn"]
    assert ACR_EID in query["acr_values"][0]

    back = portal.get(
        _callback_path(follow_login(authorization, redirect_uri_prefix=CALLBACK, account="ann")),
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/mijn-documenten"
    cookie = next(c for c in back.headers.get_list("set-cookie") if "zegel_portal_session=" in c)
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie

    page = portal.get("/mijn-documenten")
    assert page.status_code == 200
    assert "Welkom, Ann Janssens" in page.text
    assert ANN not in page.text
    session.rollback()
    row = session.scalars(select(WebSession)).one()
    assert row.auth_level == 3
    assert row.citizen_ssin_digest is not None
    assert ANN not in (row.citizen_ssin_digest or "")
    session.rollback()
    assert [e["event"] for e in _security_events(capfd)] == ["login_succeeded"]


def test_the_session_id_is_new_at_every_login(
    portal: TestClient[ZegelApp], session: Session
) -> None:
    tokens = []
    for _ in range(2):
        authorization = _start(portal)
        portal.get(
            _callback_path(
                follow_login(authorization, redirect_uri_prefix=CALLBACK, account="ann")
            ),
            follow_redirects=False,
        )
        tokens.append(portal.cookies.get("zegel_portal_session"))
    assert tokens[0] != tokens[1]
    session.rollback()
    rows = session.scalars(select(WebSession).order_by(WebSession.created_at)).all()
    assert len(rows) == 2
    assert rows[0].ended_at is not None, "the previous session ends when a new one opens"
    session.rollback()


def test_a_replayed_state_is_refused(
    portal: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    callback = _callback_path(
        follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account="ann")
    )
    assert portal.get(callback, follow_redirects=False).status_code == 303
    assert _sessions(session) == 1
    _security_events(capfd)
    portal.cookies.clear()
    replay = portal.get(callback)
    _refused(replay, session, capfd, "state_replayed", sessions=1)
    assert "ongeldig of verlopen" in replay.text


def test_a_forged_state_is_refused(
    portal: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    callback = follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account="ann")
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "vervalst-" + query["state"][:10]
    forged = portal.get(f"{parts.path}?{urlencode(query)}")
    _refused(forged, session, capfd, "state_unknown")


def test_a_wrong_nonce_is_refused(
    portal: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    authorization = _start(portal)
    session.execute(update(LoginAttempt).values(nonce="een-andere-nonce"))
    session.commit()
    back = portal.get(
        _callback_path(follow_login(authorization, redirect_uri_prefix=CALLBACK, account="ann"))
    )
    _refused(back, session, capfd, "id_token_nonce_mismatch")


def test_a_wrongly_signed_id_token_is_refused(
    op: CertifiedOp, session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    tamperer = TokenTamperer()
    _portal_rp(op, transport=tamperer)

    def flip_signature(body: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = body["id_token"].split(".")
        flipped = "A" if signature[5] != "A" else "B"
        body["id_token"] = ".".join([header, payload, signature[:5] + flipped + signature[6:]])
        return body

    tamperer.rewrite = flip_signature
    with TestClient(create_portal(), raise_server_exceptions=False) as portal:
        back = portal.get(
            _callback_path(
                follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account="ann")
            )
        )
    auth.use_provider(auth.App.PORTAL, None)
    _refused(back, session, capfd, "id_token_bad_signature")


def test_an_id_token_for_another_audience_is_refused(
    op: CertifiedOp, session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    """The OP's real token for another client, slipped into Zegel's token response."""
    tamperer = TokenTamperer()
    _portal_rp(op, transport=tamperer)
    with TestClient(create_portal(), raise_server_exceptions=False) as portal:
        authorization = _start(portal)
        ours = parse_qs(urlsplit(authorization).query)
        # The same request (nonce, PKCE challenge) on behalf of the other client.
        theirs = {k: v[0] for k, v in ours.items()}
        theirs["client_id"] = "other-app"
        parts = urlsplit(authorization)
        other_url = urlunsplit(parts._replace(query=urlencode(theirs)))
        other_back = parse_qs(
            urlsplit(follow_login(other_url, redirect_uri_prefix=CALLBACK, account="ann")).query
        )
        session.rollback()
        verifier = session.scalars(select(LoginAttempt.code_verifier)).one()
        session.rollback()
        other_token = httpx.post(
            op.metadata()["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": other_back["code"][0],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            auth=("other-app", "another-client-secret-0123456789abcdef"),
        ).json()["id_token"]
        tamperer.rewrite = lambda body: {**body, "id_token": other_token}
        back = portal.get(
            _callback_path(follow_login(authorization, redirect_uri_prefix=CALLBACK, account="ann"))
        )
    auth.use_provider(auth.App.PORTAL, None)
    _refused(back, session, capfd, "id_token_wrong_audience")


def test_an_expired_id_token_is_refused(
    session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    short = start_certified_op(CLIENTS, ACCOUNTS, ttl={"IdToken": 1})
    try:
        tamperer = TokenTamperer()
        _portal_rp(short, transport=tamperer, clock_skew_seconds=0)

        def wait_until_expired(body: dict[str, Any]) -> dict[str, Any]:
            time.sleep(2.1)  # the ID token lives 1 s
            return body

        tamperer.rewrite = wait_until_expired
        with TestClient(create_portal(), raise_server_exceptions=False) as portal:
            back = portal.get(
                _callback_path(
                    follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account="ann")
                )
            )
    finally:
        auth.use_provider(auth.App.PORTAL, None)
        short.stop()
    _refused(back, session, capfd, "id_token_expired")
    assert "duurde te lang" in back.text


def test_a_code_from_another_issuer_is_refused(
    op: CertifiedOp,
    other_op: CertifiedOp,
    portal: TestClient[ZegelApp],
    session: Session,
    capfd: pytest.CaptureFixture[str],
) -> None:
    authorization = _start(portal)
    # Send the same request to another provider: its answer names itself as issuer (RFC 9207).
    elsewhere = authorization.replace(op.issuer, other_op.issuer)
    back = portal.get(
        _callback_path(follow_login(elsewhere, redirect_uri_prefix=CALLBACK, account="ann"))
    )
    _refused(back, session, capfd, "wrong_issuer")


def test_a_code_from_another_issuer_without_iss_is_refused_by_the_token_exchange(
    op: CertifiedOp,
    other_op: CertifiedOp,
    portal: TestClient[ZegelApp],
    session: Session,
    capfd: pytest.CaptureFixture[str],
) -> None:
    authorization = _start(portal)
    url = follow_login(
        authorization.replace(op.issuer, other_op.issuer),
        redirect_uri_prefix=CALLBACK,
        account="ann",
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if k != "iss"}
    back = portal.get(f"/aanmelden/terug?{urlencode(query)}")
    _refused(back, session, capfd, "token_request_refused")


@pytest.mark.parametrize(
    ("account", "reason", "text"),
    [
        ("zonder-rrn", "rrn_missing", "rijksregisternummer niet door"),
        (
            "fout-rrn",
            "rrn_invalid",
            "rijksregisternummer dat de aanmeldingsdienst doorgaf, is ongeldig",
        ),
        ("wachtwoord", "acr_too_low", "sterkere methode"),
    ],
)
def test_citizen_identity_problems_are_refused(
    portal: TestClient[ZegelApp],
    session: Session,
    capfd: pytest.CaptureFixture[str],
    account: str,
    reason: str,
    text: str,
) -> None:
    back = portal.get(
        _callback_path(follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account=account))
    )
    _refused(back, session, capfd, reason)
    assert text in back.text
    assert "85073003329" not in back.text


def test_a_cancelled_login_says_so(
    portal: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    authorization = _start(portal)
    state = parse_qs(urlsplit(authorization).query)["state"][0]
    back = portal.get(f"/aanmelden/terug?{urlencode({'error': 'access_denied', 'state': state})}")
    _refused(back, session, capfd, "provider_error:access_denied")
    assert "afgebroken" in back.text


def test_logout_ends_the_session_and_goes_through_the_provider(
    portal: TestClient[ZegelApp], op: CertifiedOp, session: Session
) -> None:
    portal.get(
        _callback_path(follow_login(_start(portal), redirect_uri_prefix=CALLBACK, account="ann"))
    )
    assert portal.get("/mijn-documenten", follow_redirects=False).status_code == 200
    token = portal.cookies.get("zegel_portal_session")
    page = portal.get("/mijn-documenten").text
    csrf = page.split('name="_csrf_token" value="')[1].split('"')[0]
    out = portal.post("/afmelden", data={"_csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"].startswith(op.metadata()["end_session_endpoint"])
    assert "id_token_hint=" in out.headers["location"]
    assert (
        "post_logout_redirect_uri=http%3A%2F%2Ftestserver.local%2Fafgemeld"
        in out.headers["location"]
    )
    # The old cookie opens nothing any more.
    portal.cookies.set("zegel_portal_session", token or "")
    assert portal.get("/mijn-documenten", follow_redirects=False).status_code == 303
    session.rollback()
    assert session.scalars(select(WebSession)).one().ended_at is not None
    session.rollback()


# -- staff ------------------------------------------------------------------------------


def _staff(session: Session, op: CertifiedOp, *, active: bool = True) -> StaffUser:
    org = factories.organisation(session)
    user = factories.add_staff_member(
        session,
        org,
        issuer=op.issuer,
        subject="sofie",
        name="Sofie Claes",
        email=None,
        roles=[StaffRole.SECRETARIAAT],
        actor=factories.SYSTEM,
    )
    user.active = active
    session.commit()
    return user


def test_staff_log_in_with_client_secret_basic(
    backoffice: TestClient[ZegelApp], op: CertifiedOp, session: Session
) -> None:
    _staff(session, op)
    back = backoffice.get(
        _callback_path(
            follow_login(
                _start(backoffice, "/aanmelden?terug=/stukken"),
                redirect_uri_prefix=CALLBACK,
                account="sofie",
            )
        ),
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/stukken"
    page = backoffice.get("/stukken")
    assert page.status_code == 200
    assert 'href="/stukken"' in page.text
    assert 'href="/beheer/medewerkers"' not in page.text
    session.rollback()
    assert session.scalars(select(StaffUser.email)).one() == "sofie@gemeente.test"
    session.rollback()


def test_a_deactivated_staff_account_is_refused(
    backoffice: TestClient[ZegelApp],
    op: CertifiedOp,
    session: Session,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _staff(session, op, active=False)
    back = backoffice.get(
        _callback_path(
            follow_login(
                _start(backoffice, "/aanmelden"), redirect_uri_prefix=CALLBACK, account="sofie"
            )
        )
    )
    assert back.status_code == 400
    assert "uitgeschakeld" in back.text
    assert _sessions(session) == 0
    events = _security_events(capfd)
    assert [e["reason"] for e in events if e["event"] == "login_failed"] == ["staff_deactivated"]


def test_an_unknown_staff_member_is_refused(
    backoffice: TestClient[ZegelApp], session: Session, capfd: pytest.CaptureFixture[str]
) -> None:
    back = backoffice.get(
        _callback_path(
            follow_login(
                _start(backoffice, "/aanmelden"), redirect_uri_prefix=CALLBACK, account="sofie"
            )
        )
    )
    assert back.status_code == 400
    assert "nog niet gekoppeld" in back.text
    assert _sessions(session) == 0
    events = _security_events(capfd)
    assert [e["reason"] for e in events if e["event"] == "login_failed"] == ["staff_unknown"]
