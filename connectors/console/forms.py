"""The policy forms' text fields to and from the gateway's request models (which validate)."""

from __future__ import annotations

import re

from connectors.gateway.models import ChannelPolicyRequest
from connectors.gateway.order_models import Coordinates, LocationPolicyRequest
from ledger.policy import ChannelPolicy, LocationPolicy

_SEPARATORS = re.compile(r"[\s,]+")


class FormError(ValueError):
    """A field a person typed is not valid (the message names the field)."""


def text_values(current: ChannelPolicy | LocationPolicy | None) -> dict[str, str]:
    """The form's fields filled from the current record (empty for a new one)."""
    if isinstance(current, ChannelPolicy):
        cap = current.allocation_cap_units
        return {
            "locations": "\n".join(current.locations),
            "buffer_units": str(current.buffer_units),
            "allocation_cap_units": "" if cap is None else str(cap),
        }
    if isinstance(current, LocationPolicy):
        return {
            "name": current.name or "",
            "location_type": current.location_type,
            "latitude": _text(current.latitude),
            "longitude": _text(current.longitude),
            "safety_stock_units": str(current.safety_stock_units),
            "daily_order_capacity": _text(current.daily_order_capacity),
        }
    return {}


CHANNEL_FORM_FIELDS = frozenset({"locations", "buffer_units", "allocation_cap_units"})


def channel_request(values: dict[str, str], current: ChannelPolicy | None) -> ChannelPolicyRequest:
    """Pool, buffer and cap from the form; every other field the request has (pickup
    locations, strategy, sourcing rules, max shipments, partial fill, shipping bands) kept as
    it is (a new channel takes the defaults); the version is the clock's."""
    kept = {} if current is None else current.model_dump(
        mode="json",
        include=set(ChannelPolicyRequest.model_fields) - CHANNEL_FORM_FIELDS - {"version"},
    )  # fmt: skip
    return ChannelPolicyRequest.model_validate(
        {
            **kept,
            "locations": [n for n in _SEPARATORS.split(values.get("locations", "")) if n],
            "buffer_units": _whole(values, "buffer_units") or 0,
            "allocation_cap_units": _whole(values, "allocation_cap_units"),
        }
    )


def channel_fields_beyond_the_request(current: ChannelPolicy | None) -> dict[str, object]:
    """The current record's fields no request sets (e.g. `low_stock_units`): a save keeps
    them, where a PUT, which carries the whole record, resets them."""
    if current is None:
        return {}
    beyond = set(ChannelPolicy.model_fields) - set(ChannelPolicyRequest.model_fields)
    return current.model_dump(
        mode="json", include=beyond - {"kind", "channel", "version", "updated_at"}
    )


def location_request(
    values: dict[str, str], current: LocationPolicy | None
) -> LocationPolicyRequest:
    """Details and safety stock from the form; every other field kept as it is."""
    kept = {} if current is None else current.model_dump(
        mode="json",
        exclude={"kind", "location", "version", "updated_at", "latitude", "longitude", "name",
                 "location_type", "safety_stock_units", "daily_order_capacity"},
    )  # fmt: skip
    latitude, longitude = _number(values, "latitude"), _number(values, "longitude")
    if (latitude is None) != (longitude is None):
        raise FormError("latitude and longitude: give both or neither")
    point = None if latitude is None or longitude is None else Coordinates(
        latitude=latitude, longitude=longitude
    )  # fmt: skip
    return LocationPolicyRequest.model_validate(
        {
            **kept,
            "name": values.get("name", "").strip() or None,
            "location_type": values.get("location_type", "dc"),
            "coordinates": point,
            "safety_stock_units": _whole(values, "safety_stock_units") or 0,
            "daily_order_capacity": _whole(values, "daily_order_capacity"),
        }
    )


def _whole(values: dict[str, str], name: str) -> int | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise FormError(f"{name}: a whole number of 0 or more")
    return int(text)


def _number(values: dict[str, str], name: str) -> float | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FormError(f"{name}: a number") from None


def _text(value: object) -> str:
    return "" if value is None else str(value)
