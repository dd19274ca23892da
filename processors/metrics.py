"""Prometheus metrics of the stream worker. No SKU ids as labels: cardinality stays bounded.

Label values are drawn from closed sets (event types, outcomes, channel names from policy).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Sync latency spans ~1 ms (same host) to seconds (backlog); buckets cover both ends.
SYNC_LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

SYNC_LATENCY = Histogram(
    "tally_sync_latency_seconds",
    "Gateway/producer stamp (ingested_at) to the figure being visible in Redis, per channel.",
    ["channel"],
    buckets=SYNC_LATENCY_BUCKETS_S,
)
EVENTS_FOLDED = Counter(
    "tally_events_folded_total",
    "Facts folded into the positions table, by event type and outcome (applied|duplicate).",
    ["type", "outcome"],
)
HOLD_DECISIONS = Counter(
    "tally_hold_decisions_total",
    "Hold command decisions, by command (reserve|commit|release) and outcome.",
    ["command", "outcome"],
)
HOLDS_EXPIRED = Counter("tally_holds_expired_total", "Holds expired by log time.")
OVERSELLS = Counter("tally_oversells_total", "Facts that drove a location's availability below 0.")
OVERSOLD_UNITS = Counter("tally_oversold_units_total", "Units sold beyond availability.")
CYCLE_COUNT_VARIANCE_UNITS = Counter(
    "tally_cycle_count_variance_units_total",
    "Absolute units of variance found by cycle counts.",
)
DEAD_LETTERS = Counter(
    "tally_dead_letters_total",
    "Messages sent to the dead-letter topic, by source topic kind and reason kind.",
    ["topic", "reason"],
)
PUBLISHED_FIGURES = Counter(
    "tally_published_figures_total",
    "Figures written to Redis, by kind (channel|location) and result (written|stale).",
    ["kind", "result"],
)
BATCH_SIZE = Histogram(
    "tally_batch_messages",
    "Messages per processed batch.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
TABLE_SKUS = Gauge("tally_table_skus", "SKUs held in this worker's positions table partitions.")
CONSUMER_LAG = Gauge(
    "tally_consumer_lag_messages",
    "Messages behind the log end, per topic kind, summed over this worker's partitions.",
    ["topic"],
)
PUBLISH_ERRORS = Counter(
    "tally_publish_errors_total", "Redis publish attempts that failed (retried)."
)
DELIVERY_REPAIRS = Counter(
    "tally_delivery_repairs_total",
    "Repairs of Faust's record delivery (faust-streaming #596 family), by kind: hole_seek "
    "(a record past a hole, sought back), acks_filled (acks Faust lost), starved_seek (records "
    "waiting, none delivered). A restart to replay is logged (the process is replaced).",
    ["kind"],
)
TRANSACTIONS_COMMITTED = Counter(
    "tally_transactions_committed_total",
    "Kafka transactions committed (exactly_once: one per partition with new offsets per commit).",
)
TRANSACTION_ERRORS = Counter(
    "tally_transaction_errors_total",
    "Kafka transaction steps that failed, by step: begin, commit, abort, fenced (a producer "
    "fenced by a newer owner of its partition). Faust logs most of these only as warnings.",
    ["step"],
)
