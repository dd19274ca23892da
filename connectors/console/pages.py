"""Rendering a console page: its template, who is looking, and the headers every page has."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from connectors.console.access import Viewer
from connectors.console.state import ConsoleState

# Only this origin's scripts, styles and connections; no framing; forms post here only.
CONTENT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(
    request: Request,
    console: ConsoleState,
    who: Viewer | None,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = console.templates.TemplateResponse(
        request, template, {"who": who, **context}, status_code=status_code
    )
    response.headers.update(HEADERS)
    return response
