"""Operations (admin): the live figures (events/s, sync latency per channel, consumer lag,
oversells, dead letters) and the newest dead letters with their reasons and a re-drive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connectors.console.access import AdminDep, SameOrigin
from connectors.console.pages import page
from connectors.console.state import ConsoleDep
from connectors.gateway.kafka_calls import produce
from connectors.gateway.state import BusDep, SettingsDep
from connectors.inspect.dead_letters import (
    NotRedrivable,
    dead_letter_at,
    newest_dead_letters,
    redrive_target,
)

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/ops", response_class=HTMLResponse)
async def ops_page(
    request: Request, who: AdminDep, console: ConsoleDep, settings: SettingsDep, redriven: str = ""
) -> HTMLResponse:
    letters = await newest_dead_letters(settings, settings.console.dead_letters_shown_max)
    return page(
        request, console, who, "ops.html", letters=letters, redriven=redriven[:64], error=None
    )


@router.post("/ops/redrive", response_class=HTMLResponse, dependencies=[SameOrigin])
async def redrive(
    request: Request,
    partition: Annotated[int, Form(ge=0, le=10_000)],
    offset: Annotated[int, Form(ge=0)],
    who: AdminDep,
    console: ConsoleDep,
    settings: SettingsDep,
    bus: BusDep,
) -> Response:
    try:
        letter = await dead_letter_at(settings, partition, offset)
        topic, key, value = redrive_target(settings, letter)
    except NotRedrivable as error:
        letters = await newest_dead_letters(settings, settings.console.dead_letters_shown_max)
        return page(
            request, console, who, "ops.html", 422, letters=letters, redriven="", error=str(error)
        )
    await produce(bus, topic, [(key or b"", value)])
    return RedirectResponse(f"/console/ops?redriven={partition}-{offset}", status_code=303)
