"""Login sessions on the web: the session cookie, guards, and the redirect to log in.

The cookie holds a random token (HttpOnly, SameSite=Lax, Secure and __Host- outside
development); `shared.services.auth` keeps only its digest. Guards load the session once per
request (in a worker thread: the database is synchronous) and keep it on `request.state`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import session_scope
from shared.integrations.oidc.levels import AuthLevel
from shared.models.people import StaffRole
from shared.models.sessions import WebSession
from shared.services import access, auth
from shared.web.security import cookie_name, secure_cookies

_SESSION_KEY = "zegel_web_session"
_STAFF_KEY = "zegel_staff_context"


class LoginRequired(Exception):
    """Raised by a guard: send the browser to log in (again, or at a higher level)."""

    def __init__(self, return_to: str, level: AuthLevel = AuthLevel.NONE) -> None:
        super().__init__(return_to)
        self.return_to = return_to
        self.level = level


def session_cookie_name(app: auth.App) -> str:
    return cookie_name(get_settings(), f"zegel_{app.value}_session")


def set_session_cookie(response: Response[Any], app: auth.App, token: str) -> None:
    response.set_cookie(
        Cookie(
            key=session_cookie_name(app),
            value=token,
            path="/",
            httponly=True,
            secure=secure_cookies(get_settings()),
            samesite="lax",
        )
    )


def clear_session_cookie(response: Response[Any], app: auth.App) -> None:
    response.delete_cookie(session_cookie_name(app), path="/")


def session_token(connection: ASGIConnection[Any, Any, Any, Any], app: auth.App) -> str | None:
    return connection.cookies.get(session_cookie_name(app))


def _load(app: auth.App, token: str | None) -> WebSession | None:
    with session_scope() as session:
        return auth.load_session(session, app, token)


async def current_session(
    connection: ASGIConnection[Any, Any, Any, Any], app: auth.App
) -> WebSession | None:
    """The logged-in session of this request, if any (loaded once per request)."""
    state = connection.state
    if _SESSION_KEY not in state:
        token = session_token(connection, app)
        state[_SESSION_KEY] = await anyio.to_thread.run_sync(_load, app, token) if token else None
    found: WebSession | None = state[_SESSION_KEY]
    return found


def _return_path(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    path = connection.url.path
    if connection.scope.get("method", "GET") != "GET":
        return "/"
    query = connection.url.query
    return f"{path}?{query}" if query else path


# -- portal -----------------------------------------------------------------------------


def citizen_guard(action: str = "view") -> Any:
    """A guard: a citizen session at the level configured for `action` (view, pay, dispute)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        required = auth.citizen_levels()[action]
        web_session = await current_session(connection, auth.App.PORTAL)
        if web_session is None or web_session.auth_level < required:
            raise LoginRequired(_return_path(connection), required)

    return guard


def citizen_in_handler(
    connection: ASGIConnection[Any, Any, Any, Any], db_session: Session, action: str = "view"
) -> WebSession:
    """`citizen_guard`'s check, made inside a synchronous handler with the request's own
    database session: the same session rules (`auth.load_session`) and level, without the
    guard's extra worker thread and transaction. For the portal's busiest pages."""
    required = auth.citizen_levels()[action]
    state = connection.state
    if _SESSION_KEY not in state:
        token = session_token(connection, auth.App.PORTAL)
        state[_SESSION_KEY] = auth.load_session(db_session, auth.App.PORTAL, token)
    web_session: WebSession | None = state[_SESSION_KEY]
    if web_session is None or web_session.auth_level < required:
        raise LoginRequired(_return_path(connection), required)
    return web_session


async def citizen_session(request: Request[Any, Any, Any]) -> WebSession:
    """Dependency for handlers behind `citizen_guard`."""
    web_session = await current_session(request, auth.App.PORTAL)
    if web_session is None:
        raise LoginRequired(_return_path(request))
    return web_session


# -- back office ------------------------------------------------------------------------


def _staff(web_session: WebSession) -> access.StaffContext:
    with session_scope() as session:
        attached = session.merge(web_session)
        return access.staff_context(session, attached)


async def current_staff(
    connection: ASGIConnection[Any, Any, Any, Any],
) -> access.StaffContext | None:
    state = connection.state
    if _STAFF_KEY not in state:
        web_session = await current_session(connection, auth.App.BACKOFFICE)
        state[_STAFF_KEY] = (
            await anyio.to_thread.run_sync(_staff, web_session) if web_session else None
        )
    found: access.StaffContext | None = state[_STAFF_KEY]
    return found


async def staff_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard: a logged-in, active staff member with a role in an organisation."""
    if await current_staff(connection) is None:
        raise LoginRequired(_return_path(connection))


def role_guard(*roles: StaffRole) -> Any:
    """A guard: one of `roles` in the current organisation (403 otherwise)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        staff = await current_staff(connection)
        if staff is None:
            raise LoginRequired(_return_path(connection))
        staff.require(*roles)

    return guard


async def staff_context(request: Request[Any, Any, Any]) -> access.StaffContext:
    """Dependency for handlers behind `staff_guard`."""
    staff = await current_staff(request)
    if staff is None:
        raise LoginRequired(_return_path(request))
    return staff


def handle_login_required(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, LoginRequired)
    query: dict[str, str] = {"terug": exc.return_to}
    if exc.level > AuthLevel.NONE:
        query["niveau"] = exc.level.name.lower()
    target = f"/aanmelden?{urlencode(query)}"
    if request.headers.get("hx-request") == "true":
        return Response(content="", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=HTTP_303_SEE_OTHER)


def public_url(request: Request[Any, Any, Any], app: auth.App, path: str) -> str:
    """An absolute URL of this app: the configured public address in production; the address
    the request came in on elsewhere (development and tests run on changing ports)."""
    settings = get_settings()
    if settings.is_production:
        base = settings.portal_base_url if app is auth.App.PORTAL else settings.backoffice_base_url
    else:
        base = str(request.base_url)
    return base.rstrip("/") + path


async def optional_staff(request: Request[Any, Any, Any]) -> access.StaffContext | None:
    """Dependency for public pages that change when someone is logged in."""
    return await current_staff(request)


async def backoffice_session(request: Request[Any, Any, Any]) -> WebSession:
    """Dependency: the staff member's session row (to switch organisation)."""
    web_session = await current_session(request, auth.App.BACKOFFICE)
    if web_session is None:
        raise LoginRequired(_return_path(request))
    return web_session


STAFF_DEPENDENCIES = {
    "staff": Provide(staff_context),
    "optional_staff": Provide(optional_staff),
    "web_session": Provide(backoffice_session),
}
"""Dependencies the back office's handlers may ask for by name."""
