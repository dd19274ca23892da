"""`GET /v1/promise`: before an order exists, when `qty` of a SKU would reach the shopper, per
location that has it now (earliest first), from the published figures and the locations'
calendars (ledger.promise.dates); and, when none has it, the day the channel expects it back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from base.horizons import parse_horizon
from connectors.gateway.access import Principal
from connectors.gateway.catalog import Catalog
from connectors.gateway.errors import ERROR_RESPONSES, refuse
from connectors.gateway.models import ItemError
from connectors.gateway.order_models import PostalCode
from connectors.gateway.promise_models import PromiseOption, PromiseReply
from connectors.gateway.routes.orders import ChannelQuery, channel_of
from connectors.gateway.state import CatalogDep, ReadsDep
from ledger import limits
from ledger.orders.planning import ships_from
from ledger.policy import ChannelPolicy, PolicyBook
from ledger.promise.dates import Point, shipment_dates
from ledger.sourcing.geo import UNKNOWN_KM, haversine_km

router = APIRouter()
OPTIONS_MAX = 10  # locations listed, earliest first
ONE_OF = "give one of `to` (a postal code) or `pickup` (a location)"


@router.get(
    "/v1/promise",
    response_model=PromiseReply,
    responses=ERROR_RESPONSES,
    summary="When qty of a SKU would reach the shopper (or be ready to collect), per "
    "location that has it now; else when the channel expects it back",
)
async def promise(
    who: Principal,
    reads: ReadsDep,
    catalog: CatalogDep,
    sku: Annotated[
        str,
        Query(min_length=1, max_length=limits.ID_CHARS_MAX, pattern=limits.ID_PATTERN),
    ],
    qty: Annotated[int, Query(ge=1, le=limits.ORDER_LINE_UNITS_MAX)] = 1,
    to: Annotated[
        PostalCode | None,
        Query(description="The shopper's postal code (one of `to` or `pickup`, else 422)."),
    ] = None,
    pickup: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=limits.ID_CHARS_MAX,
            pattern=limits.ID_PATTERN,
            description="Collect at this location instead (one of `to` or `pickup`).",
        ),
    ] = None,
    channel: ChannelQuery = None,
) -> PromiseReply | JSONResponse:
    name = channel_of(who, channel)
    policy = catalog.channel(name)
    errors, destination = _where_to(catalog, policy, name, to, pickup)
    if errors or policy is None:
        return refuse(422, "cannot promise", errors)
    stock, _ = await reads.locations(sku)
    now = datetime.now(UTC)
    book = catalog.policy_book()
    options = sorted(
        (
            _option(book, policy, location, units, now, destination, pickup)
            for location, units in stock.items()
            if units >= qty and _may_send(book, policy, location, pickup)
        ),
        key=_earliest_first,
    )[:OPTIONS_MAX]
    back = None if options else await _back_in_stock_on(reads, name, sku, qty, now.date())
    return PromiseReply(
        channel=name,
        sku=sku,
        qty=qty,
        options=options,
        earliest=options[0] if options else None,
        back_in_stock_on=back,
    )


def _where_to(
    catalog: Catalog,
    policy: ChannelPolicy | None,
    channel: str,
    to: str | None,
    pickup: str | None,
) -> tuple[list[ItemError], Point | None]:
    """The shopper's point (None for a pickup), or why the request cannot be answered."""
    if policy is None:
        return [ItemError(field="channel", reason=f"unknown channel {channel!r}")], None
    if (to is None) == (pickup is None):
        return [ItemError(field="query.to", reason=ONE_OF)], None
    if pickup is not None:
        if not catalog.may_hand_over(policy, pickup):
            reason = f"channel {channel!r} does not hand over orders at {pickup!r}"
            return [ItemError(field="query.pickup", reason=reason)], None
        return [], None
    point = catalog.place(to or "")
    if point is None:
        return [ItemError(field="query.to", reason="unknown postal code")], None
    return [], point


def _may_send(book: PolicyBook, policy: ChannelPolicy, location: str, pickup: str | None) -> bool:
    """The location may fill the order: it hands it over itself, or ships from the pool."""
    if location == pickup:
        return True
    if pickup is not None and "pickup_location_only" in policy.sourcing_rules:
        return False
    return location in policy.locations and ships_from(book.locations.get(location))


def _option(
    book: PolicyBook,
    policy: ChannelPolicy,
    location: str,
    units: int,
    now: datetime,
    destination: Point | None,
    pickup: str | None,
) -> PromiseOption:
    dates = shipment_dates(book, policy, location, now, destination, pickup)
    return PromiseOption(
        location=location,
        available=units,
        ship_on=dates.ship_on,
        deliver_on=dates.deliver_on,
        ready_at=dates.ready_at,
        distance_km=_km(book, location, destination, pickup),
    )


def _km(
    book: PolicyBook, location: str, destination: Point | None, pickup: str | None
) -> int | None:
    if location == pickup:
        return 0
    here = book.locations.get(location)
    there = destination
    if there is None and pickup is not None and pickup in book.locations:
        there = book.locations[pickup].coordinates
    if here is None or here.coordinates is None or there is None:
        return None
    km = haversine_km(here.coordinates, there)
    return None if km >= UNKNOWN_KM else round(km)


def _earliest_first(option: PromiseOption) -> tuple[str, int, str]:
    arrives = option.ready_at.isoformat() if option.ready_at else str(option.deliver_on)
    far = option.distance_km if option.distance_km is not None else UNKNOWN_KM
    return (arrives, far, option.location)


async def _back_in_stock_on(
    reads: ReadsDep, channel: str, sku: str, qty: int, today: date
) -> date | None:
    published = await reads.horizon(channel, sku)
    if published is None or published.text is None:
        return None
    try:
        horizon = parse_horizon(published.text)
    except (ValueError, KeyError, TypeError):
        return None
    return next((max(day, today) for day, units in horizon.steps if units >= qty), None)
