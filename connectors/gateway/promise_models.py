"""Bodies of `GET /v1/promise`: the dates a shopper can be promised before ordering."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class PromiseOption(BaseModel):
    """One location that has the units now, and when they would reach the shopper."""

    location: str
    available: int = Field(ge=0)
    ship_on: date
    deliver_on: date | None  # to the shopper, or to the pickup store (ship-to-store)
    ready_at: datetime | None  # a pickup: when it can be collected (UTC)
    distance_km: int | None  # to the shopper or pickup store; null: a place is unknown


class PromiseReply(BaseModel):
    channel: str
    sku: str
    qty: int
    # Locations that have `qty` now, earliest first (at most `options_max`).
    options: list[PromiseOption]
    earliest: PromiseOption | None
    # No location has it now: the first day the channel's availability by date reaches
    # `qty` (null: not within the horizon, or nothing is expected).
    back_in_stock_on: date | None = None
