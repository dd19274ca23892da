"""The read path (from Redis): availability of SKUs in a channel (today's, or on a day ahead
from the worker's horizon), and units by location."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from base.horizons import parse_horizon
from connectors.gateway.access import Principal, require_any_channel, require_channel
from connectors.gateway.backends import Figure
from connectors.gateway.errors import ERROR_RESPONSES, refuse
from connectors.gateway.models import (
    Availability,
    AvailabilityBatch,
    ItemError,
    LocationAvailability,
    Locations,
)
from connectors.gateway.params import ChannelPath, SkuPath
from connectors.gateway.state import ReadsDep, SettingsDep
from ledger.fields import Sku

log = logging.getLogger("tally.gateway")
router = APIRouter()
_SKU: TypeAdapter[str] = TypeAdapter(Sku)


@router.get(
    "/v1/availability/{channel}",
    response_model=AvailabilityBatch,
    responses=ERROR_RESPONSES,
    summary="Available-to-sell of several SKUs in one channel",
)
async def availability_batch(
    channel: ChannelPath,
    who: Principal,
    sku: Annotated[list[str], Query(description="repeat: ?sku=A&sku=B")],
    settings: SettingsDep,
    reads: ReadsDep,
) -> AvailabilityBatch | JSONResponse:
    require_channel(who, channel)
    skus_max = settings.gateway.availability_skus_max
    if len(sku) > skus_max:
        return refuse(413, f"sku: {len(sku)} given, over {skus_max}")
    bad = [ItemError(index=i, field="sku", reason=r) for i, r in _invalid_skus(sku)]
    if bad:
        return refuse(422, "invalid sku", bad)
    figures = await reads.ats(channel, sku)
    items = [
        Availability(channel=channel, sku=s, available=max(0, f.available or 0), version=f.version)
        for s, f in zip(sku, figures, strict=True)
    ]
    return AvailabilityBatch(channel=channel, items=items)


ByQuery = Annotated[
    date | None,
    Query(
        description="Availability on this day (YYYY-MM-DD, from yesterday to "
        "`atp_horizon_days` ahead, UTC): stock plus supply expected by then, less what is "
        "promised against it (docs/PROMISE.md). Without it: today's figure.",
    ),
]


@router.get(
    "/v1/availability/{channel}/{sku}",
    response_model=Availability,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
    summary="Available-to-sell of one SKU in one channel (0 if never published), or "
    "available-to-promise on a day ahead (?by=)",
)
async def availability(
    channel: ChannelPath,
    sku: SkuPath,
    who: Principal,
    reads: ReadsDep,
    settings: SettingsDep,
    by: ByQuery = None,
) -> Availability | JSONResponse:
    require_channel(who, channel)
    (figure,) = await reads.ats(channel, [sku])
    today = Availability(
        channel=channel,
        sku=sku,
        available=max(0, figure.available or 0),
        version=figure.version,
    )
    if by is None:
        return today
    bad = by_out_of_range(by, datetime.now(UTC).date(), settings.worker.atp_horizon_days)
    if bad is not None:
        return refuse(422, "invalid date", [ItemError(field="query.by", reason=bad)])
    return by_date(today, by, await reads.horizon(channel, sku))


def by_out_of_range(by: date, today: date, horizon_days: int) -> str | None:
    """Why `?by=` is refused (None: it is within the horizon)."""
    first, last = today - timedelta(days=1), today + timedelta(days=horizon_days - 1)
    if by < first:
        return f"before {first.isoformat()}: availability by date looks ahead only"
    if by > last:
        return f"after {last.isoformat()}: beyond the {horizon_days}-day horizon"
    return None


def by_date(today: Availability, by: date, published: Figure | None) -> Availability:
    """The figure on day `by`: the published horizon's, or today's when nothing is expected
    (no horizon, a flat one, or one that cannot be read)."""
    horizon = None
    if published is not None and published.text is not None:
        try:
            horizon = parse_horizon(published.text)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable availability by date of %s: %r", today.sku, published.text)
    units = None if horizon is None else horizon.on(by)
    if horizon is None or units is None:
        return today.model_copy(update={"by": by})
    return Availability(
        channel=today.channel,
        sku=today.sku,
        available=units,
        version=published.version if published is not None else None,
        by=by,
        through=horizon.last,
    )


@router.get(
    "/v1/locations/{sku}",
    response_model=Locations,
    responses=ERROR_RESPONSES,
    summary="Available units of one SKU at every location that has a figure for it",
)
async def locations(sku: SkuPath, who: Principal, reads: ReadsDep) -> Locations:
    require_any_channel(who)
    found, truncated = await reads.locations(sku)
    return Locations(
        sku=sku,
        locations=[
            LocationAvailability(location=loc, available=max(0, units))
            for loc, units in sorted(found.items())
        ],
        truncated=truncated,
    )


def _invalid_skus(skus: list[str]) -> list[tuple[int, str]]:
    bad = []
    for index, value in enumerate(skus):
        try:
            _SKU.validate_python(value)
        except ValidationError as error:
            bad.append((index, error.errors(include_url=False)[0]["msg"]))
    return bad
