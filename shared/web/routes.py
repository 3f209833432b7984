"""Routes every app has: health, metrics and the language switch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.config import Settings
from shared.db import check_database
from shared.errors import InvalidInput
from shared.i18n import gettext, normalise_language
from shared.web.edge import LANGUAGE_COOKIE
from shared.web.metrics import Metrics
from shared.web.security import NO_STORE, secure_cookies

log = logging.getLogger("zegel.web")

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def safe_local_path(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site, else `default` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(character) < 0x20 for character in value):
        return default
    return value


@dataclass
class LanguageForm:
    taal: str
    terug: str = "/"


def infrastructure_routes(settings: Settings, metrics: Metrics) -> list[HTTPRouteHandler]:
    """New handler objects for one app (handlers are not shared between apps)."""

    @get("/healthz", sync_to_thread=True, include_in_schema=False, cache_control=NO_STORE)
    def healthz() -> Response[dict[str, str]]:
        try:
            check_database()
        except Exception as error:
            log.warning("health check failed: %s", error)
            return Response({"status": "unavailable"}, status_code=HTTP_503_SERVICE_UNAVAILABLE)
        return Response({"status": "ok"})

    @get("/metrics", sync_to_thread=True, include_in_schema=False, cache_control=NO_STORE)
    def prometheus_metrics() -> Response[bytes]:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @post("/taal", name="language", status_code=HTTP_303_SEE_OTHER, include_in_schema=False)
    async def choose_language(
        data: Annotated[LanguageForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        language = normalise_language(data.taal)
        if language is None or language != data.taal.strip().lower():
            raise InvalidInput(gettext("Deze taal is niet beschikbaar."))
        return Redirect(
            safe_local_path(data.terug),
            status_code=HTTP_303_SEE_OTHER,
            cookies=[
                Cookie(
                    key=LANGUAGE_COOKIE,
                    value=language,
                    max_age=LANGUAGE_COOKIE_MAX_AGE,
                    path="/",
                    secure=secure_cookies(settings),
                    httponly=True,
                    samesite="lax",
                )
            ],
        )

    return [healthz, prometheus_metrics, choose_language]


__all__ = ["LanguageForm", "infrastructure_routes", "safe_local_path"]
