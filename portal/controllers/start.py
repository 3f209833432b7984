"""The portal's start page."""

from __future__ import annotations

from litestar import get
from litestar.response import Template


@get("/", name="start")
async def start_page() -> Template:
    return Template(template_name="start.html")


@get("/toegankelijkheid", name="accessibility_statement")
async def accessibility_statement() -> Template:
    """The accessibility statement (toegankelijkheidsverklaring) the law requires."""
    return Template(template_name="accessibility.html")
