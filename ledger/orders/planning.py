"""A saga's `NeedPlan` -> the `planned` record: the planner's inputs from the policy book and
the stock and capacity the order processor read, and its output as a record of the log, each
shipment with its promise dates (ledger.promise.dates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger.orders.promise_steps import NeedDates
from ledger.orders.records import (
    Dated,
    DatedShipment,
    OrderLine,
    PickUp,
    Planned,
    PlannedShipment,
    RankedRecord,
    RuleRankingRecord,
)
from ledger.orders.saga import NeedPlan
from ledger.orders.state import OrderState
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook
from ledger.promise.dates import ShipmentDates, shipment_dates
from ledger.sourcing import Line, Plan, PlanRequest, Shipment, ShippingBand, Site, plan
from ledger.sourcing.model import DEFAULT_SHIPPING_BANDS, Supply

Stock = Mapping[str, Mapping[str, int]]  # sku -> location -> available units
SupplySeen = Mapping[str, Mapping[str, Supply]]  # sku -> location -> (eta, units) open


def candidate_locations(book: PolicyBook, state: OrderState, need: NeedPlan) -> list[str]:
    """Locations the order's channel may fill it from (and the ones already holding lines)."""
    channel = book.channels.get(state.channel)
    listed: list[str] = []
    if channel is not None:
        listed = [*channel.locations, *channel.pickup_locations]
    listed += [location for location, _ in need.fixed]
    gone = set(need.excluded_locations)
    return [loc for loc in dict.fromkeys(listed) if loc not in gone or _fixed(need, loc)]


def local_day(record: LocationPolicy | None, at: datetime) -> date:
    zone = ZoneInfo(record.time_zone if record is not None else "UTC")
    return at.astimezone(zone).date()


def planned_record(
    need: NeedPlan,
    state: OrderState,
    book: PolicyBook,
    stock: Stock,
    capacity_taken: Mapping[str, int],
    at: datetime,
    supply: SupplySeen | None = None,
) -> Planned:
    """Plan `need` against `stock` (as read at `at`; and the open `supply` for an order that
    may wait on it) and write it down as the log's record."""
    request = plan_request(need, state, book, stock, capacity_taken, at, supply)
    result = plan(request)
    return _record(need, state, book, request, result, at)


def plan_request(
    need: NeedPlan,
    state: OrderState,
    book: PolicyBook,
    stock: Stock,
    capacity_taken: Mapping[str, int],
    at: datetime | None = None,
    supply: SupplySeen | None = None,
) -> PlanRequest:
    """The planner's request; with `at` (when the plan is made), each site knows the day its
    shipment would reach the shopper (`earliest_delivery`), from stock or from each supply."""
    channel = book.channels.get(state.channel)
    locations = candidate_locations(book, state, need)
    pickup, destination = route(state)
    sites = {
        loc: _site(loc, index, channel, book.locations.get(loc), capacity_taken.get(loc, 0))
        for index, loc in enumerate(locations)
    }
    open_supply = supply if state.allow_backorder and supply is not None else {}
    if at is not None:
        sites = {
            loc: _dated_site(site, book, channel, at, route(state), open_supply)
            for loc, site in sites.items()
        }
    return PlanRequest(
        lines=tuple(Line(line.sku, line.qty) for line in need.lines),
        stock={sku: dict(by_location) for sku, by_location in stock.items()},
        sites=sites,
        rules=channel.sourcing_rules if channel is not None else ("fewest_shipments",),
        max_shipments=need.shipments_max,
        allow_partial=state.allow_partial,
        destination=destination,
        pickup_location=pickup,
        shipping_bands=_bands(channel),
        fixed=tuple(
            Shipment(loc, tuple(Line(li.sku, li.qty) for li in lines)) for loc, lines in need.fixed
        ),
        excluded=frozenset(need.excluded),
        allow_backorder=state.allow_backorder,
        supply=open_supply,
    )


def _dated_site(
    site: Site,
    book: PolicyBook,
    channel: ChannelPolicy | None,
    at: datetime,
    where: tuple[str | None, tuple[float, float] | None],
    supply: SupplySeen,
) -> Site:
    pickup, destination = where
    loc = site.location
    etas = sorted({eta for by_loc in supply.values() for eta, _ in by_loc.get(loc, ())})
    arrivals = tuple(
        (eta, shipment_dates(book, channel, loc, max(at, eta), destination, pickup).arrives_on)
        for eta in etas
    )
    arrives_on = shipment_dates(book, channel, loc, at, destination, pickup).arrives_on
    return replace(site, arrives_on=arrives_on, arrivals=arrivals)


