"""The stock lookup (phone first): a SKU at this store, the nearest stores, channels, supply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter

from connectors.console.access import Viewer, ViewerDep
from connectors.console.barcodes import sku_for
from connectors.console.figures import live_figures, lookup
from connectors.console.pages import page
from connectors.console.state import ConsoleDep
from connectors.gateway.state import ReadsDep, SettingsDep
from connectors.inspect.stock import ledger_snapshot
from ledger.fields import Sku

router = APIRouter(prefix="/console", include_in_schema=False)
_SKU: TypeAdapter[str] = TypeAdapter(Sku)
QueryText = Annotated[str, Query(max_length=128)]


@router.get("", include_in_schema=False)
async def console_root() -> Response:
    return RedirectResponse("/console/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def lookup_page(
    request: Request,
    who: ViewerDep,
    console: ConsoleDep,
    settings: SettingsDep,
    reads: ReadsDep,
    q: QueryText = "",
    store: QueryText = "",
) -> HTMLResponse:
    sku = sku_for(q, console.barcodes) if q else None
    error = (
        "Not a known barcode nor a SKU (letters, digits and - _ . : / only)."
        if q and sku is None
        else None
    )
    found = None
    stores: list[str] = []
    if sku is not None:
        snapshot = await ledger_snapshot(settings, sku)
        channels = who.channels(snapshot.book.channels)
        figures = await live_figures(reads, sku, channels)
        stores = sorted(set(snapshot.book.locations) | set(figures.locations))
        found = lookup(snapshot.state_or_empty(), snapshot.book, figures, _here(who, store))
    return page(
        request, console, who, "lookup.html", q=q, sku=sku, error=error, found=found,
        stores=stores, store=store,
    )  # fmt: skip


def _here(who: Viewer, chosen: str) -> list[str]:
    """A store associate's own stores; anyone else's chosen store (if any)."""
    if who.stores:
        return list(who.stores)
    return [chosen] if chosen else []
