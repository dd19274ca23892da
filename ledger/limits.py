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
# Resolved (committed / released / expired / rejected) holds kept so a late second
# resolution is a typed rejection and a repeated hold_id returns its first decision.
RESOLVED_HOLDS_PER_SKU_MAX = 1024
# Decisions kept by request_id (repeated request -> first decision).
DECISIONS_PER_SKU_MAX = 1024
# Fact event_ids kept for idempotency: the most recent SEEN_IDS_PER_SKU_MAX ids (in chunks
# of SEEN_IDS_CHUNK, so between MAX - CHUNK and MAX are remembered), each for at most
# SEEN_ID_RETENTION_S of log time after the newest id in its chunk.
SEEN_IDS_PER_SKU_MAX = 1024
SEEN_IDS_CHUNK = 64
SEEN_ID_RETENTION_S = 7 * 24 * 3600

# Policy.
LOCATIONS_PER_CHANNEL_MAX = 256
CHANNELS_MAX = 1024
