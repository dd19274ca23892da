"""Holds: place (`POST /v1/holds`), commit and release; each waits for the ledger's decision.

201 is an accepted decision; a rejection is 409 with `available`, and another channel's
hold answers 404 like an unknown one (its existence is not revealed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from connectors.auth import KeyRecord
from connectors.gateway.access import Principal, require_any_channel, require_channel
from connectors.gateway.errors import ERROR_RESPONSES, HOLD_RESPONSES
from connectors.gateway.kafka_calls import ask
from connectors.gateway.models import (
    CommitRequest,
    HoldReply,
    HoldRequest,
    ReleaseRequest,
    derived_request_id,
)
from connectors.gateway.params import HoldIdPath
from connectors.gateway.state import BusDep
from ledger.commands import Commit, Decision, Release, Reserve

router = APIRouter()


@router.post(
    "/v1/holds",
    status_code=201,
    response_model=HoldReply,
    responses=ERROR_RESPONSES | {409: {"model": HoldReply}},
    summary="Place a hold; 201 held, 409 rejected (with `available`)",
)
async def place_hold(body: HoldRequest, who: Principal, bus: BusDep) -> HoldReply | JSONResponse:
    require_channel(who, body.channel)
    command = Reserve(
        request_id=body.request_id or derived_request_id("reserve", body.hold_id),
        hold_id=body.hold_id,
        sku=body.sku,
        channel=body.channel,
        qty=body.qty,
        ttl_s=body.ttl_s,
        location=body.location,
        issued_at=datetime.now(UTC),
    )
    return _reply(await ask(bus, command))


@router.post(
    "/v1/holds/{hold_id}/commit",
    status_code=201,
    response_model=HoldReply,
    responses=HOLD_RESPONSES,
    summary="Commit a pending hold to an order",
)
async def commit_hold(
    hold_id: HoldIdPath, body: CommitRequest, who: Principal, bus: BusDep
) -> HoldReply | JSONResponse:
    command = Commit(order_id=body.order_id, **_resolution("commit", hold_id, body, who))
    return _reply(await ask(bus, command))


@router.post(
    "/v1/holds/{hold_id}/release",
    status_code=201,
    response_model=HoldReply,
    responses=HOLD_RESPONSES,
    summary="Release a pending hold",
)
async def release_hold(
    hold_id: HoldIdPath, body: ReleaseRequest, who: Principal, bus: BusDep
) -> HoldReply | JSONResponse:
    command = Release(**_resolution("release", hold_id, body, who))
    return _reply(await ask(bus, command))


def _resolution(
    command: Literal["commit", "release"],
    hold_id: str,
    body: CommitRequest | ReleaseRequest,
    who: KeyRecord,
) -> dict[str, Any]:
    """The fields a commit and a release share; the key's channel must own the hold."""
    require_any_channel(who)
    return {
        "request_id": body.request_id or derived_request_id(command, hold_id, who.channel),
        "hold_id": hold_id,
        "sku": body.sku,
        "channel": who.channel,
        "issued_at": datetime.now(UTC),
    }


def _reply(decision: Decision) -> HoldReply | JSONResponse:
    reply = HoldReply.of(decision)
    if decision.outcome == "accepted":
        return reply
    # Another channel's hold is reported like an unknown one: its existence is not revealed.
    status = 404 if decision.reason in ("hold_not_found", "channel_mismatch") else 409
    return JSONResponse(reply.model_dump(mode="json"), status_code=status)
