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
# Where a batch's time goes, phase by phase, in the order a batch passes them: `queued` (its
# oldest record in the inbox), `fold` (fold and table write), `durable` (changelog acks),
# `in_order` (the previous batch finishing), `publish` (Redis). Their sum bounds sync latency.
# Two more say where the batch loop waited between batches: `idle` (for a first record: the
# inbox was empty) and `room` (for an earlier batch to finish: `pipeline_depth` unfinished).
BATCH_PHASE_SECONDS = Histogram(
    "tally_batch_phase_seconds",
    "Seconds a batch spends in each phase (queued|fold|durable|in_order|publish), and the "
    "batch loop's waits between batches (idle|room).",
    ["phase"],
    buckets=SYNC_LATENCY_BUCKETS_S,
)
BATCH_PHASES = {
    phase: BATCH_PHASE_SECONDS.labels(phase)
    for phase in ("queued", "fold", "durable", "in_order", "publish", "idle", "room")
}
TABLE_SKUS = Gauge("tally_table_skus", "SKUs held in this worker's positions table partitions.")
CONSUMER_LAG = Gauge(
    "tally_consumer_lag_messages",
    "Messages behind the log end (the later of the last fetch's and the broker's), per topic "
    "kind, summed over this worker's partitions.",
    ["topic"],
)
PUBLISH_ERRORS = Counter(
    "tally_publish_errors_total", "Redis publish attempts that failed (retried)."
)
DELIVERY_REPAIRS = Counter(
    "tally_delivery_repairs_total",
    "Repairs of Faust's record delivery (faust-streaming #596 family), by kind: hole_seek "
    "(a record past a hole, sought back), acks_filled (acks Faust lost), starved_seek (records "
    "waiting, none delivered), store_rebuilt (a table partition written past its last "
    "transaction commit, restored from its changelog at a rebalance), transaction_committed (a "
    "transaction open through a rebalance, committed before recovery), deleted_skipped (records "
    "deleted from a source partition before they were read: the worker went on from its log "
    "start). A restart to replay is logged (the process is replaced).",
    ["kind"],
)
TRANSACTIONS_COMMITTED = Counter(
    "tally_transactions_committed_total",
    "Kafka transactions committed (exactly_once: one per partition with new offsets per commit).",
)
TRANSACTION_COMMIT_SECONDS = Histogram(
    "tally_transaction_commit_seconds",
    "Seconds one exactly_once offsets commit took (all its partitions' transactions); "
    "changelog sends to a partition wait while its transaction commits.",
    buckets=SYNC_LATENCY_BUCKETS_S,
)
TRANSACTION_ERRORS = Counter(
    "tally_transaction_errors_total",
    "Kafka transaction steps that failed, by step: begin, commit, abort, fenced (a producer "
    "fenced by a newer owner of its partition). Faust logs most of these only as warnings.",
    ["step"],
)

# --- KPIs (docs/KPIS.md; recording rules in ops/prometheus/rules/kpis.yml) ---------------
# Locations and channels as labels come from policy (ledger.kpis.Attribution): a location
# no policy record names is "(unlisted)", an oversell no channel caused is "(none)".
CYCLE_COUNTS = Counter(
    "tally_cycle_counts_total", "Cycle counts applied, per location.", ["location"]
)
CYCLE_COUNTS_MATCHED = Counter(
    "tally_cycle_counts_matched_total",
    "Cycle counts that found exactly the on-hand units the ledger held, per location.",
    ["location"],
)
LOCATION_VARIANCE_UNITS = Counter(
    "tally_location_variance_units_total",
    "Absolute units of variance found by cycle counts, per location.",
    ["location"],
)
UNITS_SOLD = Counter(
    "tally_units_sold_total",
    "Units sold, per channel: committed holds (the hold's channel), order_placed and "
    "sold_in_store facts (the channel their source names, else the location's channel).",
    ["channel"],
)
CHANNEL_OVERSOLD_UNITS = Counter(
    "tally_channel_oversold_units_total",
    "Units sold beyond availability, per channel that sold them ((none): a count, damage ...).",
    ["channel"],
)
STRANDED_SKUS = Gauge(
    "tally_stranded_skus",
    "SKUs (of this worker) a channel shows at 0 while locations outside its pool hold "
    "sellable units.",
    ["channel"],
)
STRANDED_UNITS = Gauge(
    "tally_stranded_units",
    "Sellable units outside the channel's pool of the SKUs it shows at 0 (this worker's).",
    ["channel"],
)
STRANDED_SKU_SECONDS = Counter(
    "tally_stranded_sku_seconds_total",
    "Seconds x stranded SKUs, per channel (increase over a window / 60 = SKU-minutes).",
    ["channel"],
)
STRANDED_UNIT_SECONDS = Counter(
    "tally_stranded_unit_seconds_total",
    "Seconds x stranded units, per channel (increase / window = average stranded units).",
    ["channel"],
)
