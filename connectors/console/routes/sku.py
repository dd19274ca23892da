"""A SKU's page: buckets per location and channel figures (live), why each channel shows
what it shows (the explain view), the SKU as of a past time (rebuilt from the event log,
`?at=TIME`), and its history timeline (newest first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from base.settings import Settings
from connectors.console.access import Viewer, ViewerDep
from connectors.console.pages import page
from connectors.console.state import ConsoleDep, ConsoleState
from connectors.gateway.backends import History
from connectors.gateway.errors import BackendUnavailable
from connectors.gateway.params import SkuPath
from connectors.gateway.routes.stock import out_of_bounds
from connectors.gateway.state import HistoryDep, SettingsDep
from connectors.inspect.errors import ServiceDown
from connectors.inspect.explain import explanation
from connectors.inspect.history import history
from connectors.inspect.published import redis_client
from connectors.inspect.stock import ledger_snapshot, stock_of

router = APIRouter(prefix="/console", include_in_schema=False)
HISTORY_SHOWN = 50
AT_CHARS_MAX = 64  # an ISO 8601 time with offset and microseconds is 32


@router.get("/sku/{sku}", response_class=HTMLResponse)
async def sku_page(
    request: Request,
    sku: SkuPath,
    who: ViewerDep,
    console: ConsoleDep,
    settings: SettingsDep,
    log: HistoryDep,
    at: str = "",
) -> HTMLResponse:
    """`?at=TIME`: the SKU as it was then too, rebuilt from the event log."""
    as_of = await _as_of_context(log, settings, who, sku, at.strip())
    context = await _stock_context(settings, who, sku)
    timeline = await history(settings, sku, limit=HISTORY_SHOWN)
    status = 422 if as_of.get("as_of_error") else 200
    return page(request, console, who, "sku.html", status, history=timeline, **context, **as_of)


@router.get("/sku/{sku}/stock", response_class=HTMLResponse)
async def sku_stock_fragment(
    request: Request, sku: SkuPath, who: ViewerDep, console: ConsoleDep, settings: SettingsDep
) -> HTMLResponse:
    """The live part of the page, re-fetched when the SKU's figures change."""
    return _fragment(request, console, who, await _stock_context(settings, who, sku))


def _fragment(
    request: Request, console: ConsoleState, who: Viewer, context: dict[str, Any]
) -> HTMLResponse:
    return page(request, console, who, "sku_stock.html", **context)


async def _stock_context(settings: Settings, who: Viewer, sku: str) -> dict[str, Any]:
    snapshot = await ledger_snapshot(settings, sku)
    visible = who.channels(snapshot.book.channels)
    async with redis_client(settings) as client:
        report = await stock_of(client, snapshot)
    channels = [row for row in report.channels if row.channel in visible]
    explanations = [explanation(snapshot, row.channel, row.published) for row in channels]
    return {"sku": sku, "report": report, "channels": channels, "explanations": explanations}


async def _as_of_context(
    log: History, settings: Settings, who: Viewer, sku: str, text: str
) -> dict[str, Any]:
    """The as-of form's value, and the SKU as of that time (UTC when no offset is given)."""
    if not text:
        return {"at": ""}
    try:
        moment = datetime.fromisoformat(text[:AT_CHARS_MAX])
    except ValueError:
        text = text[:AT_CHARS_MAX]
        return {"at": text, "as_of_error": f"{text!r} is not a time (YYYY-MM-DDTHH:MM:SS)"}
    moment = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)
    wrong = out_of_bounds(moment, datetime.now(UTC))
    if wrong is not None:
        return {"at": text, "as_of_error": wrong}
    try:
        report = await log.stock_as_of(sku, moment)
    except BackendUnavailable as error:
        raise ServiceDown("The event log", settings.kafka.bootstrap, str(error)) from None
    visible = set(who.channels(row.channel for row in report.channels))
    channels = [row for row in report.channels if row.channel in visible]
    return {"at": text, "as_of": report, "as_of_channels": channels}
