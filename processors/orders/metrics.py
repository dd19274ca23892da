"""The order processor's Prometheus metrics (no SKU or order id as a label)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

ORDER_RECORDS = Counter(
    "tally_order_records_total", "Order log records folded, by type and result", ["type", "result"]
)
ORDERS_SETTLED = Counter(
    "tally_orders_settled_total", "Orders reaching a decision, by status", ["channel", "status"]
)
ORDER_DECISION_SECONDS = Histogram(
    "tally_order_decision_seconds",
    "From an order's placing to its allocation decision (allocated, partial or refused)",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PLANS = Counter(
    "tally_order_plans_total", "Plans computed, by whether they found shipments", ["found"]
)
PICK_REJECTIONS = Counter(
    "tally_pick_rejections_total", "Shipments a location could not pick", ["location", "reason"]
)
CAPACITY_DECISIONS = Counter("tally_capacity_decisions_total", "Capacity asks decided", ["outcome"])
DECISIONS_ROUTED = Counter(
    "tally_order_decisions_routed_total", "Ledger decisions on order holds routed to orders"
)
ORDER_TIMEOUTS = Counter("tally_order_timeouts_total", "Timeouts sent to waiting orders")
BAD_RECORDS = Counter(
    "tally_order_bad_records_total", "Order and capacity records that did not decode", ["topic"]
)

# The order KPIs (ledger/orders/kpis.py says what counts, docs/KPIS.md the definitions):
# each order once at its first decision, per channel; picks per location.
ORDERS_DECIDED = Counter(
    "tally_orders_decided_total", "Orders reaching their first decision", ["channel"]
)
ORDER_UNITS_ORDERED = Counter(
    "tally_order_units_ordered_total", "Units ordered, at each order's first decision", ["channel"]
)
ORDER_UNITS_FILLED = Counter(
    "tally_order_units_filled_total",
    "Units allocated at each order's first decision",
    ["channel"],
)
ORDERS_SOURCED = Counter(
    "tally_orders_sourced_total",
    "Orders with at least one shipment at their first decision",
    ["channel"],
)
ORDER_SHIPMENTS = Counter(
    "tally_order_shipments_total", "Shipments of orders at their first decision", ["channel"]
)
ORDER_COST_CENTS = Counter(
    "tally_order_cost_cents_total",
    "Handling and shipping of orders at their first decision, in cents",
    ["channel"],
)
PICK_REQUESTED_UNITS = Counter(
    "tally_pick_requested_units_total", "Units a location was asked to pick", ["location"]
)
PICK_REJECTED_UNITS = Counter(
    "tally_pick_rejected_units_total", "Units of the shipments a location rejected", ["location"]
)
PROMISE_DELIVERIES = Counter(
    "tally_promise_deliveries_total",
    "Shipments reported delivered (pickups: collected), by whether on or before the day "
    'promised; the on-time rate is on_time="true" over all (docs/PROMISE.md)',
    ["channel", "location", "on_time"],
)
PROMISE_DAYS_LATE = Counter(
    "tally_promise_days_late_total",
    "Days past the promised day, summed over late deliveries",
    ["channel", "location"],
)
PROMISES_CHANGED = Counter(
    "tally_promises_changed_total",
    "Allocated orders whose promise moved (a late, short or cancelled supply, a re-route)",
    ["channel"],
)

ORDER_BATCH_PHASE_SECONDS = Histogram(
    "tally_order_batch_phase_seconds",
    "Seconds a batch of each agent spends in each phase, in turn (orders: "
    "fold|plan|send|write|publish; capacity: decide|send|write; decisions: route|send)",
    ["agent", "phase"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ORDER_BATCH_RECORDS = Histogram(
    "tally_order_batch_records",
    "Records per batch, by agent (orders|capacity|decisions)",
    ["agent"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)


class PhaseClock:
    """Times one batch's phases in turn: each `lap` observes the time since the last one."""

    def __init__(self, agent: str, records: int) -> None:
        self.agent = agent
        self._last = time.monotonic()
        ORDER_BATCH_RECORDS.labels(agent).observe(records)

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        ORDER_BATCH_PHASE_SECONDS.labels(self.agent, phase).observe(now - self._last)
        self._last = now
