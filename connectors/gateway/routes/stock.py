"""`GET /v1/stock/{sku}?at=TIME` (a channel or admin key): a SKU's positions and channel
figures as they were at a past time, rebuilt from the event log (bounded by retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from connectors.gateway.access import Principal, require_any_channel
from connectors.gateway.errors import ERROR_RESPONSES, refuse
from connectors.gateway.models import ItemError
from connectors.gateway.params import SkuPath
from connectors.gateway.state import HistoryDep
from connectors.gateway.stock_models import StockAsOfReply
from ledger import limits

router = APIRouter()
AHEAD_S_MAX = limits.OCCURRED_AHEAD_OF_INGEST_S_MAX  # a client's clock may run this far ahead
AT_NOTE = (
    f"ISO 8601 (UTC when it has no offset), from {limits.TIMESTAMP_MIN.isoformat()} to "
    f"{AHEAD_S_MAX} s after the gateway's clock; otherwise 422."
)


@router.get(
    "/v1/stock/{sku}",
    response_model=StockAsOfReply,
    responses=ERROR_RESPONSES,
    summary="A SKU's positions and channel figures as they were at a past time, rebuilt "
    "from the event log (bounded by retention: `complete` says whether records were missing)",
)
async def stock_as_of(
    sku: SkuPath,
    at: Annotated[datetime, Query(description=AT_NOTE)],
    who: Principal,
    history: HistoryDep,
) -> StockAsOfReply | JSONResponse:
    require_any_channel(who)
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    wrong = out_of_bounds(moment, datetime.now(UTC))
    if wrong is not None:
        return refuse(422, "invalid at", [ItemError(field="query.at", reason=wrong)])
    report = await history.stock_as_of(sku, moment)
    return StockAsOfReply.of(report, None if who.is_admin else who.channel)


def out_of_bounds(at: datetime, now: datetime) -> str | None:
    """Why `at` (tz-aware) cannot be asked for, or None."""
    if at < limits.TIMESTAMP_MIN:
        return f"at: before {limits.TIMESTAMP_MIN.isoformat()}"
    if at > now + timedelta(seconds=AHEAD_S_MAX):
        return f"at: more than {AHEAD_S_MAX} s after the gateway's clock"
    return None
