"""The retailer replayed in virtual time under one sync policy: pure (no I/O, no clock).

The ledger is Tally's own (`ledger.fold.apply_event`, `ledger.availability` under the sim
world's policy), so an oversell here is what Tally's ledger measures for the same facts.
Beside it: the shelf (the ledger's on-hand less unrecorded shrink and receipt errors), and
what each online channel shows, refreshed by the sync policy:

- `BatchSync(interval_s)`: every interval, the figures of every SKU changed since the last
  refresh are sent (a batch sync job);
- `Streaming(latencies_s)`: every change is sent, visible after a latency drawn from the
  given sample (Tally's measured distribution), a newer figure never overwritten by an older.

A web or marketplace customer orders when the channel shows enough; the order management
system (which knows the ledger) places it at the first pool location that can fill it,
else where the most is; an order that oversells is cancelled. docs/KPIS.md lists every rule.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from devtools.sim.trace import (
    Count,
    Damage,
    Demand,
    Replenish,
    ReturnArrival,
    Shrink,
    StoreSale,
    Trace,
    WebOrder,
    receipt_error,
)
from devtools.sim.world import ONLINE, policy_book
from ledger.availability import channel_ats, location_available, stranded_units
from ledger.events import (
    Counted,
    Damaged,
    Fact,
    OrderCancelled,
    OrderPlaced,
    Received,
    ReturnGraded,
    ReturnReceived,
    Shipped,
    SoldInStore,
)
from ledger.fold import Applied, apply_event
from ledger.state import SkuState

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # virtual time 0
POOL_LOCATIONS = tuple(dict.fromkeys(loc for pool in ONLINE.values() for loc in pool))
Category = Literal["stale", "outside"]


@dataclass(frozen=True)
class BatchSync:
    interval_s: float

    @property
    def name(self) -> str:
        return f"batch {self.interval_s / 60:g} min"


@dataclass(frozen=True)
class Streaming:
    latencies_s: tuple[float, ...]
    name: str = "tally"


SyncPolicy = BatchSync | Streaming


@dataclass
class Counts:
    """What one replay counted (units and orders; stranded time in SKU-seconds)."""

    online_orders: int = 0
    units_placed: int = 0  # units of every online order placed (the KPI's "units sold")
    units_sold: int = 0  # ... of those not cancelled at placement
    cancelled_orders: int = 0  # online orders that oversold at placement
    oversold_units_online: int = 0  # ... and the units they oversold
    oversold_units: int = 0  # every oversell the ledger measured (store sales, counts too)
    pick_failures: int = 0  # orders cancelled at shipment: not on the shelf (shrink)
    lost_orders: int = 0  # the channel showed too few while its pool had them
    lost_units: int = 0
    stockout_orders: int = 0  # the pool truly had too few
    store_units: int = 0
    store_stockouts: int = 0
    figures_sent: int = 0  # figure refreshes sent to the channels
    stale_s: dict[str, float] = field(default_factory=dict)  # showed 0, pool had stock
    outside_s: dict[str, float] = field(default_factory=dict)  # showed 0, stock outside pool


class Shown(NamedTuple):
    """What the channels show for one SKU: its version, channel ATS, pool locations."""

    version: int
    channels: dict[str, int]
    locations: dict[str, int]


class _Ship(NamedTuple):
    t: float
    sku: str
    location: str
    qty: int
    order_id: str


class _Grade(NamedTuple):
    t: float
    sku: str
    location: str
    qty: int
    disposition: Literal["restock", "damaged", "dispose"]


class _Tick(NamedTuple):
    t: float


class _Visible(NamedTuple):
    t: float
    sku: str
    shown: Shown


class _Start(NamedTuple):
    """The channels start the trace in sync: they show the opening stock."""

    t: float


_Event = Demand | _Ship | _Grade | _Tick | _Visible | _Start
# at equal times: the opening stock, then customers and stores, then the sync's refresh
_ORDER = {Replenish: 0, _Start: 2, _Tick: 2, _Visible: 3}


class Model:
    def __init__(self, trace: Trace, policy: SyncPolicy) -> None:
        self.trace, self.policy = trace, policy
        self.book = policy_book()
        self.counts = Counts()
        self.facts: list[Fact] = []
        self._states = {sku: SkuState.empty(sku) for sku in trace.skus}
        self._missing: Counter[tuple[str, str]] = Counter()  # ledger on-hand - shelf + ...
        self._shown: dict[str, Shown] = {}
        self._dirty: set[str] = set()
        self._since: dict[tuple[str, str], tuple[Category, float]] = {}
        self._queue: list[tuple[float, int, int, _Event]] = []
        self._serial = 0
        self._rng = random.Random(trace.config.seed)

    def run(self) -> Counts:
        for item in self.trace.demand:
            self._push(item)
        self._push(_Start(0.0))
        if isinstance(self.policy, BatchSync):
            ticks = int(self.trace.config.seconds // self.policy.interval_s) + 1
            for k in range(1, ticks):
                self._push(_Tick(k * self.policy.interval_s))
        end = self.trace.config.seconds
        while self._queue and self._queue[0][0] <= end:  # what falls after the trace: not run
            t, _, _, event = heapq.heappop(self._queue)
            self._handle(event, t)
        for key in list(self._since):
            self._mark(key, None, end)
        return self.counts

    def _push(self, event: _Event) -> None:
        self._serial += 1
        heapq.heappush(self._queue, (event.t, _ORDER.get(type(event), 1), self._serial, event))

    def _handle(self, event: _Event, t: float) -> None:
        handler = _HANDLERS[type(event)]
        handler(self, event, t)

    # --- the ledger and the shelf ---------------------------------------------------------

    def _apply(self, fact_type: type[Fact], sku: str, location: str, qty: int, t: float,
               **extra: Any) -> Applied:  # fmt: skip
        self._serial += 1
        fact = fact_type(
            event_id=f"sim-{self._serial}", sku=sku, location=location, qty=qty,
            occurred_at=T0 + timedelta(seconds=t), source=extra.pop("source", "sim"), **extra,
        )  # fmt: skip
        applied = apply_event(self._states[sku], fact)
        self._states[sku] = applied.state
        self.facts.append(fact)
        self.counts.oversold_units += applied.oversell_units
        self._changed(sku, t)
        return applied

    def _shelf(self, sku: str, location: str) -> int:
        position = self._states[sku].position(location)
        on_hand = position.on_hand - self._missing[(sku, location)]
        return on_hand - position.damaged - position.inspection

    # --- what the channels show ----------------------------------------------------------

    def _figures(self, sku: str) -> Shown:
        state, book = self._states[sku], self.book
        return Shown(
            state.version,
            {name: channel_ats(state, book.channels[name], book) for name in ONLINE},
            {loc: max(0, location_available(state, loc, book)) for loc in POOL_LOCATIONS},
        )

    def _changed(self, sku: str, t: float) -> None:
        if isinstance(self.policy, Streaming):
            latency = self._rng.choice(self.policy.latencies_s)
            self._push(_Visible(t + latency, sku, self._figures(sku)))
            self.counts.figures_sent += 1
        else:
            self._dirty.add(sku)
        self._evaluate(sku, t)

    def _show(self, sku: str, shown: Shown, t: float) -> None:
        current = self._shown.get(sku)
        if current is None or shown.version > current.version:  # compare-and-set
            self._shown[sku] = shown
            self._evaluate(sku, t)

    def _evaluate(self, sku: str, t: float) -> None:
        """Start or end the SKU's stranded spells: a channel showing 0 while its pool holds
        stock (stale) or, its pool empty, locations outside it do (outside)."""
        state, book, shown = self._states[sku], self.book, self._shown.get(sku)
        for name in ONLINE:
            category: Category | None = None
            if shown is None or shown.channels[name] == 0:
                policy = book.channels[name]
                if channel_ats(state, policy, book) > 0:
                    category = "stale"
                elif stranded_units(state, policy, book) > 0:
                    category = "outside"
            self._mark((sku, name), category, t)

    def _mark(self, key: tuple[str, str], category: Category | None, t: float) -> None:
        current = self._since.get(key)
        if current is not None and current[0] == category:
            return
        if current is not None:
            del self._since[key]
            if t > current[1]:
                spent = self.counts.stale_s if current[0] == "stale" else self.counts.outside_s
                spent[key[1]] = spent.get(key[1], 0.0) + t - current[1]
        if category is not None:
            self._since[key] = (category, t)

    # --- what happens --------------------------------------------------------------------

    def _web_order(self, order: WebOrder, t: float) -> None:
        counts, state = self.counts, self._states[order.sku]
        counts.online_orders += 1
        shown = self._shown.get(order.sku)
        policy = self.book.channels[order.channel]
        if shown is None or shown.channels[order.channel] < order.qty:
            if channel_ats(state, policy, self.book) >= order.qty:
                counts.lost_orders += 1
                counts.lost_units += order.qty
            else:
                counts.stockout_orders += 1
            return
        parts = self._allocate(state, policy.locations, order.qty)
        order_id = f"o-{self._serial}"
        counts.units_placed += order.qty
        if parts is None:  # the pool is short: placed where the most is (safety stock too)
            location = max(policy.locations, key=lambda loc: self._available(state, loc))
            parts = [(location, order.qty)]
            applied = self._apply(OrderPlaced, order.sku, location, order.qty, t,
                                  order_id=order_id, source=order.channel)  # fmt: skip
            if applied.oversell_units:  # sold beyond the stock: the order is cancelled
                counts.cancelled_orders += 1
                counts.oversold_units_online += applied.oversell_units
                self._apply(OrderCancelled, order.sku, location, order.qty, t, order_id=order_id)
                return
            self._push(_Ship(t + order.ship_after_s, order.sku, location, order.qty, order_id))
            counts.units_sold += order.qty
            return
        counts.units_sold += order.qty
        for location, qty in parts:
            self._apply(OrderPlaced, order.sku, location, qty, t, order_id=order_id,
                        source=order.channel)  # fmt: skip
            self._push(_Ship(t + order.ship_after_s, order.sku, location, qty, order_id))

    def _available(self, state: SkuState, location: str) -> int:
        return location_available(state, location, self.book)

    def _allocate(
        self, state: SkuState, pool: tuple[str, ...], qty: int
    ) -> list[tuple[str, int]] | None:
        """The order's parts by pool priority, split only when no location fills it alone;
        None when the pool's available units fall short."""
        available = {loc: self._available(state, loc) for loc in pool}
        whole = next((loc for loc in pool if available[loc] >= qty), None)
        if whole is not None:
            return [(whole, qty)]
        parts, left = [], qty
        for loc in pool:
            take = min(max(0, available[loc]), left)
            if take:
                parts.append((loc, take))
                left -= take
        return None if left else parts

    def _ship(self, ship: _Ship, t: float) -> None:
        if self._shelf(ship.sku, ship.location) >= ship.qty:
            self._apply(Shipped, ship.sku, ship.location, ship.qty, t, order_id=ship.order_id)
            return
        self.counts.pick_failures += 1  # not on the shelf: cancel, and count the shelf
        self._apply(OrderCancelled, ship.sku, ship.location, ship.qty, t, order_id=ship.order_id)
        self._count(Count(t, ship.sku, ship.location), t)

    def _store_sale(self, sale: StoreSale, t: float) -> None:
        if self._shelf(sale.sku, sale.store) < sale.qty:
            self.counts.store_stockouts += 1
            return
        self.counts.store_units += sale.qty
        self._apply(SoldInStore, sale.sku, sale.store, sale.qty, t, source="pos")

    def _return(self, arrival: ReturnArrival, t: float) -> None:
        self._apply(ReturnReceived, arrival.sku, arrival.location, arrival.qty, t)
        grade = _Grade(t + arrival.grade_after_s, arrival.sku, arrival.location,
                       arrival.qty, arrival.disposition)  # fmt: skip
        self._push(grade)

    def _grade(self, grade: _Grade, t: float) -> None:
        self._apply(ReturnGraded, grade.sku, grade.location, grade.qty, t,
                    disposition=grade.disposition)  # fmt: skip

    def _shrink(self, shrink: Shrink, t: float) -> None:
        if self._shelf(shrink.sku, shrink.store) >= shrink.qty:
            self._missing[(shrink.sku, shrink.store)] += shrink.qty

    def _count(self, count: Count, t: float) -> None:
        key = (count.sku, count.location)
        if count.location not in self._states[count.sku].positions:
            return  # never stocked there: nothing to count
        on_shelf = self._states[count.sku].position(count.location).on_hand - self._missing[key]
        self._missing[key] = 0
        self._apply(Counted, count.sku, count.location, max(0, on_shelf), t)

    def _damage(self, damage: Damage, t: float) -> None:
        if self._shelf(damage.sku, damage.location) >= damage.qty:
            self._apply(Damaged, damage.sku, damage.location, damage.qty, t, reason="handling")

    def _replenish(self, run: Replenish, t: float) -> None:
        config = self.trace.config
        for sku in self.trace.skus:
            target = self.trace.targets[(sku, run.location)]
            qty = target - self._states[sku].position(run.location).free_units
            if qty > 0:
                error = receipt_error(config.seed, sku, run.location, t, config.receipt_error_share)
                self._missing[(sku, run.location)] -= error
                self._apply(Received, sku, run.location, qty, t)

    def _tick(self, tick: _Tick, t: float) -> None:
        for sku in sorted(self._dirty):
            self._show(sku, self._figures(sku), t)
            self.counts.figures_sent += 1
        self._dirty.clear()

    def _visible(self, visible: _Visible, t: float) -> None:
        self._show(visible.sku, visible.shown, t)

    def _start(self, start: _Start, t: float) -> None:
        for sku in self.trace.skus:
            self._show(sku, self._figures(sku), t)
        self._dirty.clear()


_HANDLERS: dict[type, Any] = {
    WebOrder: Model._web_order,
    StoreSale: Model._store_sale,
    ReturnArrival: Model._return,
    Shrink: Model._shrink,
    Count: Model._count,
    Damage: Model._damage,
    Replenish: Model._replenish,
    _Ship: Model._ship,
    _Grade: Model._grade,
    _Tick: Model._tick,
    _Visible: Model._visible,
    _Start: Model._start,
}


def replay(trace: Trace, policy: SyncPolicy) -> Model:
    """Run the trace under `policy`; the model keeps its counts and the facts it logged."""
    model = Model(trace, policy)
    model.run()
    return model
