"""The read path (from Redis): availability of SKUs in a channel, and units by location."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from connectors.gateway.access import Principal, require_any_channel, require_channel
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


@router.get(
    "/v1/availability/{channel}/{sku}",
    response_model=Availability,
    responses=ERROR_RESPONSES,
    summary="Available-to-sell of one SKU in one channel (0 if never published)",
)
async def availability(
    channel: ChannelPath, sku: SkuPath, who: Principal, reads: ReadsDep
) -> Availability:
    require_channel(who, channel)
    (figure,) = await reads.ats(channel, [sku])
    return Availability(
        channel=channel,
        sku=sku,
        available=max(0, figure.available or 0),
        version=figure.version,
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
