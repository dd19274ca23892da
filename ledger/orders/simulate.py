"""Replay a rule change: re-plan past orders under other rules against the stock they saw.

Pure: given each order's `place` record and its first adopted `planned` record (which
carries the stock the planner read), plan it again under `rules` and measure both plans the
same way: shipments, distance to the shopper and cost (`shipment_cost_cents`, which the
`lowest_cost` rule and the cost-per-order KPI use too). Locations come from the policy book
as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from ledger.orders.planning import plan_request
from ledger.orders.records import PlaceOrder, Planned
from ledger.orders.saga import NeedPlan
from ledger.orders.state import OrderState
from ledger.policy import PolicyBook
from ledger.sourcing import PlanRequest, RuleName, plan
from ledger.sourcing.geo import UNKNOWN_KM
from ledger.sourcing.rules import distance_km, shipment_cost_cents


@dataclass(frozen=True)
class PlanFigures:
    locations: tuple[str, ...]
    shipments: int
    units: int
    km: float  # total distance, shipment by shipment (unknown coordinates count 0)
    cost_cents: int
    filled: bool


@dataclass(frozen=True)
class OrderComparison:
    ref: str
    order_id: str
    channel: str
    happened: PlanFigures
    simulated: PlanFigures

    @property
    def changed(self) -> bool:
        return self.happened.locations != self.simulated.locations


@dataclass(frozen=True)
class Totals:
    orders: int
    shipments: int
    split_orders: int
    unfilled_orders: int
    km: float
    cost_cents: int


@dataclass(frozen=True)
class SimulationReport:
    orders: tuple[OrderComparison, ...]
    happened: Totals
    simulated: Totals
    changed: int


def simulate(
    orders: Iterable[tuple[PlaceOrder, Planned]],
    book: PolicyBook,
    rules: Mapping[str, tuple[RuleName, ...]] | tuple[RuleName, ...],
) -> SimulationReport:
    """`rules`: one rule list for every channel, or per channel (others keep their own)."""
    compared = tuple(_compare(place, planned, book, rules) for place, planned in orders)
    return SimulationReport(
        orders=compared,
        happened=_totals(c.happened for c in compared),
        simulated=_totals(c.simulated for c in compared),
        changed=sum(1 for c in compared if c.changed),
    )


def _compare(
    place: PlaceOrder,
    planned: Planned,
    book: PolicyBook,
    rules: Mapping[str, tuple[RuleName, ...]] | tuple[RuleName, ...],
) -> OrderComparison:
    state = OrderState.placed(place)
    need = NeedPlan(
        ref=place.ref,
        plan_seq=1,
        lines=place.lines,
        fixed=(),
        excluded=(),
        excluded_locations=(),
        shipments_max=place.max_shipments,
    )
    request = plan_request(need, state, book, planned.stock_seen, {})
    new_rules = rules if isinstance(rules, tuple) else rules.get(place.channel, request.rules)
    simulated = plan(replace(request, rules=new_rules))
    happened = _figures(
        request,
        tuple(s.location for s in planned.shipments),
        {s.location: sum(li.qty for li in s.lines) for s in planned.shipments},
        not planned.unfilled,
    )
    mine = _figures(
        request,
        tuple(s.location for s in simulated.shipments),
        {s.location: s.units for s in simulated.shipments},
        simulated.complete and simulated.found,
    )
    return OrderComparison(place.ref, place.order_id, place.channel, happened, mine)


def _figures(
    request: PlanRequest, locations: tuple[str, ...], units: Mapping[str, int], filled: bool
) -> PlanFigures:
    km, cost = 0.0, 0
    for location in locations:
        distance = distance_km(request, location) if location in request.sites else UNKNOWN_KM
        km += 0.0 if distance >= UNKNOWN_KM else distance
        if location in request.sites:  # a location with no site is not priced
            cost += shipment_cost_cents(request, location, units[location])
    return PlanFigures(
        locations=tuple(sorted(locations)),
        shipments=len(locations),
        units=sum(units.values()),
        km=round(km, 1),
        cost_cents=cost,
        filled=filled,
    )


def _totals(figures: Iterable[PlanFigures]) -> Totals:
    items = list(figures)
    return Totals(
        orders=len(items),
        shipments=sum(f.shipments for f in items),
        split_orders=sum(1 for f in items if f.shipments > 1),
        unfilled_orders=sum(1 for f in items if not f.filled),
        km=round(sum(f.km for f in items), 1),
        cost_cents=sum(f.cost_cents for f in items),
    )
