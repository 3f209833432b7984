"""A certified OpenID Provider (the npm package `oidc-provider`) for integration tests.

`make test` installs it (`npm ci --prefix tests/oidc_provider`, see the Makefile target
`oidc-provider`); the tests start it on loopback with a small configuration:

    pytest_plugins = ["tests.certified_op"]      # at the top of a test module: the fixture

    def test_login(certified_op_factory: StartOp) -> None:
        keys, jwks = make_client_keys()
        op = certified_op_factory(
            clients=[{"client_id": "portal", "token_endpoint_auth_method": "private_key_jwt",
                      "jwks": jwks, "redirect_uris": ["http://127.0.0.1:8001/login/callback"]}],
            accounts={"jan": {"name": "Jan Peeters", "rrn": "85073003328", "roles": [],
                              "acr": ACR_EID}},
            ttl={"IdToken": 2},
        )
        # authorization_url: where the RP under test sends the browser
        back = follow_login(authorization_url, redirect_uri_prefix="http://127.0.0.1:8001/",
                            account="jan")   # -> ".../login/callback?code=...&state=...&iss=..."

`certified_op_factory` is a function-scoped fixture that returns `start_certified_op` and stops
every OP it started at teardown. For an OP shared by a module, call `start_certified_op` in a
module-scoped fixture and `stop()` it afterwards. (Importing the fixture by name into a test
module also works, but ruff then reports F811 at each use: `pytest_plugins` is simpler.)

Configuration (see tests/oidc_provider/README.md for all of it):
- a client is oidc-provider client metadata: `client_id`, `redirect_uris`, optional
  `post_logout_redirect_uris`, and either `client_secret` (`client_secret_basic`, the default)
  or `token_endpoint_auth_method: "private_key_jwt"` with a public `jwks`; ID tokens are RS256.
- an account is keyed by its accountId (which is also its `sub`); every key is a claim
  (`name`, `given_name`, `family_name`, `email`, `rrn`, `roles`, ...) except `acr`, the method
  the account logs in with (default eID), and `amr` (default: derived from `acr`). Leave `rrn`
  out for an account without one.
- `ttl`: seconds for `IdToken`, `AccessToken` and `AuthorizationCode`.
The OP logs in the account named by `login_hint` (the first account when there is none; an
unknown one gets `access_denied`; `follow_login(..., account=...)` sets it), and grants every
requested scope and claim. `follow_logout` confirms the OP's logout form.

(PYTEST_DONT_REWRITE: this module has no assertions; the marker keeps pytest from warning
that a plugin module was imported before it could be rewritten.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx
import pytest
from joserfc.jwk import KeyParameters, RSAKey

from shared.integrations.oidc.levels import ACR_EID, ACR_ITSME, ACR_PASSWORD, ACR_SMS, ACR_TOTP

OP_DIR = Path(__file__).resolve().parent / "oidc_provider"
SERVER = OP_DIR / "server.mjs"
START_TIMEOUT_SECONDS = 20.0

__all__ = [
    "ACR_EID",
    "ACR_ITSME",
    "ACR_PASSWORD",
    "ACR_SMS",
    "ACR_TOTP",
    "CertifiedOp",
    "CertifiedOpError",
    "StartOp",
    "certified_op_factory",
    "follow_login",
    "follow_logout",
    "make_client_keys",
    "start_certified_op",
]

_INSTALL_HINT = (
    "run `make test` (or `npm ci --prefix tests/oidc_provider`) to install the certified "
    "OpenID Provider"
)


class CertifiedOpError(RuntimeError):
    """The certified OP could not be started or did not answer as a browser expects."""


@dataclass
class CertifiedOp:
    """One running oidc-provider; `issuer` is its base URL (http://127.0.0.1:PORT)."""

    issuer: str
    process: subprocess.Popen[str]
    config_path: Path
    _output: list[str] = field(default_factory=list, repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        """The OP's discovery document."""
        response = httpx.get(self.discovery_url, timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def output(self) -> str:
        """What the OP wrote on stdout and stderr so far (warnings, server errors)."""
        return "".join(self._output)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.config_path.unlink(missing_ok=True)


class StartOp(Protocol):
    """The signature of `start_certified_op` (and of the `certified_op_factory` fixture)."""

    def __call__(
        self,
        clients: list[dict[str, Any]],
        accounts: dict[str, dict[str, Any]],
        ttl: dict[str, int] | None = None,
    ) -> CertifiedOp: ...


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise CertifiedOpError(
            f"Node.js (`node`, version 20 or later) is not on PATH; {_INSTALL_HINT}"
        )
    if not (OP_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise CertifiedOpError(f"{OP_DIR / 'node_modules'} has no oidc-provider; {_INSTALL_HINT}")
    return node


def _pump(stream: Any, sink: list[str], ready: threading.Event, issuer: list[str]) -> None:
    for line in stream:
        sink.append(line)
        if not ready.is_set() and line.startswith("READY "):
            issuer.append(line.split(" ", 1)[1].strip())
            ready.set()
    ready.set()  # end of output: the process is gone


def start_certified_op(
    clients: list[dict[str, Any]],
    accounts: dict[str, dict[str, Any]],
    ttl: dict[str, int] | None = None,
) -> CertifiedOp:
    """Start oidc-provider on a free loopback port and wait until it serves requests.

    The node process picks the port itself (it listens on port 0 and builds the issuer from
    the port it got), so two OPs never race for one port. Call `stop()` when done (the
    fixture does); the process also ends when this Python process does.
    """
    node = _node()
    config = {"clients": clients, "accounts": accounts, "ttl": ttl or {}}
    handle, name = tempfile.mkstemp(prefix="zegel-op-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(config, file)
    config_path = Path(name)
    process = subprocess.Popen(
        [node, str(SERVER), str(config_path)],
        cwd=OP_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ZEGEL_TEST_OP_EXIT_WITH_STDIN": "1"},
    )
    output: list[str] = []
    ready = threading.Event()
    issuer: list[str] = []
    threading.Thread(
        target=_pump, args=(process.stdout, output, ready, issuer), daemon=True
    ).start()
    op = CertifiedOp(issuer="", process=process, config_path=config_path, _output=output)
    if not ready.wait(START_TIMEOUT_SECONDS) or not issuer:
        try:
            code = process.wait(timeout=2)
            what = f"exited with code {code} before it was ready"
        except subprocess.TimeoutExpired:
            what = f"did not start within {START_TIMEOUT_SECONDS:.0f} s"
        op.stop()
        raise CertifiedOpError(f"the certified OP ({SERVER}) {what}; its output:\n{op.output()}")
    op.issuer = issuer[0]
    return op


@pytest.fixture
def certified_op_factory() -> Iterator[StartOp]:
    """`start_certified_op`, with every OP it started stopped at the end of the test."""
    started: list[CertifiedOp] = []

    def start(
        clients: list[dict[str, Any]],
        accounts: dict[str, dict[str, Any]],
        ttl: dict[str, int] | None = None,
    ) -> CertifiedOp:
        op = start_certified_op(clients, accounts, ttl)
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


# -- acting as the browser ------------------------------------------------------------------

_FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.DOTALL | re.IGNORECASE)
_INPUT = re.compile(r"<input[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"([\w-]+)=\"([^\"]*)\"")
_AUTO_SUBMIT = "document.forms[0].submit()"


def _attributes(tag: str) -> dict[str, str]:
    return {key.lower(): unescape(value) for key, value in _ATTR.findall(tag)}


def _form(page: httpx.Response) -> tuple[str, dict[str, str]] | None:
    """The first POST form of an OP page: its absolute action URL and its hidden fields."""
    match = _FORM.search(page.text)
    if match is None or _attributes(match.group(1)).get("method", "get").lower() != "post":
        return None
    action = urljoin(str(page.request.url), _attributes(match.group(1)).get("action", ""))
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(match.group(2)):
        attrs = _attributes(tag)
        if "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return action, fields


def _follow(
    response: httpx.Response, client: httpx.Client, redirect_uri_prefix: str, max_hops: int
) -> str:
    """Follow redirects, and forms a browser submits by itself (the OP ends its session that
    way before another account logs in), until a redirect to the relying party."""
    for _ in range(max_hops):
        if response.is_redirect:
            location = urljoin(str(response.request.url), response.headers["location"])
            if location.startswith(redirect_uri_prefix):
                return location
            response = client.get(location)
            continue
        form = _form(response) if _AUTO_SUBMIT in response.text else None
        if response.status_code != 200 or form is None:
            raise CertifiedOpError(
                f"the OP answered {response.status_code} at {response.request.url} instead of "
                f"redirecting: {response.text[:2000]}"
            )
        response = client.post(form[0], data=form[1])
    raise CertifiedOpError(f"more than {max_hops} steps at the OP without reaching the RP")


def follow_login(
    authorization_url: str,
    *,
    client: httpx.Client | None = None,
    redirect_uri_prefix: str,
    account: str | None = None,
    max_hops: int = 12,
) -> str:
    """Act as the browser at the OP: follow its redirects from the authorization request
    (authorization → interaction: login → authorization → interaction: consent →
    authorization → redirect_uri) and return the final redirect URL, which starts with
    `redirect_uri_prefix`, without requesting it. Error responses to the relying party
    (`?error=...`) are returned the same way; an OP page that is not a redirect raises
    `CertifiedOpError` with the page (the OP shows errors it cannot send to the RP as JSON).

    The OP logs in the account named by the request's `login_hint`; `account` sets (or
    replaces) that parameter, for a relying party that sends none.

    Pass `client` (an `httpx.Client`; it keeps cookies; leave `follow_redirects` off) to keep
    the OP's session across logins and for `follow_logout`; without one a fresh client is used.
    """
    url = httpx.URL(authorization_url)
    if account is not None:
        url = url.copy_set_param("login_hint", account)
    own = client is None
    http = client or httpx.Client(timeout=10)
    try:
        return _follow(http.get(url), http, redirect_uri_prefix, max_hops)
    finally:
        if own:
            http.close()


def follow_logout(
    end_session_url: str,
    *,
    client: httpx.Client,
    redirect_uri_prefix: str,
    max_hops: int = 6,
) -> str:
    """Act as the browser at the OP's end_session endpoint: confirm the OP's "sign out?"
    form and return the redirect to the relying party's post_logout_redirect_uri (starting
    with `redirect_uri_prefix`) without requesting it. Use the client that logged in, so the
    OP's session cookie goes along.
    """
    page = client.get(end_session_url)
    if not page.is_redirect:
        form = _form(page)
        if page.status_code != 200 or form is None:
            raise CertifiedOpError(
                f"no logout form at {end_session_url} ({page.status_code}): {page.text[:2000]}"
            )
        action, fields = form
        page = client.post(action, data={**fields, "logout": "yes"})  # "Yes, sign me out"
    return _follow(page, client, redirect_uri_prefix, max_hops)


# -- client keys ---------------------------------------------------------------------------


def make_client_keys(kid: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh RS256 key pair for a private_key_jwt client: (private JWK, public JWKS).

    The public JWKS goes into the client's `jwks` in the OP configuration; the private JWK
    signs the client assertion (e.g. authlib's `PrivateKeyJWT`, or `RSAKey.import_key`).
    """
    parameters: KeyParameters = {"kid": kid or f"rp-{uuid.uuid4()}", "use": "sig", "alg": "RS256"}
    key = RSAKey.generate_key(2048, parameters=parameters, private=True)
    private = dict(key.as_dict(private=True))
    public = dict(key.as_dict(private=False))
    return private, {"keys": [public]}
