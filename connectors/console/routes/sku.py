"""A SKU's page: buckets per location and channel figures (live), why each channel shows
what it shows (the explain view), and its history timeline (newest first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from base.settings import Settings
from connectors.console.access import Viewer, ViewerDep
from connectors.console.pages import page
from connectors.console.state import ConsoleDep, ConsoleState
from connectors.gateway.params import SkuPath
from connectors.gateway.state import SettingsDep
from connectors.inspect.explain import explanation
from connectors.inspect.history import history
from connectors.inspect.published import redis_client
from connectors.inspect.stock import ledger_snapshot, stock_of

router = APIRouter(prefix="/console", include_in_schema=False)
HISTORY_SHOWN = 50


@router.get("/sku/{sku}", response_class=HTMLResponse)
async def sku_page(
    request: Request, sku: SkuPath, who: ViewerDep, console: ConsoleDep, settings: SettingsDep
) -> HTMLResponse:
    context = await _stock_context(settings, who, sku)
    timeline = await history(settings, sku, limit=HISTORY_SHOWN)
    return page(request, console, who, "sku.html", history=timeline, **context)


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
