"""The login routes both apps share: /aanmelden, /aanmelden/terug, /afmelden, /afgemeld.

Each app supplies its own templates `login_failed.html` and `logged_out.html`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from shared.integrations.oidc.client import LoginFailed
from shared.integrations.oidc.levels import LEVEL_NAMES, AuthLevel
from shared.services import auth
from shared.web.params import DbSession, FromQuery
from shared.web.security import NO_STORE, origin
from shared.web.sessions import (
    clear_session_cookie,
    public_url,
    session_token,
    set_session_cookie,
)

CALLBACK = "/aanmelden/terug"
LOGGED_OUT = "/afgemeld"


def provider_origin(app: auth.App) -> Callable[[], list[str]]:
    """For the app's form-action policy: logging out redirects (after a form POST) to the
    identity provider's end-session endpoint, on the provider's origin."""
    return lambda: [origin(auth.provider(app).config.issuer)]


def login_routes(app: auth.App, *, default_return: str) -> list[HTTPRouteHandler]:
    def failed(failure: LoginFailed) -> Response[Any]:
        response: Response[Any] = Template(
            template_name="login_failed.html",
            context={"message": failure.message},
            status_code=400,
        )
        clear_session_cookie(response, app)
        return response

    @get("/aanmelden", name="login", sync_to_thread=True, cache_control=NO_STORE)
    def login(
        request: Request[Any, Any, Any],
        db_session: DbSession,
        terug: FromQuery[str | None] = None,
        niveau: FromQuery[str | None] = None,
    ) -> Response[Any]:
        required = LEVEL_NAMES.get(niveau or "", AuthLevel.NONE)
        if app is auth.App.PORTAL:
            required = max(required, auth.citizen_levels()["view"])
        try:
            url = auth.start_login(
                db_session,
                app,
                redirect_uri=public_url(request, app, CALLBACK),
                return_to=auth.safe_return_path(terug, default_return),
                required_level=required,
            )
        except LoginFailed as failure:
            return failed(failure)
        return Redirect(url, status_code=HTTP_303_SEE_OTHER)

    @get(CALLBACK, name="login_callback", sync_to_thread=True, cache_control=NO_STORE)
    def login_callback(request: Request[Any, Any, Any], db_session: DbSession) -> Response[Any]:
        params = {key: str(value) for key, value in request.query_params.items()}
        try:
            opened = auth.complete_login(
                db_session,
                app,
                params=params,
                redirect_uri=public_url(request, app, CALLBACK),
                previous_token=session_token(request, app),
            )
        except LoginFailed as failure:
            return failed(failure)
        response: Response[Any] = Redirect(opened.return_to, status_code=HTTP_303_SEE_OTHER)
        set_session_cookie(response, app, opened.token)
        return response

    @post("/afmelden", name="logout", sync_to_thread=True, cache_control=NO_STORE)
    def logout(request: Request[Any, Any, Any], db_session: DbSession) -> Response[Any]:
        id_token = auth.end_session(db_session, app, session_token(request, app))
        target = auth.provider(app).logout_url(
            id_token_hint=id_token,
            post_logout_redirect_uri=public_url(request, app, LOGGED_OUT),
            state=secrets.token_urlsafe(16),
        )
        response: Response[Any] = Redirect(target or LOGGED_OUT, status_code=HTTP_303_SEE_OTHER)
        clear_session_cookie(response, app)
        return response

    @get(LOGGED_OUT, name="logged_out", cache_control=NO_STORE)
    async def logged_out() -> Template:
        return Template(template_name="logged_out.html")

    return [login, login_callback, logout, logged_out]
