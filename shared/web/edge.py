"""What happens around every HTTP request, before routing and after the response.

It runs outside Litestar's router, so 404s and 405s get it too: the request id (taken from
`X-Request-ID` when sane, otherwise new) bound for logs and echoed in the response, the language
chosen by cookie, the security headers, one log line and one latency observation per request.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from litestar.types import HTTPScope, Message, Receive, Scope, Send

from shared.config import Settings
from shared.i18n import DEFAULT_LANGUAGE, normalise_language, use_language
from shared.logging import bound_request_id
from shared.web.metrics import UNMATCHED_ROUTE, Metrics
from shared.web.security import security_headers

log = logging.getLogger("zegel.web.request")

REQUEST_ID_HEADER = "x-request-id"
LANGUAGE_COOKIE = "zegel_taal"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_QUIET_ROUTES = frozenset({"/healthz", "/metrics", "/static/{file_path}"})

ASGICall = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: HTTPScope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return None


def sane_request_id(value: str | None) -> str | None:
    """The caller's request id if it is a plain token of reasonable length, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


FormTargets = Callable[[], Sequence[str]]
"""Origins forms may lead to besides the app itself (see security.content_security_policy)."""


class Edge:
    def __init__(
        self, settings: Settings, metrics: Metrics, form_targets: FormTargets | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.form_targets = form_targets or tuple
        self._headers: dict[tuple[str, ...], list[tuple[bytes, bytes]]] = {}

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The security headers; asked per request because the providers behind the form
        targets can change while the app runs (tests, reconfiguration)."""
        targets = tuple(self.form_targets())
        if targets not in self._headers:
            self._headers[targets] = security_headers(self.settings, targets)
        return self._headers[targets]

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send, app: ASGICall) -> None:
        request_id = sane_request_id(_header(scope, REQUEST_ID_HEADER.encode()))
        language = normalise_language(_cookie(scope, LANGUAGE_COOKIE)) or DEFAULT_LANGUAGE
        status = 500
        started = time.perf_counter()

        with bound_request_id(request_id) as request_id, use_language(language):
            scope.setdefault("state", {})["request_id"] = request_id
            extra_headers = [*self.headers, (REQUEST_ID_HEADER.encode(), request_id.encode())]

            async def send_with_headers(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers") or [])
                    present = {key.lower() for key, _ in headers}
                    headers.extend(item for item in extra_headers if item[0] not in present)
                    message["headers"] = headers
                await send(message)

            try:
                await app(scope, receive, send_with_headers)
            finally:
                seconds = time.perf_counter() - started
                route = scope.get("path_template") or UNMATCHED_ROUTE
                self.metrics.observe(
                    route=route, method=scope["method"], status=status, seconds=seconds
                )
                log.log(
                    logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )
