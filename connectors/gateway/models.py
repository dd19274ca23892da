"""The gateway's request and reply bodies, built from the ledger's field types.

Requests reuse the wire contract's constrained types (ledger.fields), so the edge refuses
exactly what the ledger would; the gateway adds only what it stamps (`issued_at`,
`ingested_at`, `updated_at`) and the defaults it derives.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger import limits
from ledger.commands import Decision
from ledger.events import CommandName, Fact, RejectReason
from ledger.fields import (
    ChannelId,
    LocationId,
    PositiveUnits,
    SignedUnits,
    Sku,
    Token,
    TtlSeconds,
    Version,
)
from ledger.policy import (
    DEFAULT_BANDS,
    DELIVERY_DAYS,
    ChannelLocations,
    ShippingBandRecord,
    Strategy,
    Weekday,
)
from ledger.sourcing import DEFAULT_RULES, RuleName

REQUEST_CONFIG = ConfigDict(frozen=True, strict=True, extra="forbid")


def derived_request_id(command: CommandName, hold_id: str, channel: str | None = None) -> str:
    """The default request_id of a hold command: the same hold gets the same id every time.

    Commit/release ids carry the asking channel, so another channel's refused attempt
    (stored under its request_id) can never answer the owner's own request.
    """
    scope = f"{command}:{channel}" if channel is not None else command
    plain = f"{scope}:{hold_id}"
    if len(plain) <= limits.ID_CHARS_MAX:
        return plain
    digest = hashlib.sha256(plain.encode()).hexdigest()
    return f"{command}:{digest[: limits.ID_CHARS_MAX - len(command) - 1]}"


class EventBatch(BaseModel):
    """`POST /v1/events` (documented shape; the gateway validates items one by one)."""

    model_config = ConfigDict(extra="forbid")  # the route refuses any key but `events`

    events: list[Fact] = Field(min_length=1)


class EventsAccepted(BaseModel):
    accepted: int
    ingested_at: datetime


class ItemError(BaseModel):
    index: int | None = None
    field: str
    reason: str


class ErrorReply(BaseModel):
    detail: str
    errors: list[ItemError] = []


class HoldRequest(BaseModel):
    """`POST /v1/holds`: place a hold of `qty` for `channel` (at `location`, or by policy)."""

    model_config = REQUEST_CONFIG

    request_id: Token | None = None  # default: "reserve:{hold_id}"
    hold_id: Token
    sku: Sku
    channel: ChannelId
    qty: PositiveUnits
    ttl_s: TtlSeconds
    location: LocationId | None = None


class CommitRequest(BaseModel):
    model_config = REQUEST_CONFIG

    sku: Sku
    order_id: Token
    request_id: Token | None = None  # default: "commit:{hold_id}"


class ReleaseRequest(BaseModel):
    model_config = REQUEST_CONFIG

    sku: Sku
    request_id: Token | None = None  # default: "release:{hold_id}"


class HoldReply(BaseModel):
    """The ledger's decision; `available` is the published (never negative) figure."""

    request_id: str
    hold_id: str
    sku: str
    command: CommandName
    outcome: Literal["accepted", "rejected"]
    reason: RejectReason | None
    location: str | None
    available: int = Field(ge=0)
    available_after: SignedUnits
    decided_at: datetime

    @classmethod
    def of(cls, decision: Decision) -> HoldReply:
        return cls(
            **decision.model_dump(exclude={"available_after", "channel"}),
            available=max(0, decision.available_after),
            available_after=decision.available_after,
        )


class Availability(BaseModel):
    channel: str
    sku: str
    available: int = Field(ge=0)
    # "S-P" (SKU version - policy version) of the published figure; null if never published.
    version: str | None
    # Only with ?by=: the day asked about, and the last day the SKU's published horizon
    # covers (absent: nothing is expected, the figure is today's on every day).
    by: date | None = None
    through: date | None = None


class AvailabilityBatch(BaseModel):
    channel: str
    items: list[Availability]


class LocationAvailability(BaseModel):
    location: str
    available: int = Field(ge=0)


class Locations(BaseModel):
    sku: str
    locations: list[LocationAvailability]
    truncated: bool = False  # more location keys than settings.gateway.location_keys_max


class ChannelPolicyRequest(BaseModel):
    """`PUT /v1/policy/channels/{channel}`: the whole policy of one channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    locations: ChannelLocations
    buffer_units: int = Field(default=0, ge=0, le=limits.BUFFER_UNITS_MAX, strict=True)
    allocation_cap_units: int | None = Field(
        default=None, ge=0, le=limits.QTY_UNITS_MAX, strict=True
    )
    pickup_locations: ChannelLocations = ()
    strategy: Strategy = "priority"
    # Orders (docs/ORDERS.md): the ordered sourcing rules and the default fulfilment policy.
    sourcing_rules: list[RuleName] = Field(
        default=list(DEFAULT_RULES),
        min_length=1,
        max_length=limits.SOURCING_RULES_MAX,
        json_schema_extra={"uniqueItems": True},
    )
    max_shipments: int = Field(default=3, ge=1, le=limits.ORDER_SHIPMENTS_MAX, strict=True)
    allow_partial: bool = Field(default=False, strict=True)
    # Ascending `up_to_km`, the last one null (any distance): checked by the ledger (422).
    shipping_bands: list[ShippingBandRecord] = Field(
        default=list(DEFAULT_BANDS), min_length=1, max_length=limits.SHIPPING_BANDS_MAX
    )
    # Days the channel's carriers deliver: promise dates skip the others (docs/PROMISE.md).
    delivery_days: list[Weekday] = Field(
        default=list(DELIVERY_DAYS),
        min_length=1,
        max_length=7,
        json_schema_extra={"uniqueItems": True},
    )
    # Newer versions win in the ledger; default: the gateway's clock in microseconds.
    version: Version | None = Field(default=None, strict=True)


class Health(BaseModel):
    kafka: str
    redis: str
