"""The web layer both apps share: app factory, security, errors, metrics, templates.

`create_app(name, route_handlers, template_dir)` builds a Litestar app with Zegel's templates,
static files, CSRF protection, security headers, error pages, /healthz and /metrics.
"""

from shared.web.app import ZegelApp, create_app
from shared.web.errors import render_error_page, wants_json
from shared.web.security import NO_STORE

__all__ = ["NO_STORE", "ZegelApp", "create_app", "render_error_page", "wants_json"]
