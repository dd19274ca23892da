"""Channel and location policy records (`tally.policy`) and the book they fold into."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger import limits
from ledger.errors import LimitExceeded
from ledger.fields import WIRE_CONFIG, ChannelId, LocationId, Timestamp, Version

Strategy = Literal["priority", "most_available"]
ChannelLocations = Annotated[
    tuple[LocationId, ...], Field(max_length=limits.LOCATIONS_PER_CHANNEL_MAX)
]


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
    # A figure entering 1..low_stock_units publishes a `low_stock` event (None: none).
    low_stock_units: int | None = Field(default=None, ge=1, le=limits.QTY_UNITS_MAX)
    version: Version
    updated_at: Timestamp

    @model_validator(mode="after")
    def _unique_locations(self) -> ChannelPolicy:
        for name in ("locations", "pickup_locations"):
            values: tuple[str, ...] = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: a location is listed twice")
        return self


class LocationPolicy(BaseModel):
    """Units held back at a location (for every SKU) by policy."""

    model_config = WIRE_CONFIG

    kind: Literal["location"] = "location"
    location: LocationId
    safety_stock_units: int = Field(ge=0, le=limits.SAFETY_STOCK_UNITS_MAX)
    version: Version
    updated_at: Timestamp


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
