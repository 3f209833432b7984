"""The back office's start page."""

from __future__ import annotations

from litestar import get
from litestar.response import Template


@get("/", name="start")
async def start_page() -> Template:
    return Template(template_name="start.html")
