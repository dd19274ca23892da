"""The order KPIs, computed by the stream: each change of an order in a batch (its state
before and after one record) becomes labelled counters. What counts is ledger/orders/kpis.py;
the definitions are in docs/KPIS.md. Labels are channels and locations, never a SKU or order.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.orders.kpis import OrderKpiCounts, order_kpi_counts
from ledger.orders.state import OrderState
from ledger.policy import PolicyBook
from processors.orders import metrics

CHANNEL_COUNTERS = (
    metrics.ORDERS_DECIDED,
    metrics.ORDER_UNITS_ORDERED,
    metrics.ORDER_UNITS_FILLED,
    metrics.ORDERS_SOURCED,
    metrics.ORDER_SHIPMENTS,
    metrics.ORDER_COST_CENTS,
)
LOCATION_COUNTERS = (metrics.PICK_REQUESTED_UNITS, metrics.PICK_REJECTED_UNITS)


class OrderKpiCounter:
    """Adds each batch's order changes to the KPI counters."""

    def __init__(self) -> None:
        self._book: PolicyBook | None = None

    def follow(self, book: PolicyBook) -> None:
        """Create the series of every channel and location `book` names (once per book)."""
        if book is not self._book:
            self._book = book
            create_series(book)

    def count(
        self, changes: Iterable[tuple[OrderState | None, OrderState]], book: PolicyBook
    ) -> None:
        """Add each change of an order (its state before and after one record)."""
        self.follow(book)
        for before, after in changes:
            add(order_kpi_counts(before, after, book))


def add(counts: OrderKpiCounts) -> None:
    decision, channel = counts.decision, counts.channel
    if decision is not None:
        metrics.ORDERS_DECIDED.labels(channel).inc()
        metrics.ORDER_UNITS_ORDERED.labels(channel).inc(decision.units_ordered)
        metrics.ORDER_UNITS_FILLED.labels(channel).inc(decision.units_filled)
        # both series exist from the channel's first decision, sourced or not
        metrics.ORDERS_SOURCED.labels(channel).inc(1 if decision.shipments else 0)
        metrics.ORDER_SHIPMENTS.labels(channel).inc(decision.shipments)
        metrics.ORDER_COST_CENTS.labels(channel).inc(decision.cost_cents)
    for location, units in counts.requested.items():
        metrics.PICK_REQUESTED_UNITS.labels(location).inc(units)
        metrics.PICK_REJECTED_UNITS.labels(location)  # at 0 until it rejects
    for location, units in counts.rejected.items():
        metrics.PICK_REJECTED_UNITS.labels(location).inc(units)


def create_series(book: PolicyBook) -> None:
    """Every counter of every channel and location the policy names, at 0 until counted: a
    series that first appears above 0 hides that first step from Prometheus's increase()."""
    for channel in book.channels:
        for counter in CHANNEL_COUNTERS:
            counter.labels(channel)
    for location in _locations(book):
        for counter in LOCATION_COUNTERS:
            counter.labels(location)


def _locations(book: PolicyBook) -> Iterable[str]:
    named = set(book.locations)
    for policy in book.channels.values():
        named.update(policy.locations, policy.pickup_locations)
    return sorted(named)
