"""Signing in and out: an API key in a form (never a URL) becomes a signed session cookie."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connectors.console.access import SameOrigin, ViewerDep
from connectors.console.pages import page
from connectors.console.session import COOKIE_NAME, Session, sign
from connectors.console.state import ConsoleDep
from connectors.gateway.state import SettingsDep, StateDep

router = APIRouter(prefix="/console", include_in_schema=False)
COOKIE_PATH = "/console"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, console: ConsoleDep) -> HTMLResponse:
    return page(request, console, None, "login.html", error=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[SameOrigin])
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=256)],
    state: StateDep,
    settings: SettingsDep,
    console: ConsoleDep,
) -> Response:
    record = state.keys.lookup(api_key.strip())
    if record is None:
        return page(request, console, None, "login.html", 401, error="That key is not known here.")
    ttl_s = settings.console.session_ttl_s
    session = Session(record.key_id, int(time.time()) + ttl_s)
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        sign(session, console.secret),
        max_age=ttl_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", dependencies=[SameOrigin])
async def logout(who: ViewerDep) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response
