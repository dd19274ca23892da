"""The KPIs' definitions: which channel a sale belongs to, and each KPI from its counts.

Pure. The worker counts (processors/kpi_metrics.py), the order processor counts orders
(ledger/orders/kpis.py), Prometheus keeps the counts over time (ops/prometheus/rules/
kpis.yml), `tally kpi` and the simulator (devtools/sim) turn counts into KPIs with these
functions, so every reader computes the same figure. docs/KPIS.md gives each definition in
words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ledger.policy import PolicyBook

# Targets the retail articles steer by (docs/KPIS.md), and the sync-latency SLO.
INVENTORY_ACCURACY_TARGET = 0.995  # share of cycle counts that match the ledger
FILL_RATE_TARGET = 0.98  # share of ordered units allocated at the order's first decision
PICK_REJECTION_RATE_MAX = 0.02  # a location rejecting more of its picks is alerted on
SYNC_SLO_THRESHOLD_S = 1.0  # a figure is "on time" when visible within this ...
SYNC_SLO_OBJECTIVE = 0.99  # ... for this share of figures, per channel
OVERSELL_RATE_PER_UNITS = 10_000  # oversold units per this many units sold

# Label values no channel or location can take (ids never contain parentheses).
UNATTRIBUTED = "(none)"  # an oversell no channel caused: a count, damage, a transfer ...
UNLISTED = "(unlisted)"  # a location no policy record names

SALE_TYPES = frozenset({"order_placed", "sold_in_store"})


class Attribution(NamedTuple):
    """Where sales and locations go in the KPIs, for one policy book.

    A sale (an `order_placed` or `sold_in_store` fact) belongs to, in order:
    1. the channel its `source` names, when a channel of that name exists;
    2. else the most specific channel selling from its location: of the channels whose
       pool lists the location, the one with the fewest locations (ties: by name), so a
       store's own POS channel wins over the web channel that also ships from the store;
    3. else no channel (`UNATTRIBUTED`).
    A committed hold is a sale of the hold's channel. Cycle counts are per location, the
    location named by policy (a channel's pool or pickup list, or a location record), else
    `UNLISTED`: label values stay a closed set, drawn from policy.
    """

    channels: frozenset[str]
    channel_of_location: Mapping[str, str]
    listed_locations: frozenset[str]

    @classmethod
    def of(cls, book: PolicyBook) -> Attribution:
        by_location: dict[str, tuple[int, str]] = {}
        listed: set[str] = set(book.locations)
        for name, policy in book.channels.items():
            listed.update(policy.locations, policy.pickup_locations)
            for location in policy.locations:
                rank = (len(policy.locations), name)
                if location not in by_location or rank < by_location[location]:
                    by_location[location] = rank
        return cls(
            frozenset(book.channels),
            {location: name for location, (_, name) in by_location.items()},
            frozenset(listed),
        )

    def sale_channel(self, location: str, source: str) -> str:
        if source in self.channels:
            return source
        return self.channel_of_location.get(location, UNATTRIBUTED)

    def oversell_channel(self, fact_type: str, location: str, source: str) -> str:
        """A sale's oversell is its channel's; any other fact's is no channel's."""
        if fact_type in SALE_TYPES:
            return self.sale_channel(location, source)
        return UNATTRIBUTED

    def location_label(self, location: str) -> str:
        return location if location in self.listed_locations else UNLISTED


def ratio(part: float, whole: float) -> float | None:
    """part / whole; None when there is nothing to measure (whole == 0)."""
    return None if whole <= 0 else part / whole


def inventory_accuracy(counts: float, matched: float) -> float | None:
    """Share of cycle counts that found exactly what the ledger held."""
    return ratio(matched, counts)


def oversell_rate(oversold_units: float, units_sold: float) -> float | None:
    """Oversold units per 10,000 units sold."""
    rate = ratio(oversold_units, units_sold)
    return None if rate is None else rate * OVERSELL_RATE_PER_UNITS


def error_budget_left(
    on_time: float, total: float, objective: float = SYNC_SLO_OBJECTIVE
) -> float | None:
    """Share of the SLO's error budget not yet spent: 1 - late share / (1 - objective).

    1.0: no figure late; 0.0: exactly the budget spent; below 0: the SLO is missed.
    """
    attained = ratio(on_time, total)
    return None if attained is None else 1 - (1 - attained) / (1 - objective)


def fill_rate(units_filled: float, units_ordered: float) -> float | None:
    """Share of ordered units allocated at their order's first decision."""
    return ratio(units_filled, units_ordered)


def split_rate(shipments: float, orders_sourced: float) -> float | None:
    """Shipments per order, over the orders that got at least one at their first decision
    (1.0: no order split)."""
    return ratio(shipments, orders_sourced)


def pick_rejection_rate(rejected_units: float, requested_units: float) -> float | None:
    """Share of the units a location was asked to pick that it rejected."""
    return ratio(rejected_units, requested_units)


def cost_per_order_cents(cost_cents: float, orders_sourced: float) -> float | None:
    """Handling and shipping per order (cents), over the orders with a shipment."""
    return ratio(cost_cents, orders_sourced)
