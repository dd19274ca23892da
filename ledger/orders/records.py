"""The records of `tally.orders` (key: the order ref) and `tally.capacity` (key: location).

`place`, `cancel`, `reject_pick`, `picked`, `shipped` and `delivered` come from the gateway;
`planned`, `decision`, `capacity`, `timeout` and `dated` are the order processor's own saga
steps; `supply` is the per-SKU worker's word on a hold waiting on supply. All are folded by
`ledger.orders.saga.step`, one order at a time, in log order.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from ledger import limits
from ledger.commands import Decision
from ledger.fields import (
    WIRE_CONFIG,
    ChannelId,
    CountUnits,
    LocationId,
    Reason,
    Sku,
    Timestamp,
    Token,
)

OrderUnits = Annotated[int, Field(ge=1, le=limits.ORDER_LINE_UNITS_MAX)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
PickRejectReason = Literal["not_found", "damaged", "wrong_item", "other"]
PICK_REJECT_REASONS: tuple[PickRejectReason, ...] = (
    "not_found",
    "damaged",
    "wrong_item",
    "other",
)
Score = int | tuple[int, ...] | str


class OrderLine(BaseModel):
    model_config = WIRE_CONFIG

    sku: Sku
    qty: OrderUnits


class ShipTo(BaseModel):
    """Deliver to a point (the gateway turns a postal code into one)."""

    model_config = WIRE_CONFIG

    mode: Literal["ship"] = "ship"
    latitude: Latitude
    longitude: Longitude
    postal_code: Token | None = None  # as the shopper gave it, for the record


class PickUp(BaseModel):
    """Hand the order over at a location (buy online, pick up in store)."""

    model_config = WIRE_CONFIG

    mode: Literal["pickup"] = "pickup"
    location: LocationId


Delivery = Annotated[ShipTo | PickUp, Field(discriminator="mode")]
OrderLines = Annotated[
    tuple[OrderLine, ...], Field(min_length=1, max_length=limits.ORDER_LINES_MAX)
]


class _OrderRecord(BaseModel):
    model_config = WIRE_CONFIG

    ref: Token
    issued_at: Timestamp  # log time: the gateway's or the order processor's clock


class PlaceOrder(_OrderRecord):
    """An order as the channel placed it (its delivery resolved to a point or a pickup)."""

    type: Literal["place"] = "place"
    channel: ChannelId
    order_id: Token
    lines: OrderLines
    delivery: Delivery
    max_shipments: int = Field(ge=1, le=limits.ORDER_SHIPMENTS_MAX)
    allow_partial: bool
    # Units no location has now may wait on supply expected there (docs/PROMISE.md).
    allow_backorder: bool = False
    digest: Token  # of the order as the channel sent it: same id, other content -> 409

    @model_validator(mode="after")
    def _distinct_skus(self) -> PlaceOrder:
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError("lines: a sku is listed twice (put the units in one line)")
        return self


class CancelOrder(_OrderRecord):
    """The channel cancels the order: holds released, committed units given back."""

    type: Literal["cancel"] = "cancel"
    reason: Reason | None = None


class RejectPick(_OrderRecord):
    """A store could not pick its shipment (the units were not there, or not sellable)."""

    type: Literal["reject_pick"] = "reject_pick"
    location: LocationId
    reason: PickRejectReason
    note: Reason | None = None


class MarkPicked(_OrderRecord):
    """The shipment at `location` was picked."""

    type: Literal["picked"] = "picked"
    location: LocationId


class MarkShipped(_OrderRecord):
    """The shipment left (or, for a pickup order, was handed to the shopper)."""

    type: Literal["shipped"] = "shipped"
    location: LocationId


class RankedRecord(BaseModel):
    model_config = WIRE_CONFIG

    locations: tuple[LocationId, ...]
    score: Score


class RuleRankingRecord(BaseModel):
    model_config = WIRE_CONFIG

    rule: str
    seen: int
    kept: int
    ranked: tuple[RankedRecord, ...]


class PlannedShipment(BaseModel):
    model_config = WIRE_CONFIG

    location: LocationId
    lines: tuple[OrderLine, ...]
    capacity_day: date  # the location's local day the order takes capacity on
    # The promise (docs/PROMISE.md): the day it ships, the day it is delivered (to the
    # shopper, or to the pickup store), when a pickup is ready. Null in records older than it.
    ship_on: date | None = None
    deliver_on: date | None = None
    ready_at: Timestamp | None = None
    # A backorder: the ETA of the supply its units wait on (its dates count from it).
    waits_until: Timestamp | None = None


class Planned(_OrderRecord):
    """A plan the order processor computed; the first of each `plan_seq` is adopted."""

    type: Literal["planned"] = "planned"
    plan_seq: int = Field(ge=1, le=limits.ORDER_ROUNDS_MAX * (limits.ORDER_REROUTES_MAX + 1))
    shipments: tuple[PlannedShipment, ...]
    locations: tuple[LocationId, ...]  # every shipment once held: kept ones and new ones
    unfilled: tuple[OrderLine, ...]
    rankings: tuple[RuleRankingRecord, ...]
    candidates_considered: int
    truncated: bool
    stock_seen: dict[Sku, dict[LocationId, int]]  # what the plan was computed from


class OrderDecision(_OrderRecord):
    """A per-SKU ledger decision on one of the order's holds (routed by its hold id)."""

    type: Literal["decision"] = "decision"
    decision: Decision


