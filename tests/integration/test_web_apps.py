"""The web layer both apps share: health, errors, CSRF, security headers, metrics, request ids.

The database comes from tests/conftest.py (ZEGEL_ENV=test, a migrated database).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from litestar import get, post
from litestar.testing import TestClient
from sqlalchemy import select

from shared import db
from shared.config import get_settings
from shared.errors import IllegalTransition
from shared.jobs import enqueue
from shared.models.people import Organisation, OrganisationKind
from shared.web import ZegelApp, create_app
from shared.web.params import DbSession
from shared.web.security import content_security_policy, origin

APPS = ("portal", "backoffice")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def build(name: str) -> ZegelApp:
    module = importlib.import_module(f"{name}.app")
    app: ZegelApp = module.create_app()
    return app


@pytest.fixture(params=APPS)
def client(request: pytest.FixtureRequest) -> Iterator[TestClient[ZegelApp]]:
    with TestClient(build(request.param)) as test_client:
        yield test_client


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token field"
    return match.group(1)


# -- health -------------------------------------------------------------------------------------


def test_healthz_is_ok_when_the_database_answers(client: TestClient[ZegelApp]) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", APPS)
def test_healthz_is_503_when_the_database_is_unreachable(name: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZEGEL_DATABASE_URL", "postgresql://zegel@127.0.0.1:1/zegel")
        db.reset_caches()
        try:
            with TestClient(build(name)) as test_client:
                response = test_client.get("/healthz")
        finally:
            db.reset_caches()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


# -- pages and errors ---------------------------------------------------------------------------


def test_start_pages_are_dutch() -> None:
    with TestClient(build("portal")) as portal:
        page = portal.get("/")
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert "Uw documenten van de gemeente" in page.text
    assert "eBox" in page.text
    with TestClient(build("backoffice")) as backoffice:
        page = backoffice.get("/")
    assert page.status_code == 200
    assert "<title>Zegel — backoffice</title>" in page.text
    assert "Welkom bij Zegel" in page.text


def test_unknown_page_is_a_dutch_404(client: TestClient[ZegelApp]) -> None:
    response = client.get("/bestaat-niet", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Pagina niet gevonden" in response.text
    assert '<html lang="nl">' in response.text
    assert "Naar de startpagina" in response.text


def test_wrong_method_is_a_dutch_405(client: TestClient[ZegelApp]) -> None:
    token = csrf_token_of(client.get("/").text)
    response = client.put("/", headers={"x-csrftoken": token, "accept": "text/html"})
    assert response.status_code == 405
    assert "Deze actie is hier niet mogelijk" in response.text
    assert "GET" in response.headers["allow"]


def test_api_paths_answer_problem_json(client: TestClient[ZegelApp]) -> None:
    response = client.get("/api/bestaat-niet", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Pagina niet gevonden"
    assert body["request_id"] == response.headers["x-request-id"]


def test_clients_that_accept_json_get_problem_json(client: TestClient[ZegelApp]) -> None:
    response = client.get("/bestaat-niet", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@get("/stuk")
async def _failing_page() -> str:
    raise RuntimeError("secret detail 85.07.30-033.28 in a traceback")


@post("/stuk/verzenden")
async def _illegal_transition() -> str:
    raise IllegalTransition("Dit stuk is al verzonden.")


@get("/dubbel", sync_to_thread=True)
def _commit_fails(db_session: DbSession) -> str:
    # Two organisations with one slug: nothing is flushed here, so the unique constraint only
    # fails when the response's commit runs.
    for name in ("Eerste", "Tweede"):
        db_session.add(Organisation(name=name, kind=OrganisationKind.GEMEENTE, slug="dubbel"))
    return "opgeslagen"


@pytest.fixture
def test_app() -> Iterator[TestClient[ZegelApp]]:
    app = create_app(
        "testapp",
        route_handlers=[_failing_page, _illegal_transition, _commit_fails],
        template_dir=None,
        layout="base.html",
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_internal_error_shows_no_traceback_and_logs_it(
    test_app: TestClient[ZegelApp], capsys: pytest.CaptureFixture[str]
) -> None:
    response = test_app.get("/stuk")
    assert response.status_code == 500
    assert "Er ging iets mis" in response.text
    assert "Traceback" not in response.text
    assert "secret detail" not in response.text
    request_id = response.headers["x-request-id"]
    assert request_id in response.text  # the reference a citizen can quote
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    error = next(line for line in logged if line["event"].startswith("unhandled error"))
    assert error["request_id"] == request_id
    assert "RuntimeError" in error["exception"]
    assert "85.07.30-033.28" not in error["exception"]


def test_a_commit_that_fails_is_an_error_not_a_success(test_app: TestClient[ZegelApp]) -> None:
    response = test_app.get("/dubbel")
    assert response.status_code == 500
    assert "opgeslagen" not in response.text
    with db.get_session_factory()() as session:
        assert session.scalar(select(Organisation).where(Organisation.slug == "dubbel")) is None


def test_domain_error_shows_its_message_and_status(test_app: TestClient[ZegelApp]) -> None:
    test_app.get("/stuk")  # any matched route sets the CSRF cookie; its value is the token
    token = test_app.cookies["zegel_testapp_csrf"]
    response = test_app.post("/stuk/verzenden", headers={"x-csrftoken": token})
    assert response.status_code == 409
    assert "Dit stuk is al verzonden." in response.text
    json_response = test_app.post(
        "/stuk/verzenden", headers={"x-csrftoken": token, "accept": "application/json"}
    )
    assert json_response.status_code == 409
    assert json_response.json()["detail"] == "Dit stuk is al verzonden."
    assert json_response.json()["code"] == "illegal_transition"


# -- CSRF ---------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    client: TestClient[ZegelApp],
) -> None:
    client.get("/")  # the CSRF cookie is set, but the form field is missing
    response = client.post("/taal", data={"taal": "en", "terug": "/"}, follow_redirects=False)
    assert response.status_code == 403
    assert "Uw sessie is verlopen of het formulier is ongeldig" in response.text
    assert "zegel_taal" not in response.headers.get("set-cookie", "")
    assert "zegel_taal" not in client.cookies
    assert '<html lang="nl">' in client.get("/").text


def test_post_with_a_forged_csrf_token_is_refused(client: TestClient[ZegelApp]) -> None:
    client.get("/")
    response = client.post(
        "/taal", data={"taal": "en", "_csrf_token": "0" * 128}, follow_redirects=False
    )
    assert response.status_code == 403


def test_htmx_post_without_header_is_refused(client: TestClient[ZegelApp]) -> None:
    client.get("/")
    response = client.post("/taal", headers={"hx-request": "true"}, data={"taal": "en"})
    assert response.status_code == 403


def test_language_switch_with_csrf_token(client: TestClient[ZegelApp]) -> None:
    token = csrf_token_of(client.get("/").text)
    response = client.post(
        "/taal",
        data={"taal": "en", "terug": "/", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert client.cookies["zegel_taal"] == "en"
    page = client.get("/")
    assert '<html lang="en">' in page.text
    assert "Nederlands" in page.text  # the way back


def test_language_switch_through_the_htmx_header(client: TestClient[ZegelApp]) -> None:
    page = client.get("/").text
    match = re.search(r"hx-headers='([^']+)'", page)
    assert match
    headers = json.loads(match.group(1))
    response = client.post("/taal", headers=headers, data={"taal": "en"}, follow_redirects=False)
    assert response.status_code == 303


def test_language_switch_never_redirects_elsewhere(client: TestClient[ZegelApp]) -> None:
    token = csrf_token_of(client.get("/").text)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/taal",
            data={"taal": "nl", "terug": target, "_csrf_token": token},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_unknown_language_is_refused_in_dutch(client: TestClient[ZegelApp]) -> None:
    token = csrf_token_of(client.get("/").text)
    response = client.post("/taal", data={"taal": "xx", "_csrf_token": token})
    assert response.status_code == 422
    assert "Deze taal is niet beschikbaar." in response.text


def test_probes_need_no_csrf_cookie(client: TestClient[ZegelApp]) -> None:
    for path in ("/healthz", "/metrics", "/static/css/zegel.css"):
        response = client.get(path)
        assert response.status_code == 200
        assert "csrf" not in response.headers.get("set-cookie", "")


def test_csrf_cookie_is_httponly_and_lax(client: TestClient[ZegelApp]) -> None:
    cookie = client.get("/").headers["set-cookie"]
    assert "csrf" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/bestaat-niet"),
        ("PUT", "/"),
        ("POST", "/taal"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/static/css/zegel.css"),
        ("GET", "/static/js/htmx.min.js"),
        ("GET", "/api/iets"),
    ],
)
def test_every_response_has_the_security_headers(
    request: pytest.FixtureRequest, client: TestClient[ZegelApp], method: str, path: str
) -> None:
    response = client.request(method, path)
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, header
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # only outside dev and test
    # Forms may lead to this site and to the identity provider's origin (logout), nowhere else.
    settings = get_settings()
    app = request.node.callspec.params["client"]
    issuer = settings.citizen_oidc_issuer if app == "portal" else settings.staff_oidc_issuer
    csp = response.headers["content-security-policy"]
    assert csp == content_security_policy([origin(issuer)])
    assert f"form-action 'self' {origin(issuer)};" in csp


def test_hsts_and_secure_cookies_in_production() -> None:
    from shared.config import load_settings
    from shared.web.security import csrf_config, security_headers

    settings = load_settings(
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
    headers = dict(security_headers(settings))
    assert headers[b"strict-transport-security"].startswith(b"max-age=")
    config = csrf_config(settings, "portal")
    assert config.cookie_secure
    assert config.cookie_name == "__Host-zegel_portal_csrf"


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        if any(name.startswith("on") for name in names):
            self.problems.append(f"event handler attribute on <{tag}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")


@pytest.mark.parametrize("path", ["/", "/bestaat-niet"])
def test_pages_have_no_inline_script_or_style(client: TestClient[ZegelApp], path: str) -> None:
    finder = _InlineFinder()
    finder.feed(client.get(path).text)
    assert finder.problems == []


def test_macros_render_accessible_fields() -> None:
    from shared.web.templating import build_environment

    template = build_environment(None).from_string(
        '{% import "_macros.html" as ui %}'
        '{{ ui.error_summary({"naam": "Vul uw naam in."}) }}'
        '{{ ui.field("naam", "Naam", error="Vul uw naam in.", hint="Zoals op uw kaart", '
        "required=True) }}"
        '{{ ui.table("Stukken", ["Nummer"], [["<b>1</b>"]]) }}'
    )
    html = template.render()
    assert '<a href="#veld-naam">Vul uw naam in.</a>' in html
    assert '<label class="field__label" for="veld-naam">Naam</label>' in html
    assert 'aria-describedby="veld-naam-hint veld-naam-fout"' in html
    assert 'aria-invalid="true"' in html
    assert "<caption>Stukken</caption>" in html
    assert "&lt;b&gt;1&lt;/b&gt;" in html


# -- request id ---------------------------------------------------------------------------------


def test_request_id_is_echoed(client: TestClient[ZegelApp]) -> None:
    response = client.get("/", headers={"x-request-id": "abc-123.def_456"})
    assert response.headers["x-request-id"] == "abc-123.def_456"


@pytest.mark.parametrize("bad", ["kort", "with spaces in it", "x" * 200, "<script>alert(1)"])
def test_insane_request_id_is_replaced(client: TestClient[ZegelApp], bad: str) -> None:
    response = client.get("/", headers={"x-request-id": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_request_id_is_in_the_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(build("portal")) as test_client:
        capsys.readouterr()
        test_client.get("/", headers={"x-request-id": "trace-me-0001"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    request_line = next(line for line in lines if line["event"] == "request")
    assert request_line["request_id"] == "trace-me-0001"
    assert request_line["route"] == "/"
    assert request_line["status"] == 200
    assert request_line["method"] == "GET"


# -- metrics ------------------------------------------------------------------------------------


def test_metrics_have_latency_by_route(client: TestClient[ZegelApp]) -> None:
    client.get("/")
    client.get("/bestaat-niet")
    text = client.get("/metrics").text
    assert "# TYPE zegel_http_request_duration_seconds histogram" in text
    assert 'zegel_http_request_duration_seconds_count{method="GET",route="/",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text


def test_metrics_count_jobs_by_status(client: TestClient[ZegelApp]) -> None:
    with db.session_scope() as session:
        enqueue(session, "test.noop", key="web-metrics-test")
    text = client.get("/metrics").text
    assert 'zegel_jobs{status="queued"} 1.0' in text
    assert 'zegel_jobs{status="failed"} 0.0' in text
    assert "zegel_jobs_scrape_ok 1.0" in text


def test_metrics_survive_a_database_outage(client: TestClient[ZegelApp]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZEGEL_DATABASE_URL", "postgresql://zegel@127.0.0.1:1/zegel")
        db.reset_caches()
        try:
            response = client.get("/metrics")
        finally:
            db.reset_caches()
    assert response.status_code == 200
    assert "zegel_jobs_scrape_ok 0.0" in response.text
    assert "zegel_http_request_duration_seconds" in response.text
