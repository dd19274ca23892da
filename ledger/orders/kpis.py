"""The order KPIs' counts: what one change of an order adds to them, and what it costs.

Pure. The order processor folds an order's log record by record and adds
`order_kpi_counts(before, after, book)` of each change (the state before and after one
record) to its counters (processors/orders/kpi_metrics.py), so the counts do not depend on
how records are batched. `tally kpi` and the recording rules turn the counters into fill
rate, split rate, pick-rejection rate and cost per order with the formulas of
ledger/kpis.py; docs/KPIS.md gives each definition in words.

- An order's first decision is the first time it settles (allocated, partially allocated
  or refused) before any re-route: its fill, split and cost are counted then, once.
- A location is asked to pick a shipment when its order settles with it (at the first
  decision or after a re-route): the shipment's units count as requested there, and as
  rejected when the location rejects the pick.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ledger.orders.planning import plan_request
from ledger.orders.records import OrderLine
from ledger.orders.saga import NeedPlan
from ledger.orders.state import OrderState, OrderStatus
from ledger.policy import PolicyBook
from ledger.sourcing.rules import shipment_cost_cents

DECIDED: frozenset[OrderStatus] = frozenset({"allocated", "partially_allocated", "refused"})
UNDECIDED: frozenset[OrderStatus] = frozenset({"placed", "allocating"})


@dataclass(frozen=True)
class FirstDecision:
    """An order at its first decision: units ordered and allocated, its shipments, its cost."""

    units_ordered: int
    units_filled: int
    shipments: int  # 0: nothing allocated (refused)
    cost_cents: int  # 0 when nothing was allocated


@dataclass(frozen=True)
class OrderKpiCounts:
    """What one change of an order (its state before and after a record) adds."""

    channel: str
    decision: FirstDecision | None = None  # the order reached its first decision
    requested: Counter[str] = field(default_factory=Counter)  # location -> units to pick
    rejected: Counter[str] = field(default_factory=Counter)  # location -> units rejected


def order_kpi_counts(
    before: OrderState | None, after: OrderState, book: PolicyBook
) -> OrderKpiCounts:
    return OrderKpiCounts(
        channel=after.channel,
        decision=first_decision(after, book) if _first_decided(before, after) else None,
        requested=_requested(before, after),
        rejected=_rejected(before, after),
    )


def _first_decided(before: OrderState | None, after: OrderState) -> bool:
    undecided = before is None or (before.status in UNDECIDED and before.reroutes == 0)
    return undecided and after.status in DECIDED and after.reroutes == 0


def first_decision(state: OrderState, book: PolicyBook) -> FirstDecision:
    shipments = _shipments(state)
    return FirstDecision(
        units_ordered=sum(line.qty for line in state.lines),
        units_filled=sum(units for _, units in shipments),
        shipments=len(shipments),
        cost_cents=order_cost_cents(state, book),
    )


def order_cost_cents(state: OrderState, book: PolicyBook) -> int:
    """What the order's shipments (not rejected) cost: per shipment, the location's
    handling per order and per unit, plus the channel's shipping band by the distance to
    the order's delivery point (`shipment_cost_cents`, as the `lowest_cost` rule prices
    it, from the same planner request)."""
    held = {
        location: tuple(OrderLine(sku=h.sku, qty=h.qty) for h in state.holding_at(location))
        for location, _ in _shipments(state)
    }
    need = NeedPlan(
        ref=state.ref,
        plan_seq=state.plan_seq,
        lines=(),
        fixed=tuple(held.items()),  # so every shipment's location is a site of the request
        excluded=(),
        excluded_locations=(),
        shipments_max=state.max_shipments,
    )
    request = plan_request(need, state, book, {}, {})
    return sum(
        shipment_cost_cents(request, location, sum(line.qty for line in lines))
        for location, lines in held.items()
    )


def _shipments(state: OrderState) -> list[tuple[str, int]]:
    """(location, units held there) of every shipment not rejected, by location."""
    return [
        (location, sum(h.qty for h in state.holding_at(location)))
        for location, status in sorted(state.shipments.items())
        if status != "rejected"
    ]


def _requested(before: OrderState | None, after: OrderState) -> Counter[str]:
    known = set() if before is None else set(before.shipments)
    return Counter(
        {
            location: sum(h.qty for h in after.holding_at(location))
            for location in after.shipments
            if location not in known
        }
    )


def _rejected(before: OrderState | None, after: OrderState) -> Counter[str]:
    seen = 0 if before is None else len(before.rejections)
    units: Counter[str] = Counter()
    for rejection in after.rejections[seen:]:
        units[rejection.location] += sum(line.qty for line in rejection.lines)
    return units
