"""Bodies of the order routes (`/v1/orders`) and of a location's policy, built from the
ledger's field types so the edge refuses exactly what the order log would."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from ledger import limits
from ledger.fields import LocationId, Reason, Token, Version
from ledger.orders.records import (
    Latitude,
    Longitude,
    OrderLine,
    PickRejectReason,
    delivery_day_refused,
)
from ledger.policy import Capability, Cents, LocalTime, LocationType, Weekday

REQUEST_CONFIG = ConfigDict(frozen=True, strict=True, extra="forbid")
PostalCode = Annotated[
    str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]*$")
]


class ShipToPoint(BaseModel):
    model_config = REQUEST_CONFIG

    mode: Literal["ship"]
    latitude: Latitude
    longitude: Longitude


class ShipToPostalCode(BaseModel):
    """Ship to a postal code, placed with the gateway's postal-code table."""

    model_config = REQUEST_CONFIG

    mode: Literal["ship_to_postal_code"]
    postal_code: PostalCode


class PickUpAt(BaseModel):
    model_config = REQUEST_CONFIG

    mode: Literal["pickup"]
    location: LocationId


DeliveryRequest = Annotated[ShipToPoint | ShipToPostalCode | PickUpAt, Field(discriminator="mode")]


class OrderRequest(BaseModel):
    """`POST /v1/orders`: an order of the key's channel; placing it again is safe."""

    model_config = REQUEST_CONFIG

    order_id: Token
    # A list (not a tuple): FastAPI validates the parsed body, where strict mode takes a
    # JSON array as a list only.
    lines: list[OrderLine] = Field(min_length=1, max_length=limits.ORDER_LINES_MAX)
    delivery: DeliveryRequest
    # Defaults: the channel policy's `max_shipments` and `allow_partial`.
    max_shipments: int | None = Field(default=None, ge=1, le=limits.ORDER_SHIPMENTS_MAX)
    allow_partial: bool | None = None
    # Units no location has now may wait on supply expected there (docs/PROMISE.md).
    allow_backorder: bool = False

    @model_validator(mode="after")
    def _distinct_skus(self) -> OrderRequest:
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError("lines: a sku is listed twice (put its units in one line)")
        return self


class OrderAccepted(BaseModel):
    order_id: str
    ref: str
    status: str
    url: str


class CancelRequest(BaseModel):
    model_config = REQUEST_CONFIG

    reason: Reason | None = None


class PickRejectionRequest(BaseModel):
    """A location could not pick its shipment of the order."""

    model_config = REQUEST_CONFIG

    location: LocationId
    reason: PickRejectReason
    note: Reason | None = None


class ShipmentEventRequest(BaseModel):
    """The shipment at `location` was picked, shipped, or handed over (pickup)."""

    model_config = REQUEST_CONFIG

    location: LocationId


class DeliveredRequest(BaseModel):
    """The shipment from `location` reached the shopper (a pickup: was collected)."""

    model_config = REQUEST_CONFIG

    location: LocationId
    # The shopper's day it arrived (default: the gateway's UTC day). Not strict: the body is
    # validated parsed, where a JSON date is a string.
    delivered_on: date | None = Field(
        default=None,
        strict=False,
        description="The shopper's day: not after the gateway's UTC day + 1, nor more than "
        f"{limits.DELIVERY_REPORT_DAYS_MAX} days before it; otherwise refused with 422.",
    )

    @field_validator("delivered_on")
    @classmethod
    def _a_day_that_can_be(cls, day: date | None) -> date | None:
        refused = None if day is None else delivery_day_refused(day, datetime.now(UTC).date())
        if refused is not None:
            raise ValueError(refused)
        return day


class StepAccepted(BaseModel):
    order_id: str
    ref: str
    step: str


class OrderView(BaseModel):
    """An order as Tally knows it (`GET /v1/orders/{order_id}`); see docs/ORDERS.md."""

    model_config = ConfigDict(extra="allow")

    ref: str
    channel: str
    order_id: str
    status: str
    lines: list[dict[str, Any]]
    delivery: dict[str, Any]
    shipments: list[dict[str, Any]]
    unfilled: list[dict[str, Any]]
    rejections: list[dict[str, Any]]
    plans: list[dict[str, Any]]
    # The promise (docs/PROMISE.md): the latest delivery day of the order's shipments (a
    # pickup: when it is ready), as announced, and the one before it if it moved.
    promised: str | None = None
    promised_before: str | None = None
    version: int
    placed_at: str
    updated_at: str


DateText = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"}),
]
TimeZoneName = Annotated[
    str, Field(json_schema_extra={"enum": sorted(available_timezones())}, examples=["UTC"])
]
_UNIQUE: JsonDict = {"uniqueItems": True}


class Coordinates(BaseModel):
    model_config = REQUEST_CONFIG

    latitude: Latitude
    longitude: Longitude


class LocationPolicyRequest(BaseModel):
    """`PUT /v1/policy/locations/{location}`: a location's whole record (admin)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    safety_stock_units: int = Field(default=0, ge=0, le=limits.SAFETY_STOCK_UNITS_MAX, strict=True)
    name: str | None = Field(default=None, min_length=1, max_length=limits.NAME_CHARS_MAX)
    location_type: LocationType = "dc"
    coordinates: Coordinates | None = None
    capabilities: list[Capability] = Field(
        default=["ship"], max_length=3, json_schema_extra=_UNIQUE
    )
    daily_order_capacity: int | None = Field(
        default=None, ge=0, le=limits.DAILY_ORDERS_MAX, strict=True
    )
    handling_cost_per_order_cents: Cents = Field(default=0, strict=True)
    handling_cost_per_unit_cents: Cents = Field(default=0, strict=True)
    processing_minutes: int = Field(default=0, ge=0, le=limits.PROCESSING_MINUTES_MAX, strict=True)
    cutoff_local: LocalTime | None = None
    open_days: list[Weekday] = Field(
        default=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        min_length=1,
        max_length=7,
        json_schema_extra=_UNIQUE,
    )
    time_zone: TimeZoneName = "UTC"
    holidays: list[DateText] = Field(
        default=[], max_length=limits.HOLIDAYS_MAX, json_schema_extra=_UNIQUE
    )
    version: Version | None = Field(default=None, strict=True)

    def record_fields(self) -> dict[str, Any]:
        """The fields of the `location` policy record (coordinates flattened)."""
        fields = self.model_dump(mode="json", exclude={"coordinates", "version"})
        point = self.coordinates
        fields["latitude"] = None if point is None else point.latitude
        fields["longitude"] = None if point is None else point.longitude
        return fields