class CapacityAnswer(_OrderRecord):
    type: Literal["capacity"] = "capacity"
    location: LocationId
    day: date
    outcome: Literal["accepted", "rejected"]


class SupplyNotice(_OrderRecord):
    """The per-SKU worker: the order's hold `hold_id` now waits for `waiting` units of
    supply due at `eta` (0: they arrived, or the hold no longer waits), still `covered` by
    what is expected or not (a short or cancelled supply). `sku_version` orders notices."""

    type: Literal["supply"] = "supply"
    hold_id: Token
    channel: ChannelId  # the hold's (hold ids are each channel's own)
    sku: Sku
    location: LocationId
    supply_order: Token
    waiting: CountUnits
    eta: Timestamp | None
    covered: bool
    sku_version: int = Field(ge=0)


class DatedShipment(BaseModel):
    model_config = WIRE_CONFIG

    location: LocationId
    ship_on: date
    deliver_on: date | None
    ready_at: Timestamp | None
    waits_until: Timestamp | None  # the supply ETA the dates count from


class Dated(_OrderRecord):
    """The order processor's promise dates for the order's shipments, asked for at `step`
    (a hold's supply moved)."""

    type: Literal["dated"] = "dated"
    step: int
    shipments: tuple[DatedShipment, ...]


class MarkDelivered(_OrderRecord):
    """The shipment from `location` reached the shopper (a pickup: was collected) on
    `delivered_on`, the shopper's day as the carrier or store reports it: scored against
    the promise."""

    type: Literal["delivered"] = "delivered"
    location: LocationId
    delivered_on: date

    @model_validator(mode="after")
    def _a_day_that_can_be(self) -> MarkDelivered:
        refused = delivery_day_refused(self.delivered_on, self.issued_at.astimezone(UTC).date())
        if refused is not None:
            raise ValueError(f"delivered_on: {refused}")
        return self


def delivery_day_refused(day: date, reported_on: date) -> str | None:
    """Why a delivery day reported on UTC day `reported_on` cannot be (None: it can): in the
    future (the shopper's day runs at most one day ahead of UTC's), or older than a report
    can be late (`limits.DELIVERY_REPORT_DAYS_MAX`): scored, either would skew on-time."""
    latest = reported_on + timedelta(days=1)
    earliest = reported_on - timedelta(days=limits.DELIVERY_REPORT_DAYS_MAX)
    if day > latest:
        return f"after {latest.isoformat()}: a delivery day in the future"
    if day < earliest:
        return (
            f"before {earliest.isoformat()}: reported more than "
            f"{limits.DELIVERY_REPORT_DAYS_MAX} days after the delivery"
        )
    return None


class Timeout(_OrderRecord):
    """The order waited too long at step `step` for answers: ask again, or give up."""

    type: Literal["timeout"] = "timeout"
    step: int


OrderRecordUnion = (
    PlaceOrder
    | CancelOrder
    | RejectPick
    | MarkPicked
    | MarkShipped
    | Planned
    | OrderDecision
    | CapacityAnswer
    | Timeout
    | SupplyNotice
    | Dated
    | MarkDelivered
)
OrderRecord = Annotated[OrderRecordUnion, Field(discriminator="type")]


class CapacityAsk(BaseModel):
    """`tally.capacity` (key: location): take or give back one order's slot on a day."""

    model_config = WIRE_CONFIG

    type: Literal["take", "give"]
    location: LocationId
    day: date
    ref: Token
    issued_at: Timestamp
