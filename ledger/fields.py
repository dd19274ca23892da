"""Constrained field types shared by events, commands, decisions and policy records.

All constraints are declarative (checked inside pydantic-core, no Python callbacks) so
decoding stays fast.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from ledger import limits

# Frozen, strict ("5" is not an int, 5.0 is not a qty), unknown fields rejected.
WIRE_CONFIG = ConfigDict(frozen=True, strict=True, extra="forbid")
# For the TypeAdapters that decode JSON (ledger.codec, the gateway). pydantic's JSON parser
# caches every string it builds by default; wire payloads are mostly one-off ids (event_id,
# order_id, hold_id), so a cache of all strings costs more than it saves. Field names repeat
# in every payload and stay cached. Measured beside the default: decode + fold 0.59 -> 0.68 x
# the baseline (devtools/bench/fold_bench.py).
JSON_DECODE_CONFIG = ConfigDict(cache_strings="keys")

Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.ID_CHARS_MAX, pattern=limits.ID_PATTERN),
]
LocationId = Sku
ChannelId = Sku
Token = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.ID_CHARS_MAX, pattern=limits.TOKEN_PATTERN),
]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=limits.REASON_CHARS_MAX)]

PositiveUnits = Annotated[int, Field(ge=1, le=limits.QTY_UNITS_MAX)]
CountUnits = Annotated[int, Field(ge=0, le=limits.QTY_UNITS_MAX)]
SignedUnits = Annotated[int, Field(ge=-limits.QTY_UNITS_MAX, le=limits.QTY_UNITS_MAX)]
TtlSeconds = Annotated[int, Field(ge=limits.HOLD_TTL_S_MIN, le=limits.HOLD_TTL_S_MAX)]
Version = Annotated[int, Field(ge=0, le=2**63 - 1)]

Timestamp = Annotated[AwareDatetime, Field(ge=limits.TIMESTAMP_MIN, le=limits.TIMESTAMP_MAX)]


def log_time(occurred_at: datetime, ingested_at: datetime | None) -> datetime:
    """The time the log assigns to a fact: the gateway stamp when present."""
    return occurred_at if ingested_at is None else ingested_at
