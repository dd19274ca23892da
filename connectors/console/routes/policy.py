"""Policy (admin): channel pools, buffers and caps; location details and safety stock.

Each form previews first: the figures the change would move, computed with the ledger's
functions over a sample of SKUs (connectors/console/preview.py); saving produces the record
through the same functions as `PUT /v1/policy/...` (connectors/gateway/routes/policy.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from base.settings import Settings
from connectors.console.access import AdminDep, SameOrigin, Viewer
from connectors.console.forms import (
    FormError,
    channel_fields_beyond_the_request,
    channel_request,
    location_request,
    text_values,
)
from connectors.console.pages import page
from connectors.console.preview import figure_changes, touched_locations
from connectors.console.state import ConsoleDep, ConsoleState
from connectors.gateway.params import ChannelPath
from connectors.gateway.routes.policy import (
    CHANNEL_RECORD,
    LOCATION_RECORD,
    channel_record_json,
    location_record_json,
    produce_record,
)
from connectors.gateway.state import BusDep, SettingsDep
from connectors.inspect.kafka_read import kafka_consumer, read_policy, read_states_sample
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook, apply_policy

router = APIRouter(prefix="/console/policy", include_in_schema=False)


async def current_book(settings: Settings) -> PolicyBook:
    async with kafka_consumer(settings) as consumer:
        book, _ = await read_policy(consumer, settings)
    return book


@router.get("", response_class=HTMLResponse)
async def policy_list(
    request: Request, who: AdminDep, console: ConsoleDep, settings: SettingsDep, saved: str = ""
) -> HTMLResponse:
    book = await current_book(settings)
    return page(request, console, who, "policy.html", book=book, saved=saved[:200])


@router.get("/channels/{channel}", response_class=HTMLResponse)
async def channel_form(
    request: Request,
    channel: ChannelPath,
    who: AdminDep,
    console: ConsoleDep,
    settings: SettingsDep,
) -> HTMLResponse:
    current = (await current_book(settings)).channels.get(channel)
    values = text_values(current)
    return _policy_page(request, console, who, "channel", channel, values, current)


@router.get("/locations/{location}", response_class=HTMLResponse)
async def location_form(
    request: Request,
    location: ChannelPath,
    who: AdminDep,
    console: ConsoleDep,
    settings: SettingsDep,
) -> HTMLResponse:
    current = (await current_book(settings)).locations.get(location)
    values = text_values(current)
    return _policy_page(request, console, who, "location", location, values, current)


@router.post("/channels/{channel}", response_class=HTMLResponse, dependencies=[SameOrigin])
async def channel_submit(
    request: Request,
    channel: ChannelPath,
    who: AdminDep,
    console: ConsoleDep,
    settings: SettingsDep,
    bus: BusDep,
) -> Response:
    return await _submit(request, "channel", channel, who, console, settings, bus)


@router.post("/locations/{location}", response_class=HTMLResponse, dependencies=[SameOrigin])
async def location_submit(
    request: Request,
    location: ChannelPath,
    who: AdminDep,
    console: ConsoleDep,
    settings: SettingsDep,
    bus: BusDep,
) -> Response:
    return await _submit(request, "location", location, who, console, settings, bus)


async def _submit(
    request: Request,
    kind: str,
    name: str,
    who: Viewer,
    console: ConsoleState,
    settings: Settings,
    bus: Any,
) -> Response:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    book = await current_book(settings)
    current = (book.channels if kind == "channel" else book.locations).get(name)
    try:
        record = form_record(kind, name, values, current)
    except FormError as error:
        return _policy_page(
            request, console, who, kind, name, values, current, 422, error=str(error)
        )
    if values.get("action") == "save":
        await produce_record(bus, settings, record)
        return RedirectResponse(f"/console/policy?saved={kind}:{name}", status_code=303)
    new_book = apply_policy(book, record)
    touched = touched_locations(book, new_book)
    states, cut_short = await read_states_sample(
        settings,
        lambda state: not touched.isdisjoint(state.positions),
        settings.console.preview_skus_max,
        settings.console.preview_records_max,
    )
    changes = figure_changes(states, book, new_book)
    preview = {"changes": changes, "skus": len(states), "cut_short": cut_short}
    return _policy_page(request, console, who, kind, name, values, current, preview=preview)


def form_record(
    kind: str, name: str, values: dict[str, str], current: ChannelPolicy | LocationPolicy | None
) -> ChannelPolicy | LocationPolicy:
    """The whole record the form makes: the current record with the form's fields changed,
    through the same functions as PUT; FormError if invalid."""
    try:
        if kind == "channel":
            assert current is None or isinstance(current, ChannelPolicy)
            body = channel_request(values, current)
            merged = {
                **channel_fields_beyond_the_request(current),
                **channel_record_json(name, body),
            }
            return CHANNEL_RECORD.validate_json(orjson.dumps(merged))
        assert current is None or isinstance(current, LocationPolicy)
        spot = location_request(values, current)
        return LOCATION_RECORD.validate_json(orjson.dumps(location_record_json(name, spot)))
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise FormError(f"{where}: {first['msg']}") from None


def _policy_page(
    request: Request,
    console: ConsoleState,
    who: Viewer,
    kind: str,
    name: str,
    values: dict[str, str],
    current: object,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    return page(
        request, console, who, "policy_edit.html", status_code, kind=kind, name=name,
        values=values, current=current, preview=extra.get("preview"), error=extra.get("error"),
    )  # fmt: skip
