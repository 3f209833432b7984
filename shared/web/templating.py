"""The Jinja2 environment of an app: its own templates first, then the shared ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.i18n import install_jinja_i18n
from shared.logging import current_request_id

SHARED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC_PREFIX = "/static/"


def static_url(path: str) -> str:
    """The URL of a file under the top-level static/ directory."""
    return STATIC_PREFIX + path.lstrip("/")


def build_environment(
    template_dir: Path | None,
    *,
    globals: dict[str, Any] | None = None,
    auto_reload: bool = True,
) -> Environment:
    """Autoescaping, strict about undefined names, with gettext and the Zegel filters.
    `auto_reload`: look at each template file's time on every render (a developer edits them;
    in production they do not change while the app runs).

    Templates that use the macros import them with context (they need the request for the
    CSRF token): `{% import "_macros.html" as ui with context %}`.
    """
    search = [FileSystemLoader(template_dir)] if template_dir is not None else []
    search.append(FileSystemLoader(SHARED_TEMPLATES))
    environment = Environment(
        loader=ChoiceLoader(search),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=auto_reload,
    )
    install_jinja_i18n(environment)
    environment.globals["current_request_id"] = current_request_id
    environment.globals["static_url"] = static_url
    environment.globals.update(globals or {})
    return environment
