"""Named bounds for everything the ledger accepts or keeps (TigerBeetle style: a limit on all).

Every wire field is checked against these at decode time; every per-SKU collection in the
state is bounded by one of them. Units are last in the names.
"""

from __future__ import annotations

from datetime import UTC, datetime

# Identifiers. sku / location / channel: 1-64 chars of letters, digits and `-_.:/`.
ID_CHARS_MAX = 64
ID_PATTERN = r"^[A-Za-z0-9\-_.:/]+$"
# event_id / hold_id / request_id / order_id / source: 1-64 printable ASCII chars, no spaces.
TOKEN_PATTERN = r"^[!-~]+$"
REASON_CHARS_MAX = 200

# Quantities are integers, never floats.
QTY_UNITS_MAX = 1_000_000_000
BUFFER_UNITS_MAX = QTY_UNITS_MAX
SAFETY_STOCK_UNITS_MAX = QTY_UNITS_MAX

# Holds.
HOLD_TTL_S_MIN = 1
HOLD_TTL_S_MAX = 7 * 24 * 3600

# Timestamps: tz-aware RFC 3339 within this window (rejects epoch-zero and far-future clocks).
TIMESTAMP_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(2100, 1, 1, tzinfo=UTC)
# Source clock vs the gateway's `ingested_at`: a source may be at most this far ahead ...
OCCURRED_AHEAD_OF_INGEST_S_MAX = 5 * 60
# ... and an offline POS may deliver facts at most this late.
OCCURRED_BEFORE_INGEST_S_MAX = 30 * 24 * 3600

# Wire payloads (one event / command / policy record).
PAYLOAD_BYTES_MAX = 4096

# Per-SKU state bounds.
LOCATIONS_PER_SKU_MAX = 1024
OPEN_HOLDS_PER_SKU_MAX = 1024
INCOMING_PER_SKU_MAX = 1024
# Holds waiting on incoming supply (backorders), over all of a SKU's incoming entries.
BACKORDERS_PER_SKU_MAX = 1024
# Resolved (committed / released / expired / rejected) holds kept so a late second
# resolution is a typed rejection and a repeated hold_id returns its first decision.
# Both are journals (ledger.state.Journal): they keep at least MAX - JOURNAL_FRESH_MAX
# (1,008) of the SKU's newest entries and at most MAX, the oldest dropped in chunks of
# JOURNAL_FRESH_MAX, however long ago they were added.
RESOLVED_HOLDS_PER_SKU_MAX = 1024
# Decisions kept by request_id (repeated request -> first decision).
DECISIONS_PER_SKU_MAX = 1024
JOURNAL_FRESH_MAX = 16
# Fact event_ids kept for idempotency: the SKU's last SEEN_IDS_PER_SKU_MAX event_ids
# (at least SEEN_IDS_PER_SKU_MAX - SEEN_IDS_FRESH_MAX: the oldest chunk is dropped whole),
# however long ago they arrived. A duplicate older than that (after >= 960 newer facts of the
# same SKU) is applied again: redeliveries after a rebalance and producer retries arrive
# within seconds to minutes, far inside the window for any SKU.
SEEN_IDS_FRESH_MAX = 64
SEEN_IDS_PER_SKU_MAX = 1024

# Policy.
LOCATIONS_PER_CHANNEL_MAX = 256
CHANNELS_MAX = 1024
NAME_CHARS_MAX = 200
TIME_ZONE_CHARS_MAX = 64
COST_CENTS_MAX = 100_000_000  # one million in the currency's main unit
DISTANCE_KM_MAX = 40_000  # once around the Earth
# A location's daily order capacity (larger: leave it unlimited); each taken slot is kept.
DAILY_ORDERS_MAX = 5_000
PROCESSING_MINUTES_MAX = 7 * 24 * 60
HOLIDAYS_MAX = 366
SHIPPING_BANDS_MAX = 16
TRANSIT_DAYS_MAX = 60  # a shipping band's delivery days
SOURCING_RULES_MAX = 16

# Orders (docs/ORDERS.md).
ORDER_LINES_MAX = 50
ORDER_LINE_UNITS_MAX = 10_000
ORDER_SHIPMENTS_MAX = 5
ORDER_ROUNDS_MAX = 3  # plans per allocation pass: the first, then re-plans after refusals
ORDER_REROUTES_MAX = 5  # passes after pick rejections
# A delivery is reported within this many days of its day (older: a typo, not a late scan).
DELIVERY_REPORT_DAYS_MAX = 90
# One tally.orders record: a plan carries its explanation and the stock it saw (non-zero
# figures of its SKUs: at most ORDER_LINES_MAX x LOCATIONS_PER_CHANNEL_MAX).
ORDER_RECORD_BYTES_MAX = 512 * 1024
ORDER_STATE_BYTES_MAX = 1_048_576  # one order's (or capacity day's) stored state
