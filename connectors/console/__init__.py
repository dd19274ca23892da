"""The web console for people (store associates, merchandisers, on-call), served by the
gateway under /console: server-rendered pages (Jinja2), a few lines of our own JavaScript,
live updates over server-sent events. `install(app, settings)` adds it to a gateway app.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from base.settings import Settings
from connectors.console.access import LoginRequired, NotAllowed
from connectors.console.barcodes import load_barcodes
from connectors.console.pages import page
from connectors.console.routes import ROUTERS
from connectors.console.session import console_secret
from connectors.console.state import HERE, ConsoleState, attach, console_state, templates
from connectors.inspect.errors import ServiceDown
from connectors.inspect.kafka_read import TopicMissing


def install(app: FastAPI, settings: Settings) -> None:
    barcodes = load_barcodes(settings.console.barcodes_file)
    attach(app, ConsoleState(console_secret(settings.console), templates(), barcodes))
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(NotAllowed, _not_allowed)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceDown, _unavailable)
    app.add_exception_handler(TopicMissing, _unavailable)


async def _to_login(request: Request, error: Exception) -> Response:
    if request.url.path.startswith("/console/live/"):
        return Response(status_code=401)  # an event stream cannot follow a redirect usefully
    return RedirectResponse("/console/login", status_code=303)


async def _not_allowed(request: Request, error: NotAllowed) -> HTMLResponse:
    console = console_state(request)
    return page(request, console, None, "message.html", 403, title="Not allowed", text=str(error))


async def _unavailable(request: Request, error: Exception) -> HTMLResponse:
    console = console_state(request)
    text = f"The ledger cannot be read right now: {error}"
    return page(request, console, None, "message.html", 503, title="Unavailable", text=text)
