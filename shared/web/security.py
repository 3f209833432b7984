"""Security headers, the CSRF configuration and cookie settings both apps share."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader

from shared.config import Environment, Settings


def content_security_policy(form_targets: Sequence[str] = ()) -> str:
    """The strict policy of both apps. `form_targets` are origins (scheme://host[:port]) a form
    may lead to besides this site: a form that redirects elsewhere — logout to the identity
    provider's end-session endpoint, payment to the payment page — needs its origin here,
    because browsers apply form-action to the whole redirect chain."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            " ".join(("form-action 'self'", *sorted(set(form_targets)))),
            "frame-ancestors 'none'",
        )
    )


def origin(url: str) -> str:
    """scheme://host[:port] of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = content_security_policy()

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)

HSTS = "max-age=63072000; includeSubDomains"

CSRF_HEADER = "x-csrftoken"
"""The header htmx sends the CSRF token in (set with hx-headers on <body>)."""
CSRF_FORM_FIELD = "_csrf_token"
"""The form field Litestar reads the CSRF token from."""
CSRF_FAILED_DETAIL = "CSRF token verification failed"
"""The detail of Litestar's PermissionDeniedException when the token is missing or wrong."""

CSRF_EXCLUDE = ("^/healthz$", "^/metrics$", "^/api/", "^/static/", "^/webhooks/")
"""Paths without CSRF: probes, static files, the API (which authenticates by key) and webhooks
(which authenticate by their signature)."""

NO_STORE = CacheControlHeader(no_store=True)
"""Cache-Control for pages with personal data: `@get(..., cache_control=NO_STORE)`."""


def secure_cookies(settings: Settings) -> bool:
    """Cookies are Secure except on a developer's machine and in tests (plain-HTTP loopback)."""
    return settings.env not in (Environment.DEVELOPMENT, Environment.TEST)


def cookie_name(settings: Settings, name: str) -> str:
    """`name`, with the __Host- prefix where cookies are Secure (bound to exactly this host)."""
    return f"__Host-{name}" if secure_cookies(settings) else name


def security_headers(
    settings: Settings, form_targets: Sequence[str] = ()
) -> list[tuple[bytes, bytes]]:
    """The headers every response of both apps carries."""
    headers = {
        "content-security-policy": content_security_policy(form_targets),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "permissions-policy": PERMISSIONS_POLICY,
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
    }
    if secure_cookies(settings):
        headers["strict-transport-security"] = HSTS
    return [(key.encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]


def csrf_config(settings: Settings, app_name: str) -> CSRFConfig:
    """Double-submit CSRF: a signed token in an HttpOnly cookie, echoed by forms and htmx.

    The cookie can be HttpOnly because no script ever reads it: templates put the token in forms
    (`csrf_token()`) and in the `hx-headers` attribute of <body>.
    """
    return CSRFConfig(
        secret=settings.secret_key.get_secret_value(),
        cookie_name=cookie_name(settings, f"zegel_{app_name}_csrf"),
        cookie_secure=secure_cookies(settings),
        cookie_httponly=True,
        cookie_samesite="lax",
        header_name=CSRF_HEADER,
        exclude=list(CSRF_EXCLUDE),
    )
