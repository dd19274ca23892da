"""`PUT /v1/policy/channels/{channel}` and `PUT /v1/policy/locations/{location}` (admin):
a channel's or a location's whole record, produced to the policy topic.

The console's policy pages save through the same functions (`channel_record_json`,
`location_record_json`, `produce_record`), so a record saved there is the one PUT produces.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from base.settings import Settings
from connectors.gateway.access import Principal, require_admin
from connectors.gateway.backends import Bus
from connectors.gateway.errors import ERROR_RESPONSES, field_errors, refuse
from connectors.gateway.kafka_calls import produce
from connectors.gateway.models import ChannelPolicyRequest
from connectors.gateway.order_models import LocationPolicyRequest
from connectors.gateway.params import ChannelPath
from connectors.gateway.state import BusDep, SettingsDep
from ledger.codec import encode
from ledger.policy import ChannelPolicy, LocationPolicy

router = APIRouter()
R = TypeVar("R", ChannelPolicy, LocationPolicy)
CHANNEL_RECORD: TypeAdapter[ChannelPolicy] = TypeAdapter(ChannelPolicy)
LOCATION_RECORD: TypeAdapter[LocationPolicy] = TypeAdapter(LocationPolicy)


@router.put(
    "/v1/policy/channels/{channel}",
    status_code=202,
    response_model=ChannelPolicy,
    responses=ERROR_RESPONSES,
    summary="Set a channel's policy (admin); 202 once Kafka acknowledged the record",
)
async def put_channel_policy(
    channel: ChannelPath,
    body: ChannelPolicyRequest,
    who: Principal,
    settings: SettingsDep,
    bus: BusDep,
) -> ChannelPolicy | JSONResponse:
    require_admin(who)
    return await _record(bus, settings, channel_record_json(channel, body), CHANNEL_RECORD)


@router.put(
    "/v1/policy/locations/{location}",
    status_code=202,
    response_model=LocationPolicy,
    responses=ERROR_RESPONSES,
    summary="Set a location's record (admin): where it is, what it may do, capacity, costs, "
    "calendar, safety stock; 202 once Kafka acknowledged it",
)
async def put_location_policy(
    location: ChannelPath,
    body: LocationPolicyRequest,
    who: Principal,
    settings: SettingsDep,
    bus: BusDep,
) -> LocationPolicy | JSONResponse:
    require_admin(who)
    return await _record(bus, settings, location_record_json(location, body), LOCATION_RECORD)


def channel_record_json(channel: str, body: ChannelPolicyRequest) -> dict[str, Any]:
    """The whole channel record a request makes (version: the request's, else the clock)."""
    fields = body.model_dump(mode="json")
    fields["version"] = body.version if body.version is not None else time.time_ns() // 1000
    return {
        **fields,
        "kind": "channel",
        "channel": channel,
        "updated_at": datetime.now(UTC).isoformat(),
    }


def location_record_json(location: str, body: LocationPolicyRequest) -> dict[str, Any]:
    """The whole location record a request makes (version: the request's, else the clock)."""
    fields = body.record_fields()
    fields["version"] = body.version if body.version is not None else time.time_ns() // 1000
    return {
        **fields,
        "kind": "location",
        "location": location,
        "updated_at": datetime.now(UTC).isoformat(),
    }


async def produce_record(
    bus: Bus, settings: Settings, record: ChannelPolicy | LocationPolicy
) -> None:
    """Produce a validated record to the policy topic, keyed as the ledger expects."""
    name = record.channel if isinstance(record, ChannelPolicy) else record.location
    key = f"{record.kind}:{name}"
    await produce(bus, settings.topics.policy, [(key.encode(), encode(record))])


async def _record(
    bus: Bus,
    settings: Settings,
    record_json: dict[str, Any],
    adapter: TypeAdapter[R],
) -> R | JSONResponse:
    """Validate a whole policy record as the ledger will decode it, then produce it."""
    try:
        record = adapter.validate_json(orjson.dumps(record_json))
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        return refuse(
            422, f"invalid {record_json['kind']} policy", field_errors(details, blank_field="body")
        )
    await produce_record(bus, settings, record)
    return record
