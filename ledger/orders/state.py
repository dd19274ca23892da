"""An order's state: what it asked for, what it holds where, and where its saga stands."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ledger.fields import LocationId, Sku, Timestamp, Token
from ledger.orders.records import (
    Delivery,
    OrderLine,
    PickRejectReason,
    PlaceOrder,
    Planned,
    RuleRankingRecord,
)

OrderStatus = Literal[
    "placed",  # waiting for its first plan
    "allocating",  # holds asked, being committed, or re-planned
    "allocated",  # every unit committed at its shipment's location
    "partially_allocated",  # some units committed, the rest could not be sourced
    "refused",  # nothing could be sourced; every hold it took was given back
    "cancelled",
    "completed",  # every shipment shipped or handed over
]
Phase = Literal["await_plan", "reserving", "committing", "settled", "closed"]
HoldStatus = Literal[
    "asked",  # reserve sent, no decision yet
    "held",  # pending hold placed
    "refused",  # reserve rejected (or given up on)
    "committing",  # commit sent
    "committed",  # units committed to the order at the location
    "commit_refused",  # the pending hold was gone (expired) when committed
    "releasing",  # release sent
    "released",  # the pending hold was given back
    "given_back",  # committed units given back (order_cancelled fact)
    "shipped",  # the units left the location (shipped fact)
]
SlotStatus = Literal["asked", "taken", "refused", "given_back"]
ShipmentStatus = Literal["allocated", "picked", "shipped", "rejected"]

HOLDING: frozenset[HoldStatus] = frozenset({"held", "committing", "committed", "shipped"})
PENDING_ANSWER: frozenset[HoldStatus] = frozenset({"asked", "committing", "releasing"})
TERMINAL: frozenset[OrderStatus] = frozenset({"refused", "cancelled", "completed"})
PLANS_KEPT_MAX = 8  # adopted plans kept for the explanation (the newest)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class HoldLine(_Value):
    hold_id: Token
    sku: Sku
    location: LocationId
    qty: int
    plan_seq: int
    status: HoldStatus = "asked"
    release_attempts: int = 0
    # A backorder: units still waiting on supply, its ETA, whether the supply still covers
    # them, and the SKU version of the last supply notice taken (older ones are ignored).
    waiting: int = 0
    eta: Timestamp | None = None
    covered: bool = True
    notice_version: int = -1


class CapacitySlot(_Value):
    location: LocationId
    day: date
    status: SlotStatus = "asked"


class PickRejection(_Value):
    location: LocationId
    reason: PickRejectReason
    note: str | None
    lines: tuple[OrderLine, ...]
    at: Timestamp


class ShipmentPromise(_Value):
    """What the order promises for one shipment (ledger.promise.dates; docs/PROMISE.md)."""

    ship_on: date | None
    deliver_on: date | None
    ready_at: Timestamp | None
    waits_until: Timestamp | None = None  # the supply ETA the dates count from


class AdoptedPlan(_Value):
    """An adopted plan as `tally explain-order` shows it (stock_seen stays in the log)."""

    plan_seq: int
    shipments: tuple[tuple[LocationId, tuple[OrderLine, ...]], ...]
    locations: tuple[LocationId, ...]
    unfilled: tuple[OrderLine, ...]
    rankings: tuple[RuleRankingRecord, ...]
    candidates_considered: int
    truncated: bool
    at: Timestamp

    @classmethod
    def of(cls, planned: Planned) -> AdoptedPlan:
        return cls(
            plan_seq=planned.plan_seq,
            shipments=tuple((s.location, s.lines) for s in planned.shipments),
            locations=planned.locations,
            unfilled=planned.unfilled,
            rankings=planned.rankings,
            candidates_considered=planned.candidates_considered,
            truncated=planned.truncated,
            at=planned.issued_at,
        )


class OrderState(_Value):
    ref: Token
    channel: str
    order_id: Token
    lines: tuple[OrderLine, ...]
    delivery: Delivery
    max_shipments: int
    allow_partial: bool
    digest: Token
    placed_at: Timestamp
    allow_backorder: bool = False
    status: OrderStatus = "placed"
    phase: Phase = "await_plan"
    plan_seq: int = 0  # the last adopted plan
    pass_first_plan: int = 1  # the first plan of this allocation pass (re-routes start one)
    reroutes: int = 0
    holds: tuple[HoldLine, ...] = ()
    capacity: tuple[CapacitySlot, ...] = ()
    excluded: tuple[tuple[Sku, LocationId], ...] = ()
    excluded_locations: tuple[LocationId, ...] = ()
    rejections: tuple[PickRejection, ...] = ()
    shipments: dict[LocationId, ShipmentStatus] = {}
    plans: tuple[AdoptedPlan, ...] = ()
    promises: dict[LocationId, ShipmentPromise] = {}  # per shipment, from its latest plan
    # The order's promise as announced once it was allocated (a day, or a pickup's ready
    # time), the one before it, and the version at which it last changed (0: never).
    promised: str | None = None
    promised_before: str | None = None
    promise_version: int = 0
    dates_asked: int = 0  # the version at which new dates were last asked for (`dated`)
    delivered: dict[LocationId, date] = {}  # shipments reported delivered (or collected)
    facts_sent: int = 0  # facts emitted so far: the next one's id sequence
    timeouts: int = 0  # consecutive timeouts at this version
    version: int = 1  # records applied that changed the order (the Redis view's CAS version)
    updated_at: Timestamp

    @classmethod
    def placed(cls, record: PlaceOrder) -> OrderState:
        """The state of an order just placed: waiting for its first plan."""
        return cls(
            ref=record.ref,
            channel=record.channel,
            order_id=record.order_id,
            lines=record.lines,
            delivery=record.delivery,
            max_shipments=record.max_shipments,
            allow_partial=record.allow_partial,
            allow_backorder=record.allow_backorder,
            digest=record.digest,
            placed_at=record.issued_at,
            updated_at=record.issued_at,
        )

    def held_units(self, sku: str) -> int:
        return sum(h.qty for h in self.holds if h.sku == sku and h.status in HOLDING)

    def unfilled(self) -> tuple[OrderLine, ...]:
        missing = []
        for line in self.lines:
            short = line.qty - self.held_units(line.sku)
            if short > 0:
                missing.append(OrderLine(sku=line.sku, qty=short))
        return tuple(missing)

    def find_hold(self, hold: str) -> HoldLine | None:
        return next((h for h in self.holds if h.hold_id == hold), None)

    def holding_at(self, location: str) -> tuple[HoldLine, ...]:
        return tuple(h for h in self.holds if h.location == location and h.status in HOLDING)

    def waiting(self) -> bool:
        """Asks are out whose answers the saga waits for (a timeout re-asks them)."""
        if self.phase == "await_plan":
            return True
        return any(h.status in PENDING_ANSWER for h in self.holds) or any(
            s.status == "asked" for s in self.capacity
        )

    @property
    def rounds_used(self) -> int:
        return self.plan_seq - self.pass_first_plan + 1

    def holding_locations(self) -> list[str]:
        """Locations holding units of the order, in the order their holds were asked."""
        kept = [h.location for h in self.holds if h.status in HOLDING]
        return [loc for loc in dict.fromkeys(kept) if self.shipments.get(loc) != "rejected"]

    def waits_until(self, location: str) -> datetime | None:
        """The latest ETA the order's units at `location` still wait on (None: none wait)."""
        etas = [
            h.eta
            for h in self.holds
            if h.location == location and h.status in HOLDING and h.waiting > 0 and h.eta
        ]
        return max(etas) if etas else None

    def stale_dates(self) -> list[str]:
        """Holding locations whose units wait on a supply ETA their dates did not count from."""
        stale = []
        for location in self.holding_locations():
            waits = self.waits_until(location)
            promise = self.promises.get(location)
            if waits is not None and (promise is None or promise.waits_until != waits):
                stale.append(location)
        return stale

    def promised_day(self, location: str) -> date | None:
        """The day the shipment at `location` was promised to reach the shopper."""
        promise = self.promises.get(location)
        if promise is None:
            return None
        if self.delivery.mode == "pickup" and promise.ready_at is not None:
            return promise.ready_at.date()
        return promise.deliver_on

    def promise(self) -> str | None:
        """When the whole order reaches the shopper: the latest delivery day of its
        shipments, or for a pickup the latest ready time (None: a shipment has no date)."""
        latest: list[str] = []
        pickup = self.delivery.mode == "pickup"
        for location in self.holding_locations():
            dates = self.promises.get(location)
            moment = None if dates is None else (dates.ready_at if pickup else dates.deliver_on)
            if moment is None:
                return None
            latest.append(moment.isoformat())
        return max(latest) if latest else None


def replace_holds(holds: Iterable[HoldLine], changed: dict[str, HoldLine]) -> tuple[HoldLine, ...]:
    return tuple(changed.get(h.hold_id, h) for h in holds)


def stamp(state: OrderState, at: datetime, **changes: object) -> OrderState:
    """`state` with `changes`, one version newer, as of `at` (timeouts count from here)."""
    return state.model_copy(
        update={**changes, "version": state.version + 1, "updated_at": at, "timeouts": 0}
    )
