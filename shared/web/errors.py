"""Friendly Dutch error pages, or problem+json for clients that want JSON.

Every exception a handler (or the router, or the CSRF check) raises ends here. Users see a page
in the layout of the app with a title and an explanation; no traceback ever leaves the server:
internal errors are logged with their traceback and shown with the request id as a reference.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, PermissionDeniedException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from shared.errors import DomainError
from shared.i18n import N_, gettext
from shared.logging import current_request_id
from shared.web.security import CSRF_FAILED_DETAIL

log = logging.getLogger("zegel.web.errors")

PROBLEM_JSON = "application/problem+json"

# (title, explanation) per status; Dutch msgids, translated when the page is rendered
_TEXTS: dict[int, tuple[str, str]] = {
    400: (
        N_("Ongeldige aanvraag"),
        N_(
            "We konden de gegevens die we ontvingen niet verwerken. Controleer wat u invulde en "
            "probeer het opnieuw."
        ),
    ),
    401: (
        N_("Aanmelden nodig"),
        N_("U moet zich aanmelden om deze pagina te bekijken."),
    ),
    403: (
        N_("Geen toegang"),
        N_("U hebt geen toegang tot deze pagina."),
    ),
    404: (
        N_("Pagina niet gevonden"),
        N_(
            "De pagina die u zoekt, bestaat niet of niet meer. Controleer het adres of ga naar "
            "de startpagina."
        ),
    ),
    405: (
        N_("Deze actie is hier niet mogelijk"),
        N_(
            "Deze pagina kan uw aanvraag niet verwerken. Ga naar de startpagina en gebruik de "
            "knoppen op de pagina."
        ),
    ),
    409: (
        N_("Dit kan nu niet"),
        N_("Deze actie is in de huidige toestand niet mogelijk."),
    ),
    413: (
        N_("Te groot"),
        N_("Wat u verstuurde, is te groot. Kies een kleiner bestand en probeer het opnieuw."),
    ),
    422: (
        N_("Controleer uw gegevens"),
        N_("Niet alle gegevens zijn in orde. Controleer wat u invulde en probeer het opnieuw."),
    ),
    429: (
        N_("Te veel aanvragen"),
        N_("U deed te veel aanvragen na elkaar. Wacht even en probeer het dan opnieuw."),
    ),
    500: (
        N_("Er ging iets mis"),
        N_(
            "Er ging bij ons iets mis. Probeer het later opnieuw. Blijft het probleem duren, "
            "neem dan contact op met uw bestuur en vermeld de referentie hieronder."
        ),
    ),
    503: (
        N_("Tijdelijk niet beschikbaar"),
        N_("Deze dienst is tijdelijk niet beschikbaar. Probeer het over enkele minuten opnieuw."),
    ),
}

_CSRF_TEXT = (
    N_("Uw sessie is verlopen"),
    N_(
        "Uw sessie is verlopen of het formulier is ongeldig. Ga terug naar de pagina, laad ze "
        "opnieuw en probeer het nog eens."
    ),
)


def _texts(status_code: int) -> tuple[str, str]:
    if status_code in _TEXTS:
        return _TEXTS[status_code]
    return _TEXTS[500] if status_code >= 500 else _TEXTS[400]


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """JSON for the API and for clients that ask for it; HTML pages for browsers and htmx."""
    if request.scope["path"].startswith("/api/"):
        return True
    best = request.accept.best_match(
        ["text/html", "application/json", PROBLEM_JSON], default="text/html"
    )
    return best != "text/html"


def _problem(
    status_code: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status_code}
    if detail:
        body["detail"] = detail
    if code:
        body["code"] = code
    if request_id := current_request_id():
        body["request_id"] = request_id
    body.update(extra or {})
    return Response(body, status_code=status_code, media_type=PROBLEM_JSON, headers=headers)


def _fallback_page(status_code: int, title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f'<p><a href="/">{html.escape(gettext("Naar de startpagina"))}</a></p>'
        "</main></body></html>"
    )


def render_error_page(
    request: Request[Any, Any, Any],
    status_code: int,
    title: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[Any]:
    """The app's error page (template `error.html`), or a bare page if even that fails."""
    context = {
        "request": request,
        "status_code": status_code,
        "title": title,
        "message": message,
        "request_id": current_request_id(),
        "show_reference": status_code >= HTTP_500_INTERNAL_SERVER_ERROR,
    }
    try:
        engine = request.app.template_engine
        if engine is None:
            raise RuntimeError("the app has no template engine")
        body = engine.get_template("error.html").render(**context)
    except Exception:
        log.exception("could not render the error page")
        body = _fallback_page(status_code, title, message)
    return Response(
        body,
        status_code=status_code,
        media_type=MediaType.HTML,
        headers=headers,
        cookies=cookies,
    )


def _respond(
    request: Request[Any, Any, Any],
    status_code: int,
    title: str,
    message: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    if wants_json(request):
        return _problem(status_code, title, message, code=code, headers=headers, extra=extra)
    return render_error_page(request, status_code, title, message, headers=headers, cookies=cookies)


def _is_csrf_failure(exc: Exception) -> bool:
    return isinstance(exc, PermissionDeniedException) and exc.detail == CSRF_FAILED_DETAIL


def handle_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's HTTP exceptions: 400, 401, 403 (and CSRF), 404, 405, 413, 429, 5xx …"""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        return handle_internal_error(request, exc)
    status_code = exc.status_code
    if status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        return handle_internal_error(request, exc, status_code=status_code)
    headers = dict(exc.headers or {})
    cookies: list[Cookie] | None = None
    extra: dict[str, Any] | None = None
    if _is_csrf_failure(exc):
        title, message = _CSRF_TEXT
        code = "csrf_failed"
        log.warning("CSRF check failed", extra={"method": request.method})
        # Forget the CSRF cookie: the next page the user opens gets a fresh, valid token.
        csrf_config = request.app.csrf_config
        if csrf_config is not None:
            cookies = [
                Cookie(
                    key=csrf_config.cookie_name,
                    value="",
                    max_age=0,
                    path=csrf_config.cookie_path,
                    secure=csrf_config.cookie_secure,
                    httponly=csrf_config.cookie_httponly,
                    samesite=csrf_config.cookie_samesite,
                )
            ]
    else:
        title, message = _texts(status_code)
        code = None
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            extra = {"errors": exc.extra}
    return _respond(
        request,
        status_code,
        gettext(title),
        gettext(message),
        code=code,
        headers=headers,
        cookies=cookies,
        extra=extra,
    )


def handle_domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A broken rule of the domain: its own status and its own (Dutch) message."""
    if not isinstance(exc, DomainError):  # pragma: no cover - registered for DomainError
        return handle_internal_error(request, exc)
    title, _ = _texts(exc.status_code)
    return _respond(
        request,
        exc.status_code,
        gettext(title),
        gettext(exc.message),
        code=exc.code,
        headers=dict(exc.headers) or None,
        extra=exc.problem_extra() or None,
    )


def handle_internal_error(
    request: Request[Any, Any, Any], exc: Exception, *, status_code: int = 500
) -> Response[Any]:
    """Anything unexpected: log it with its traceback, show a page with the reference."""
    log.error(
        "unhandled error while answering a request",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"method": request.method},
    )
    title, message = _texts(status_code)
    return _respond(request, status_code, gettext(title), gettext(message), code="internal_error")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        HTTPException: handle_http_exception,
        DomainError: handle_domain_error,
        Exception: handle_internal_error,
    }