def route(state: OrderState) -> tuple[str | None, tuple[float, float] | None]:
    """Where the order goes: (its pickup location, or None; its point, or None)."""
    delivery = state.delivery
    if isinstance(delivery, PickUp):
        return delivery.location, None
    return None, (delivery.latitude, delivery.longitude)


def _fixed(need: NeedPlan, location: str) -> bool:
    return any(loc == location for loc, _ in need.fixed)


def _site(
    location: str,
    priority: int,
    channel: ChannelPolicy | None,
    record: LocationPolicy | None,
    taken: int,
) -> Site:
    sells = channel is not None and location in channel.locations
    hands_over = channel is not None and location in channel.pickup_locations
    ships = ships_from(record)
    limit = None if record is None else record.daily_order_capacity
    coordinates = None if record is None else record.coordinates
    return Site(
        location=location,
        priority=priority,
        latitude=None if coordinates is None else coordinates[0],
        longitude=None if coordinates is None else coordinates[1],
        can_ship=sells and ships,
        can_pickup=hands_over and (record is None or record.may("pickup")),
        capacity_left=None if limit is None else max(0, limit - taken),
        handling_per_order_cents=0 if record is None else record.handling_cost_per_order_cents,
        handling_per_unit_cents=0 if record is None else record.handling_cost_per_unit_cents,
    )


def _start(at: datetime, shipment: Shipment) -> datetime:
    """When a shipment's units are all there: now, or the ETA of the supply it waits on."""
    return at if shipment.waits_until is None else max(at, shipment.waits_until)


def _planned_shipment(shipment: Shipment, day: date, dates: ShipmentDates) -> PlannedShipment:
    return PlannedShipment(
        location=shipment.location,
        lines=tuple(OrderLine(sku=li.sku, qty=li.qty) for li in shipment.lines),
        capacity_day=day,
        ship_on=dates.ship_on,
        deliver_on=dates.deliver_on,
        ready_at=dates.ready_at,
        waits_until=shipment.waits_until,
    )


def ships_from(record: LocationPolicy | None) -> bool:
    """Whether a location may ship orders (no record: it may; a store with either)."""
    if record is None or record.may("ship"):
        return True
    return record.location_type == "store" and record.may("ship_from_store")


def _bands(channel: ChannelPolicy | None) -> tuple[ShippingBand, ...]:
    if channel is None:
        return DEFAULT_SHIPPING_BANDS
    return tuple(ShippingBand(b.up_to_km, b.cents, b.transit()) for b in channel.shipping_bands)


def _record(
    need: NeedPlan,
    state: OrderState,
    book: PolicyBook,
    request: PlanRequest,
    result: Plan,
    at: datetime,
) -> Planned:
    channel = book.channels.get(state.channel)
    pickup, destination = route(state)
    return Planned(
        ref=need.ref,
        issued_at=at,
        plan_seq=need.plan_seq,
        shipments=tuple(
            _planned_shipment(
                shipment,
                local_day(book.locations.get(shipment.location), at),
                shipment_dates(
                    book, channel, shipment.location, _start(at, shipment), destination, pickup
                ),
            )
            for shipment in result.shipments
        ),
        locations=result.locations,
        unfilled=tuple(OrderLine(sku=li.sku, qty=li.qty) for li in result.unfilled),
        rankings=tuple(
            RuleRankingRecord(
                rule=ranking.rule,
                seen=ranking.seen,
                kept=ranking.kept,
                ranked=tuple(
                    RankedRecord(locations=r.locations, score=r.score) for r in ranking.ranked
                ),
            )
            for ranking in result.rankings
        ),
        candidates_considered=result.candidates_considered,
        truncated=result.truncated,
        stock_seen={
            sku: {loc: units for loc, units in by_location.items() if units > 0}
            for sku, by_location in request.stock.items()
        },
    )


def dated_record(need: NeedDates, state: OrderState, book: PolicyBook, at: datetime) -> Dated:
    """The dates the saga asked for at `at`: each shipment counted from the ETA its units
    wait on (from `at` if that has passed), with the calendars of `book`."""
    channel = book.channels.get(state.channel)
    pickup, destination = route(state)
    shipments = []
    for location, eta in need.shipments:
        dates = shipment_dates(book, channel, location, max(at, eta), destination, pickup)
        shipments.append(
            DatedShipment(
                location=location,
                ship_on=dates.ship_on,
                deliver_on=dates.deliver_on,
                ready_at=dates.ready_at,
                waits_until=eta,
            )
        )
    return Dated(ref=need.ref, issued_at=at, step=need.step, shipments=tuple(shipments))
