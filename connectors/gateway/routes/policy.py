"""`PUT /v1/policy/channels/{channel}` (admin): a channel's whole policy, produced to Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from connectors.gateway.access import Principal, require_admin
from connectors.gateway.errors import ERROR_RESPONSES, field_errors, refuse
from connectors.gateway.kafka_calls import produce
from connectors.gateway.models import ChannelPolicyRequest
from connectors.gateway.params import ChannelPath
from connectors.gateway.state import BusDep, SettingsDep
from ledger.codec import encode
from ledger.policy import ChannelPolicy

router = APIRouter()
_POLICY: TypeAdapter[ChannelPolicy] = TypeAdapter(ChannelPolicy)


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
    fields = body.model_dump(mode="json")
    fields["version"] = body.version if body.version is not None else time.time_ns() // 1000
    record_json = {
        **fields,
        "kind": "channel",
        "channel": channel,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    try:
        record = _POLICY.validate_json(orjson.dumps(record_json))
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
        return refuse(422, "invalid channel policy", field_errors(details, blank_field="body"))
    key = f"channel:{channel}".encode()
    await produce(bus, settings.topics.policy, [(key, encode(record))])
    return record
