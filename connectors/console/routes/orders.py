"""An order as a person reads it: its routing decisions with every rule's ranking, its
shipments, pick rejections and re-routes (the order processor's view in Redis)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connectors.console.access import NotAllowed, ViewerDep
from connectors.console.pages import page
from connectors.console.state import ConsoleDep
from connectors.gateway.params import ChannelPath
from connectors.gateway.state import ReadsDep
from ledger.orders.ids import order_ref

router = APIRouter(prefix="/console", include_in_schema=False)
Field = Annotated[str, Query(max_length=128)]


@router.get("/orders", response_class=HTMLResponse)
async def orders_form(
    request: Request, who: ViewerDep, console: ConsoleDep, channel: Field = "", order_id: Field = ""
) -> Response:
    if channel and order_id:
        return RedirectResponse(f"/console/orders/{channel}/{order_id}", status_code=303)
    return page(request, console, who, "orders.html", view=None, channel=channel, missing=False)


@router.get("/orders/{channel}/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request,
    channel: ChannelPath,
    order_id: Annotated[str, Path(min_length=1, max_length=128)],
    who: ViewerDep,
    console: ConsoleDep,
    reads: ReadsDep,
) -> HTMLResponse:
    if not who.may_see_orders_of(channel):
        raise NotAllowed(f"this key may not see the orders of channel {channel!r}")
    raw = await reads.order_view(order_ref(channel, order_id))
    view: dict[str, Any] | None = None if raw is None else orjson.loads(raw)
    return page(
        request, console, who, "orders.html", view=view, channel=channel, order_id=order_id,
        missing=view is None, status_code=200 if view is not None else 404,
    )  # fmt: skip
