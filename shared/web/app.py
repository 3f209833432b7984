"""The app factory both web apps use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import anyio.to_thread
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin, SQLAlchemySyncConfig
from advanced_alchemy.extensions.litestar._utils import (
    delete_aa_scope_state,
    get_aa_scope_state,
)
from advanced_alchemy.extensions.litestar.plugins.init.config.common import (
    SESSION_TERMINUS_ASGI_EVENTS,
)
from litestar import Litestar, Router
from litestar.constants import HTTP_RESPONSE_START
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.plugins import PluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import (
    ControllerRouterHandler,
    Guard,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Message,
    Receive,
    Scope,
    Send,
)
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.db import get_engine, get_session_factory
from shared.logging import configure_logging
from shared.web.edge import Edge, FormTargets
from shared.web.errors import exception_handlers
from shared.web.metrics import Metrics
from shared.web.routes import infrastructure_routes
from shared.web.security import csrf_config
from shared.web.sessions import LoginRequired, handle_login_required
from shared.web.templating import STATIC_PREFIX, build_environment

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"


class ZegelApp(Litestar):
    """A Litestar app whose every HTTP request passes the `Edge` first (404s and 405s too)."""

    edge: Edge | None = None
    metrics: Metrics | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] == ScopeType.HTTP and self.edge is not None:
            await self.edge(scope, receive, send, super().__call__)  # type: ignore[arg-type]
            return
        await super().__call__(scope, receive, send)


def _end_session_hook(scope_key: str) -> Callable[[Message, Scope], Awaitable[None]]:
    """Ends the request's session before the response starts: commit on 2xx and redirects,
    roll back otherwise; close it at the end.

    A commit that fails is not swallowed (advanced-alchemy's own handler only logs it at debug
    level and lets a 200 through with nothing saved): the session is rolled back and closed and
    the error raised, so the client gets the 500 error page instead of a success. The hook
    takes a worker thread only when the session has a transaction to end; Litestar would run a
    synchronous hook in a thread for every message of every response."""

    def end(session: Session, message: Message, scope: Scope) -> None:
        try:
            if message["type"] == HTTP_RESPONSE_START and session.in_transaction():
                if 200 <= message["status"] < 400:
                    session.commit()
                else:
                    session.rollback()
        except Exception:
            session.rollback()
            session.close()
            delete_aa_scope_state(scope, scope_key)
            raise
        if message["type"] in SESSION_TERMINUS_ASGI_EVENTS:
            session.close()
            delete_aa_scope_state(scope, scope_key)

    async def hook(message: Message, scope: Scope) -> None:
        session: Session | None = get_aa_scope_state(scope, scope_key)
        if session is None:
            return
        if session.in_transaction():  # commit or roll back: talks to the database
            await anyio.to_thread.run_sync(end, session, message, scope)
        else:
            end(session, message, scope)

    return hook


def database_plugin() -> SQLAlchemyPlugin:
    """One SQLAlchemy session per request as the `db_session` dependency (sync handlers run in
    the thread pool); committed when the response is 2xx or a redirect, rolled back otherwise."""
    config = SQLAlchemySyncConfig(
        engine_instance=get_engine(),
        session_maker=get_session_factory(),
        session_dependency_key="db_session",
    )
    # the scope key is made unique per config (several apps in one process): known only now
    config.before_send_handler = _end_session_hook(config.session_scope_key)
    return SQLAlchemyPlugin(config=config)


def create_app(
    name: str,
    route_handlers: Sequence[ControllerRouterHandler],
    template_dir: Path | None,
    *,
    title: str | None = None,
    layout: str | None = None,
    guards: Sequence[Guard] = (),
    dependencies: Mapping[str, Provide] | None = None,
    plugins: Sequence[PluginProtocol] = (),
    settings: Settings | None = None,
    template_globals: Mapping[str, object] | None = None,
    form_targets: FormTargets | None = None,
    api_route_handlers: Sequence[ControllerRouterHandler] = (),
    openapi_config: OpenAPIConfig | None = None,
) -> ZegelApp:
    """Build one of Zegel's web apps.

    - `name`: "portal" or "backoffice"; names the CSRF cookie and is `app_name` in templates.
    - `route_handlers`: the app's own pages. `guards` apply to these only (staff or citizen
      login plugs in here); /healthz, /metrics, /static and /taal stay public.
    - `template_dir`: the app's templates; the shared ones (base.html, _macros.html,
      error.html) are found after it. `layout` is the app's base template, which shared
      templates such as error.html extend (default `base_<name>.html`).
    - `form_targets`: origins a form may lead to elsewhere (Content-Security-Policy form-action),
      asked per request.
    - `api_route_handlers`: JSON endpoints under /api, without the pages' guards (they
      authenticate themselves, e.g. by API key) and without CSRF (no cookies); they alone are
      described in the OpenAPI schema that `openapi_config` serves (none when it is None).
    """
    settings = settings or get_settings()
    configure_logging(settings)
    metrics = Metrics()
    app_title = title or f"Zegel — {name}"
    environment = build_environment(
        template_dir,
        auto_reload=not settings.is_production,
        globals={
            "app_name": name,
            "app_title": app_title,
            "layout": layout or f"base_{name}.html",
            **(template_globals or {}),
        },
    )
    pages = Router(
        path="/", route_handlers=list(route_handlers), guards=list(guards), include_in_schema=False
    )
    api = (
        [Router(path="/api", route_handlers=list(api_route_handlers))] if api_route_handlers else []
    )
    app = ZegelApp(
        route_handlers=[
            pages,
            *api,
            *infrastructure_routes(settings, metrics),
            create_static_files_router(
                path=STATIC_PREFIX.rstrip("/"),
                directories=[STATIC_DIR],
                name="static",
                # no versioned file names yet: browsers revalidate (ETag) instead of guessing
                cache_control=CacheControlHeader(no_cache=True),
            ),
        ],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        csrf_config=csrf_config(settings, name),
        exception_handlers={**exception_handlers(), LoginRequired: handle_login_required},
        dependencies=dict(dependencies or {}),
        plugins=[database_plugin(), *plugins],
        logging_config=None,  # configure_logging() owns logging
        openapi_config=openapi_config,
        debug=False,
    )
    app.edge = Edge(settings, metrics, form_targets)
    app.metrics = metrics
    return app
