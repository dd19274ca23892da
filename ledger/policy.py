"""Channel and location policy records (`tally.policy`) and the book they fold into."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger import limits
from ledger.errors import LimitExceeded
from ledger.fields import WIRE_CONFIG, ChannelId, LocationId, Timestamp, Version
from ledger.sourcing.model import DEFAULT_RULES, RuleName

Strategy = Literal["priority", "most_available"]
ChannelLocations = Annotated[
    tuple[LocationId, ...], Field(max_length=limits.LOCATIONS_PER_CHANNEL_MAX)
]
LocationType = Literal["dc", "store", "3pl", "drop_ship"]
Capability = Literal["ship", "pickup", "ship_from_store"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DELIVERY_DAYS: tuple[Weekday, ...] = WEEKDAYS[:6]  # a channel's default: Monday to Saturday
Cents = Annotated[int, Field(ge=0, le=limits.COST_CENTS_MAX)]
LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
LocalTime = Annotated[str, Field(pattern=LOCAL_TIME_PATTERN)]  # "HH:MM", 24 h


class ShippingBandRecord(BaseModel):
    """Shipping cost and transit days of one shipment up to `up_to_km` (null: any distance)."""

    model_config = WIRE_CONFIG

    up_to_km: int | None = Field(default=None, ge=1, le=limits.DISTANCE_KM_MAX)
    cents: Cents
    # Delivery days from shipping to the shopper (null: by distance, `default_transit_days`).
    transit_days: int | None = Field(default=None, ge=0, le=limits.TRANSIT_DAYS_MAX)

    def transit(self) -> int:
        return (
            default_transit_days(self.up_to_km) if self.transit_days is None else self.transit_days
        )


# A band's transit days when it does not say: (up to km, days), the last for any distance.
DEFAULT_TRANSIT_DAYS: tuple[tuple[int | None, int], ...] = (
    (50, 1),
    (300, 2),
    (1_000, 3),
    (None, 5),
)


def default_transit_days(up_to_km: int | None) -> int:
    for reach, days in DEFAULT_TRANSIT_DAYS:
        if reach is None or (up_to_km is not None and up_to_km <= reach):
            return days
    return DEFAULT_TRANSIT_DAYS[-1][1]


DEFAULT_BANDS = (
    ShippingBandRecord(up_to_km=50, cents=500),
    ShippingBandRecord(up_to_km=300, cents=800),
    ShippingBandRecord(up_to_km=1_000, cents=1_200),
    ShippingBandRecord(up_to_km=None, cents=2_000),
)


class ChannelPolicy(BaseModel):
    """Which locations feed a channel (in priority order), its buffer and cap."""

    model_config = WIRE_CONFIG

    kind: Literal["channel"] = "channel"
    channel: ChannelId
    locations: ChannelLocations
    buffer_units: int = Field(default=0, ge=0, le=limits.BUFFER_UNITS_MAX)
    allocation_cap_units: int | None = Field(default=None, ge=0, le=limits.QTY_UNITS_MAX)
    pickup_locations: ChannelLocations = ()
    strategy: Strategy = "priority"
    # Orders (docs/ORDERS.md): the ordered sourcing rules, and the default fulfilment policy.
    sourcing_rules: tuple[RuleName, ...] = Field(
        default=DEFAULT_RULES, min_length=1, max_length=limits.SOURCING_RULES_MAX
    )
    max_shipments: int = Field(default=3, ge=1, le=limits.ORDER_SHIPMENTS_MAX)
    allow_partial: bool = False
    shipping_bands: tuple[ShippingBandRecord, ...] = Field(
        default=DEFAULT_BANDS, min_length=1, max_length=limits.SHIPPING_BANDS_MAX
    )
    # Days the channel's carriers deliver (promise dates skip the others).
    delivery_days: tuple[Weekday, ...] = Field(default=DELIVERY_DAYS, min_length=1, max_length=7)
    # A figure entering 1..low_stock_units publishes a `low_stock` event (None: none).
    low_stock_units: int | None = Field(default=None, ge=1, le=limits.QTY_UNITS_MAX)
    version: Version
    updated_at: Timestamp

    @model_validator(mode="after")
    def _unique_locations(self) -> ChannelPolicy:
        for name in ("locations", "pickup_locations", "sourcing_rules", "delivery_days"):
            values: tuple[str, ...] = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: listed twice")
        return self

    @field_validator("shipping_bands")
    @classmethod
    def _bands_ascending(
        cls, bands: tuple[ShippingBandRecord, ...]
    ) -> tuple[ShippingBandRecord, ...]:
        bounded = [band.up_to_km for band in bands[:-1]]
        if any(km is None for km in bounded) or bands[-1].up_to_km is not None:
            raise ValueError("shipping_bands: only the last band is unbounded (up_to_km null)")
        if bounded != sorted(set(bounded)):  # type: ignore[type-var]
            raise ValueError("shipping_bands: up_to_km must ascend")
        return bands


class LocationPolicy(BaseModel):
    """A location: units held back (for every SKU), where it is and what it may do.

    Every field but the location, version and time has a default, so a record that only sets
    safety stock (wire v1) still decodes.
    """

    model_config = WIRE_CONFIG

    kind: Literal["location"] = "location"
    location: LocationId
    safety_stock_units: int = Field(default=0, ge=0, le=limits.SAFETY_STOCK_UNITS_MAX)
    name: str | None = Field(default=None, min_length=1, max_length=limits.NAME_CHARS_MAX)
    location_type: LocationType = "dc"
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capabilities: tuple[Capability, ...] = Field(default=("ship",), max_length=3)
    # Orders it may take per local day (null: no limit).
    daily_order_capacity: int | None = Field(default=None, ge=0, le=limits.DAILY_ORDERS_MAX)
    handling_cost_per_order_cents: Cents = 0
    handling_cost_per_unit_cents: Cents = 0
    processing_minutes: int = Field(default=0, ge=0, le=limits.PROCESSING_MINUTES_MAX)
    # Orders after it (local HH:MM) ship the next open day.
    cutoff_local: LocalTime | None = None
    open_days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1, max_length=7)
    time_zone: str = Field(default="UTC", min_length=1, max_length=limits.TIME_ZONE_CHARS_MAX)
    holidays: tuple[date, ...] = Field(default=(), max_length=limits.HOLIDAYS_MAX)
    version: Version
    updated_at: Timestamp

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone: unknown IANA time zone {zone!r}") from None
        return zone

    @model_validator(mode="after")
    def _coordinates_together(self) -> LocationPolicy:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude: give both or neither")
        for name in ("capabilities", "open_days", "holidays"):
            values: tuple[object, ...] = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: listed twice")
        return self

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)

    def may(self, capability: Capability) -> bool:
        return capability in self.capabilities


PolicyRecordUnion = ChannelPolicy | LocationPolicy
PolicyRecord = Annotated[PolicyRecordUnion, Field(discriminator="kind")]


class PolicyBook(BaseModel):
    """Every channel's and location's current policy; a pure value."""

    model_config = ConfigDict(frozen=True)

    channels: Mapping[str, ChannelPolicy] = Field(default_factory=dict)
    locations: Mapping[str, LocationPolicy] = Field(default_factory=dict)

    def safety_units(self, location: str) -> int:
        record = self.locations.get(location)
        return 0 if record is None else record.safety_stock_units


def apply_policy(book: PolicyBook, record: PolicyRecordUnion) -> PolicyBook:
    """The book after `record`; a record not newer than the current version changes nothing."""
    if isinstance(record, ChannelPolicy):
        current_channel = book.channels.get(record.channel)
        if current_channel is not None and current_channel.version >= record.version:
            return book
        if current_channel is None and len(book.channels) >= limits.CHANNELS_MAX:
            raise LimitExceeded(f"channel: more than {limits.CHANNELS_MAX} channels")
        channels = {**book.channels, record.channel: record}
        return PolicyBook(channels=channels, locations=book.locations)
    current_location = book.locations.get(record.location)
    if current_location is not None and current_location.version >= record.version:
        return book
    locations = {**book.locations, record.location: record}
    return PolicyBook(channels=book.channels, locations=locations)
